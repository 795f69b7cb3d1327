"""The statement spec: which survey answer codes become which first-person statement.

A :class:`StatementSpec` holds the value questions (each with a polar and a refined list of
options), the categories in benchmark order, the demographic entries, the benchmark parameters
(:mod:`indievalue.catalog.protocol`) and, for a survey other than WVS-7, where its data come
from (:class:`SurveyInfo`). It is validated on construction and identified by a version string
and a content hash, so a catalog records exactly which wording and groupings produced it.
The file format users write is read by :mod:`indievalue.catalog.spec_io`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

import numpy as np

from indievalue.catalog.protocol import WVS_PROTOCOL, ProtocolParams, check_protocol
from indievalue.errors import SpecError

Form = Literal["polar", "refined"]
COUNTRY_ENTRY = "B_COUNTRY"  # the demographic entry whose statements name the country
FORMS: tuple[Form, ...] = ("polar", "refined")

# Raw codes of value questions lie in this range; anything else is invalid by construction.
# (A survey coded otherwise, e.g. -1/0/1, maps its values into it with a question's `recode`.)
MAX_VALUE_CODE = 16


class SpecEntryError(SpecError):
    """A rule broken by one entry of the spec; ``entry_id`` (a question or demographic id) lets
    a loader say which file the entry came from."""

    def __init__(self, entry_id: str, where: str, rule: str):
        super().__init__(f"{where}: {rule}")
        self.entry_id = entry_id


@dataclass(frozen=True)
class Option:
    """One statement and the raw WVS codes that select it."""

    codes: tuple[int, ...]
    text: str


@dataclass(frozen=True)
class Question:
    """A value question with its options in both forms."""

    qid: str
    category: str
    qtype: str
    polar: tuple[Option, ...]
    refined: tuple[Option, ...]
    # Survey value -> code of the options, applied when the data are read; values not listed
    # become missing. None: the survey's values are the codes.
    recode: tuple[tuple[int, int], ...] | None = None

    def options(self, form: Form) -> tuple[Option, ...]:
        return self.polar if form == "polar" else self.refined

    @property
    def valid_codes(self) -> frozenset[int]:
        return frozenset(c for o in self.polar for c in o.codes)

    def refined_to_polar(self) -> tuple[int, ...]:
        """Polar option index of every refined option."""
        out = []
        for r in self.refined:
            out.append(next(i for i, p in enumerate(self.polar) if set(r.codes) <= set(p.codes)))
        return tuple(out)


@dataclass(frozen=True)
class Category:
    key: str
    name: str


@dataclass(frozen=True)
class DemographicEntry:
    """A demographic variable and how its raw code becomes a statement.

    Either ``options`` (groups of codes) or ``mapping`` (code -> name filled into ``template``)
    is set. ``dimension`` names the fairness dimension the entry defines, if any.
    """

    did: str
    column: str
    template: str
    label: str = ""
    dimension: str | None = None
    options: tuple[Option, ...] | None = None
    mapping: Mapping[int, str] | None = None
    map_name: str | None = None

    def statement(self, code: int) -> str | None:
        if self.options is not None:
            for o in self.options:
                if code in o.codes:
                    return o.text
            return None
        assert self.mapping is not None
        name = self.mapping.get(code)
        return None if name is None else self.template.replace("{answer}", name)

    def statement_table(self) -> dict[int, str]:
        """Every valid raw code with its statement."""
        if self.options is not None:
            return {c: o.text for o in self.options for c in o.codes}
        assert self.mapping is not None
        return {c: self.template.replace("{answer}", n) for c, n in self.mapping.items()}


@dataclass(frozen=True)
class SurveyInfo:
    """Where a survey's data come from and how to cite it (absent for WVS-7, whose files the
    WVS reader recognises by their own columns)."""

    name: str
    title: str
    id_column: str  # the column of person ids (integers)
    source: str  # where the data are published
    citation: str
    licence: str
    url: str | None = None
    persons: int | None = None  # respondents in the published data, for listings

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "id_column": self.id_column,
                "source": self.source, "citation": self.citation, "licence": self.licence,
                "url": self.url, "persons": self.persons}

    def note(self) -> str:
        """The REAL label's text: what the data are, where from, how to cite them."""
        return (f"{self.title}. Source: {self.source}. Cite: {self.citation}. Licence: "
                f"{self.licence}.")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SurveyInfo:
        persons = data.get("persons")
        return cls(str(data["name"]), str(data["title"]), str(data["id_column"]),
                   str(data["source"]), str(data["citation"]), str(data["licence"]),
                   None if data.get("url") is None else str(data["url"]),
                   None if persons is None else int(persons))


@dataclass(frozen=True)
class StatementSpec:
    """All questions, categories and demographic entries, validated."""

    version: str
    categories: tuple[Category, ...]
    questions: tuple[Question, ...]
    demographics: tuple[DemographicEntry, ...]
    source: str = "builtin"
    protocol: ProtocolParams = WVS_PROTOCOL
    survey: SurveyInfo | None = None
    _index: dict[str, int] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        validate(self)
        self._index.update({q.qid: i for i, q in enumerate(self.questions)})

    # -- lookups -------------------------------------------------------------------------
    @property
    def qids(self) -> list[str]:
        return [q.qid for q in self.questions]

    def question(self, qid: str) -> Question:
        try:
            return self.questions[self._index[qid]]
        except KeyError:
            raise SpecError(f"unknown question id {qid!r}") from None

    def index(self, qid: str) -> int:
        return self._index[qid]

    def category_name(self, key: str) -> str:
        return next(c.name for c in self.categories if c.key == key)

    def questions_in(self, category_key: str) -> list[Question]:
        return [q for q in self.questions if q.category == category_key]

    def n_statements(self, form: Form) -> int:
        return sum(len(q.options(form)) for q in self.questions)

    def option_counts(self, form: Form) -> np.ndarray:
        return np.array([len(q.options(form)) for q in self.questions], dtype=np.int64)

    @cached_property
    def demographic_columns(self) -> list[str]:
        """Raw columns the demographic entries read, in first-use order."""
        return list(dict.fromkeys(d.column for d in self.demographics))

    def demographic_codes(self, column: str) -> list[int]:
        """Every valid raw code of a demographic column (union over the entries reading it)."""
        return sorted({c for d in self.demographics if d.column == column
                       for c in d.statement_table()})

    def code_lut(self, form: Form) -> np.ndarray:
        """``lut[q, code]`` = option index of raw ``code`` for question ``q``, -1 if invalid."""
        lut = np.full((len(self.questions), MAX_VALUE_CODE + 1), -1, dtype=np.int8)
        for qi, q in enumerate(self.questions):
            for oi, o in enumerate(q.options(form)):
                lut[qi, list(o.codes)] = oi
        return lut

    # -- identity ------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready, fully expanded form of the spec (statements, not templates).

        ``survey``, ``protocol`` and a question's ``recode`` appear only when set (the
        protocol: when it is not the reference protocol), so a WVS-7 spec has the form and
        content hash it had before they existed."""
        out: dict[str, Any] = {"version": self.version}
        if self.survey is not None:
            out["survey"] = self.survey.to_dict()
        out["categories"] = [[c.key, c.name] for c in self.categories]
        if self.protocol != WVS_PROTOCOL:
            out["protocol"] = self.protocol.to_dict()
        out["questions"] = [_question_to_dict(q) for q in self.questions]
        out["demographics"] = [_demo_to_dict(d) for d in self.demographics]
        return out

    @cached_property
    def content_hash(self) -> str:
        blob = json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=False).encode()
        return "sha256:" + hashlib.sha256(blob).hexdigest()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "catalog") -> StatementSpec:
        """Inverse of :meth:`to_dict`."""
        try:
            return cls(
                version=str(data["version"]),
                categories=tuple(Category(k, n) for k, n in data["categories"]),
                questions=tuple(
                    Question(
                        qid=q["qid"],
                        category=q["category"],
                        qtype=q["type"],
                        polar=_options(q["polar"]),
                        refined=_options(q["refined"]),
                        recode=None if q.get("recode") is None else tuple(
                            (int(k), int(v)) for k, v in q["recode"].items()),
                    )
                    for q in data["questions"]
                ),
                demographics=tuple(_demo_from_dict(d) for d in data["demographics"]),
                source=source,
                protocol=ProtocolParams.from_dict(data["protocol"]) if "protocol" in data
                else WVS_PROTOCOL,
                survey=SurveyInfo.from_dict(data["survey"]) if data.get("survey") is not None
                else None,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise SpecError(f"malformed statement spec ({source}): {exc}") from None


def _options(pairs: Iterable[Any]) -> tuple[Option, ...]:
    return tuple(Option(tuple(int(c) for c in codes), str(text)) for codes, text in pairs)


def _question_to_dict(q: Question) -> dict[str, Any]:
    out: dict[str, Any] = {
        "qid": q.qid,
        "category": q.category,
        "type": q.qtype,
        "polar": [[list(o.codes), o.text] for o in q.polar],
        "refined": [[list(o.codes), o.text] for o in q.refined],
    }
    if q.recode is not None:
        out["recode"] = {str(k): v for k, v in q.recode}
    return out


def _demo_to_dict(d: DemographicEntry) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": d.did,
        "column": d.column,
        "template": d.template,
        "label": d.label,
        "dimension": d.dimension,
    }
    if d.options is not None:
        out["options"] = [[list(o.codes), o.text] for o in d.options]
    else:
        assert d.mapping is not None
        out["map_name"] = d.map_name
        out["map"] = {str(k): v for k, v in sorted(d.mapping.items())}
    return out


def _demo_from_dict(d: Mapping[str, Any]) -> DemographicEntry:
    return DemographicEntry(
        did=d["id"],
        column=d["column"],
        template=d["template"],
        label=d.get("label", ""),
        dimension=d.get("dimension"),
        options=_options(d["options"]) if "options" in d else None,
        mapping={int(k): v for k, v in d["map"].items()} if "map" in d else None,
        map_name=d.get("map_name"),
    )


# -- validation ----------------------------------------------------------------------------


def validate(spec: StatementSpec) -> None:
    """Raise :class:`SpecError` naming the first inconsistency found (a
    :class:`SpecEntryError` when one entry breaks a rule)."""
    cat_keys = [c.key for c in spec.categories]
    if len(set(cat_keys)) != len(cat_keys):
        raise SpecError("duplicate category keys")
    seen: set[str] = set()
    for q in spec.questions:
        def bad(rule: str, q: Question = q) -> SpecEntryError:
            return SpecEntryError(q.qid, f"question {q.qid}", rule)

        if q.qid in seen:
            raise bad("appears twice")
        seen.add(q.qid)
        if q.category not in cat_keys:
            raise bad(f"unknown category {q.category!r}")
        _validate_options(q.qid, q.polar, "polar")
        _validate_options(q.qid, q.refined, "refined")
        if q.valid_codes != frozenset(c for o in q.refined for c in o.codes):
            raise bad("polar and refined forms cover different codes")
        if max(q.valid_codes) > MAX_VALUE_CODE or min(q.valid_codes) < 0:
            raise bad(f"codes must lie in 0..{MAX_VALUE_CODE} (map other survey values with "
                      "recode)")
        _validate_nesting(q)
        if q.recode is not None:
            _validate_recode(q)
    dids: set[str] = set()
    for d in spec.demographics:
        where = f"demographic entry {d.did}"
        if d.did in dids:
            raise SpecEntryError(d.did, where, "appears twice")
        dids.add(d.did)
        if (d.options is None) == (d.mapping is None):
            raise SpecEntryError(d.did, where, "give exactly one of options / map")
        if d.options is not None:
            _validate_options(d.did, d.options, "demographic")
        elif not d.mapping:
            raise SpecEntryError(d.did, where, "empty map")
        elif "{answer}" not in d.template:
            raise SpecEntryError(d.did, where, "template lacks {answer}")
    check_protocol(spec)


def _validate_recode(q: Question) -> None:
    assert q.recode is not None
    where = f"question {q.qid}"
    values = [v for v, _ in q.recode]
    if len(set(values)) != len(values):
        raise SpecEntryError(q.qid, where, "recode lists a survey value twice")
    stray = [c for _, c in q.recode if c not in q.valid_codes]
    if stray:
        raise SpecEntryError(q.qid, where, f"recode maps to {stray[0]}, which is no option's "
                             "code")


def _validate_options(qid: str, options: tuple[Option, ...], form: str) -> None:
    where = f"{qid} ({form})"

    def bad(rule: str) -> SpecEntryError:
        return SpecEntryError(qid, where, rule)

    if len(options) < 2:
        raise bad("needs at least two options")
    codes = [c for o in options for c in o.codes]
    if any(not o.codes for o in options):
        raise bad("an option has no codes")
    if len(codes) != len(set(codes)):
        raise bad("a code belongs to two options")
    texts = [o.text for o in options]
    if len(set(texts)) != len(texts):
        raise bad("two options have the same statement")
    for t in texts:
        # A closing abbreviation ("... Facebook, Twitter etc.", reference Q217-Q220) is not a
        # sentence-final period.
        if (not t.strip() or t != t.strip() or "\n" in t or "\r" in t
                or (t.endswith(".") and not t.endswith(" etc."))):
            raise bad(f"malformed statement {t!r} (one line, no padding, no closing period)")


def _validate_nesting(q: Question) -> None:
    """Every refined option lies inside one polar option, in non-decreasing polar order."""
    where = f"question {q.qid}"

    def bad(rule: str) -> SpecEntryError:
        return SpecEntryError(q.qid, where, rule)

    last = 0
    covered: dict[int, set[int]] = {}
    for r in q.refined:
        owners = [i for i, p in enumerate(q.polar) if set(r.codes) & set(p.codes)]
        if len(owners) != 1 or not set(r.codes) <= set(q.polar[owners[0]].codes):
            raise bad(f"refined option {r.text!r} straddles polar options")
        if owners[0] < last:
            raise bad("refined options are out of polar order")
        last = owners[0]
        covered.setdefault(owners[0], set()).update(r.codes)
    for i, p in enumerate(q.polar):
        if covered.get(i) != set(p.codes):
            raise bad(f"polar option {p.text!r} is not a union of refined")
