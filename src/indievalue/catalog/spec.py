"""The statement spec: which WVS answer codes become which first-person statement.

A :class:`StatementSpec` holds the value questions (each with a polar and a refined list of
options), the categories in benchmark order and the demographic entries. It is validated on
construction and identified by a version string and a content hash, so a catalog records
exactly which wording and groupings produced it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

import numpy as np

from indievalue.errors import SpecError

Form = Literal["polar", "refined"]
COUNTRY_ENTRY = "B_COUNTRY"  # the demographic entry whose statements name the country
FORMS: tuple[Form, ...] = ("polar", "refined")

# Raw codes of value questions lie in this range; anything else is invalid by construction.
MAX_VALUE_CODE = 16


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
class StatementSpec:
    """All questions, categories and demographic entries, validated."""

    version: str
    categories: tuple[Category, ...]
    questions: tuple[Question, ...]
    demographics: tuple[DemographicEntry, ...]
    source: str = "builtin"
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
        """A JSON-ready, fully expanded form of the spec (statements, not templates)."""
        return {
            "version": self.version,
            "categories": [[c.key, c.name] for c in self.categories],
            "questions": [
                {
                    "qid": q.qid,
                    "category": q.category,
                    "type": q.qtype,
                    "polar": [[list(o.codes), o.text] for o in q.polar],
                    "refined": [[list(o.codes), o.text] for o in q.refined],
                }
                for q in self.questions
            ],
            "demographics": [_demo_to_dict(d) for d in self.demographics],
        }

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
                    )
                    for q in data["questions"]
                ),
                demographics=tuple(_demo_from_dict(d) for d in data["demographics"]),
                source=source,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise SpecError(f"malformed statement spec ({source}): {exc}") from None


def _options(pairs: Iterable[Any]) -> tuple[Option, ...]:
    return tuple(Option(tuple(int(c) for c in codes), str(text)) for codes, text in pairs)


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
    """Raise :class:`SpecError` naming the first inconsistency found."""
    cat_keys = [c.key for c in spec.categories]
    if len(set(cat_keys)) != len(cat_keys):
        raise SpecError("duplicate category keys")
    seen: set[str] = set()
    for q in spec.questions:
        if q.qid in seen:
            raise SpecError(f"question {q.qid} appears twice")
        seen.add(q.qid)
        if q.category not in cat_keys:
            raise SpecError(f"question {q.qid}: unknown category {q.category!r}")
        _validate_options(q.qid, q.polar, "polar")
        _validate_options(q.qid, q.refined, "refined")
        if q.valid_codes != frozenset(c for o in q.refined for c in o.codes):
            raise SpecError(f"question {q.qid}: polar and refined forms cover different codes")
        if max(q.valid_codes) > MAX_VALUE_CODE or min(q.valid_codes) < 0:
            raise SpecError(f"question {q.qid}: codes must lie in 0..{MAX_VALUE_CODE}")
        _validate_nesting(q)
    dids: set[str] = set()
    for d in spec.demographics:
        if d.did in dids:
            raise SpecError(f"demographic entry {d.did} appears twice")
        dids.add(d.did)
        if (d.options is None) == (d.mapping is None):
            raise SpecError(f"demographic entry {d.did}: give exactly one of options / map")
        if d.options is not None:
            _validate_options(d.did, d.options, "demographic")
        elif not d.mapping:
            raise SpecError(f"demographic entry {d.did}: empty map")
        elif "{answer}" not in d.template:
            raise SpecError(f"demographic entry {d.did}: template lacks {{answer}}")


def _validate_options(qid: str, options: tuple[Option, ...], form: str) -> None:
    if len(options) < 2:
        raise SpecError(f"{qid} ({form}): needs at least two options")
    codes = [c for o in options for c in o.codes]
    if any(not o.codes for o in options):
        raise SpecError(f"{qid} ({form}): an option has no codes")
    if len(codes) != len(set(codes)):
        raise SpecError(f"{qid} ({form}): a code belongs to two options")
    texts = [o.text for o in options]
    if len(set(texts)) != len(texts):
        raise SpecError(f"{qid} ({form}): two options have the same statement")
    for t in texts:
        # A closing abbreviation ("... Facebook, Twitter etc.", reference Q217-Q220) is not a
        # sentence-final period.
        if not t.strip() or t != t.strip() or (t.endswith(".") and not t.endswith(" etc.")):
            raise SpecError(f"{qid} ({form}): malformed statement {t!r}")


def _validate_nesting(q: Question) -> None:
    """Every refined option lies inside one polar option, in non-decreasing polar order."""
    last = 0
    covered: dict[int, set[int]] = {}
    for r in q.refined:
        owners = [i for i, p in enumerate(q.polar) if set(r.codes) & set(p.codes)]
        if len(owners) != 1 or not set(r.codes) <= set(q.polar[owners[0]].codes):
            raise SpecError(f"question {q.qid}: refined option {r.text!r} straddles polar options")
        if owners[0] < last:
            raise SpecError(f"question {q.qid}: refined options are out of polar order")
        last = owners[0]
        covered.setdefault(owners[0], set()).update(r.codes)
    for i, p in enumerate(q.polar):
        if covered.get(i) != set(p.codes):
            raise SpecError(f"question {q.qid}: polar option {p.text!r} is not a union of refined")
