"""The benchmark parameters a statement spec carries: how many probe setups and probes, how
many demonstrations, and how the evaluation persons are drawn.

They belong to the spec because they depend on the survey: WVS-7 has 253 value questions and
~97,000 respondents on six continents, a personality inventory 25 items and a few thousand
respondents. :data:`WVS_PROTOCOL` holds the values of the reference protocol (3 setups of 3
probes per category, 200 demonstrations, 800 evaluation persons balanced over continents with
large religion groups capped); a spec without a protocol section (the built-in one, and every
catalog written before the section existed) uses them, and then leaves the section out of its
content hash, so those catalogs keep their identity.

The eval set is drawn in four steps (``benchmark/evalset.py``):

1. eligible: valid on every probe question of every setup, with ``min_valid_answers`` valid
   answers;
2. with ``strata``: every eligible person of a ``take_all`` group is kept; each of the other
   ``groups`` gets an equal quota ``floor((size - kept) / n_groups) + 1`` drawn from its
   eligible persons with ``min_valid_demographics`` valid demographic entries, after ``cap``
   (if any) thinned each of its listed code groups to ``round(per_group * size / at_size)``;
   without strata, every eligible person with enough demographic entries is a candidate;
3. ``size`` persons are drawn from the union.

A group is named by its name in the strata entry's code map (``Oceania``), or, for an entry
with options, by the option's statement (``I am a woman``): :func:`group_labels`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from indievalue.errors import SpecError

if TYPE_CHECKING:
    from indievalue.catalog.spec import DemographicEntry, StatementSpec

# Episode keys pack (person, setup, probe question) as ``(pid * 4 + setup) * 512 + q`` with
# q = 511 marking a protocol-A episode (benchmark/episodes.py): at most 4 setups, 511 questions.
MAX_SETUPS = 4
MAX_QUESTIONS = 511
MAX_DEMOS = 200  # the benchmark's largest demonstration count (benchmark/episodes.py)


@dataclass(frozen=True)
class Strata:
    """Balance the eval set over the groups of one demographic entry."""

    entry: str  # demographic entry id
    take_all: tuple[str, ...] = ()  # groups whose eligible persons all enter the final draw
    groups: tuple[str, ...] | None = None  # groups with equal quotas; None: all other statements


@dataclass(frozen=True)
class Cap:
    """Thin large code groups of one demographic column inside each stratum."""

    column: str  # raw demographic column
    codes: tuple[int, ...]  # each code is one capped group
    per_group: int  # the cap at an eval set of ``at_size`` persons (scaled with the size)
    at_size: int

    def limit(self, size: int) -> int:
        # Written as the reference computes it (80 * size / 800), so a float tie rounds alike.
        return max(1, round(self.per_group * size / self.at_size))


@dataclass(frozen=True)
class EvalSetParams:
    size: int
    min_valid_demographics: int = 0
    strata: Strata | None = None
    cap: Cap | None = None


@dataclass(frozen=True)
class ProtocolParams:
    """Probe setups, demonstrations and eval set of a survey's benchmark."""

    setups: int  # probe setups
    probes_per_category: int  # probes each setup takes from every category
    demos: int  # demonstrations per episode in the main setting
    min_valid_answers: int  # eligibility: valid answers a person needs
    eval_set: EvalSetParams
    demo_counts: tuple[int, ...] = field(default=())  # the demonstration-count sweep

    def to_dict(self) -> dict[str, Any]:
        ev = self.eval_set
        return {
            "setups": self.setups,
            "probes_per_category": self.probes_per_category,
            "demos": self.demos,
            "demo_counts": list(self.demo_counts),
            "min_valid_answers": self.min_valid_answers,
            "eval_set": {
                "size": ev.size,
                "min_valid_demographics": ev.min_valid_demographics,
                "strata": None if ev.strata is None else {
                    "entry": ev.strata.entry, "take_all": list(ev.strata.take_all),
                    "groups": None if ev.strata.groups is None else list(ev.strata.groups)},
                "cap": None if ev.cap is None else {
                    "column": ev.cap.column, "codes": list(ev.cap.codes),
                    "per_group": ev.cap.per_group, "at_size": ev.cap.at_size},
            },
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProtocolParams:
        """Inverse of :meth:`to_dict` (also reads the YAML section: optional keys may be
        absent). Raises KeyError / TypeError / ValueError on a malformed mapping."""
        ev = data["eval_set"]
        strata = ev.get("strata")
        cap = ev.get("cap")
        return cls(
            setups=_int(data["setups"]),
            probes_per_category=_int(data["probes_per_category"]),
            demos=_int(data["demos"]),
            min_valid_answers=_int(data["min_valid_answers"]),
            demo_counts=tuple(_int(d) for d in data.get("demo_counts") or ()),
            eval_set=EvalSetParams(
                size=_int(ev["size"]),
                min_valid_demographics=_int(ev.get("min_valid_demographics", 0)),
                strata=None if strata is None else Strata(
                    entry=str(strata["entry"]),
                    take_all=tuple(str(g) for g in strata.get("take_all") or ()),
                    groups=None if strata.get("groups") is None
                    else tuple(str(g) for g in strata["groups"])),
                cap=None if cap is None else Cap(
                    column=str(cap["column"]), codes=tuple(_int(c) for c in cap["codes"]),
                    per_group=_int(cap["per_group"]), at_size=_int(cap["at_size"])),
            ),
        )


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{value!r} is not an integer")
    return value


# The reference protocol (PROTOCOL §3.1-3.3): 3 setups x 13 categories x 3 probes; 200
# demonstrations + 39 probes = 239 valid answers; 800 persons: all eligible Oceania persons and
# an equal quota per other continent among persons with >= 24 valid demographic entries, the
# religion groups (Q289: none, Catholic, Protestant, Orthodox, Muslim, Buddhist, other
# Christian, other) capped at 80 per continent at 800 persons. Jewish (4) and Hindu (6) persons
# and those without a religion code are never capped.
WVS_PROTOCOL = ProtocolParams(
    setups=3,
    probes_per_category=3,
    demos=200,
    min_valid_answers=239,
    demo_counts=(0, 50, 100, 150, 200),
    eval_set=EvalSetParams(
        size=800,
        min_valid_demographics=24,
        strata=Strata(
            entry="B_COUNTRY_to_continent",
            take_all=("Oceania",),
            groups=("Africa", "Asia", "Europe", "North America", "South America"),
        ),
        cap=Cap(column="Q289", codes=(0, 1, 2, 3, 5, 7, 8, 9), per_group=80, at_size=800),
    ),
)


def group_labels(entry: DemographicEntry) -> dict[int, str]:
    """Raw code -> group name of a strata entry: its map's name, or its option's statement."""
    if entry.mapping is not None:
        return dict(entry.mapping)
    return entry.statement_table()


def strata_groups(spec: StatementSpec) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(take-all groups, quota groups) of the spec's strata, in draw order; ((), ()) without
    strata. Default quota groups: every group of the entry not taken whole, in the entry's
    option order, or sorted by name for a code map."""
    strata = spec.protocol.eval_set.strata
    if strata is None:
        return (), ()
    if strata.groups is not None:
        return strata.take_all, strata.groups
    entry = next(d for d in spec.demographics if d.did == strata.entry)
    names = list(dict.fromkeys(group_labels(entry).values()))
    if entry.mapping is not None:
        names.sort()
    return strata.take_all, tuple(n for n in names if n not in strata.take_all)


def check_protocol(spec: StatementSpec) -> None:
    """Raise :class:`SpecError` (naming ``protocol``) if the parameters cannot work with the
    spec's questions, categories and demographic entries.

    Only a spec that declares its own protocol is checked: the reference protocol is implied
    for WVS-7 specs, including partial ones (``--statements-from`` with a few questions) that
    build a catalog but are never benchmarked."""
    p = spec.protocol
    if p == WVS_PROTOCOL:
        return
    n_q = len(spec.questions)

    def bad(rule: str) -> SpecError:
        return SpecError(f"protocol: {rule}")

    if n_q > MAX_QUESTIONS:
        raise bad(f"at most {MAX_QUESTIONS} value questions are supported (the spec has {n_q})")
    if not 1 <= p.setups <= MAX_SETUPS:
        raise bad(f"setups must be 1..{MAX_SETUPS} (got {p.setups})")
    if p.probes_per_category < 1:
        raise bad(f"probes_per_category must be at least 1 (got {p.probes_per_category})")
    for cat in spec.categories:
        members = sum(q.category == cat.key for q in spec.questions)
        if 0 < members < p.probes_per_category:
            raise bad(f"category {cat.key} has {members} question(s), fewer than "
                      f"probes_per_category {p.probes_per_category}")
    probes = p.probes_per_category * sum(
        any(q.category == c.key for q in spec.questions) for c in spec.categories)
    if probes >= n_q:
        raise bad(f"each setup would probe {probes} of the {n_q} questions, leaving none to "
                  "demonstrate")
    if not 1 <= p.demos <= MAX_DEMOS:
        raise bad(f"demos must be 1..{MAX_DEMOS} (got {p.demos})")
    for d in p.demo_counts:
        if not 0 <= d <= p.demos:
            raise bad(f"demo_counts: {d} is outside 0..demos ({p.demos})")
    if not 0 <= p.min_valid_answers <= n_q:
        raise bad(f"min_valid_answers must be 0..{n_q} (got {p.min_valid_answers})")
    ev = p.eval_set
    if ev.size < 1:
        raise bad(f"eval_set.size must be at least 1 (got {ev.size})")
    if not 0 <= ev.min_valid_demographics <= len(spec.demographics):
        raise bad(f"eval_set.min_valid_demographics must be 0..{len(spec.demographics)} "
                  f"(got {ev.min_valid_demographics})")
    if ev.strata is not None:
        entry = next((d for d in spec.demographics if d.did == ev.strata.entry), None)
        if entry is None:
            raise bad(f"eval_set.strata.entry: no demographic entry {ev.strata.entry!r}")
        known = set(group_labels(entry).values())
        take_all, groups = strata_groups(spec)
        for group in (*take_all, *groups):
            if group not in known:
                kind = "a name in the code map" if entry.mapping is not None \
                    else "an option statement"
                raise bad(f"eval_set.strata: {group!r} is not {kind} of entry {entry.did}")
        if set(take_all) & set(groups) or len(set(groups)) != len(groups):
            raise bad("eval_set.strata: a group is listed twice")
        if not groups and not take_all:
            raise bad("eval_set.strata: no groups")
    if ev.cap is not None:
        if ev.cap.column not in spec.demographic_columns:
            raise bad(f"eval_set.cap.column: {ev.cap.column!r} is not a column a demographic "
                      "entry reads")
        if ev.cap.per_group < 1 or ev.cap.at_size < 1:
            raise bad("eval_set.cap: per_group and at_size must be at least 1")
