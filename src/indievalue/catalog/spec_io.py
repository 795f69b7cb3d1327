"""Loading a :class:`StatementSpec`: a survey spec (one YAML file or a spec directory, the
format of :mod:`indievalue.catalog.spec_format`), the built-in WVS-7 spec (a spec directory
shipped as package data), or metadata files in the reference implementation's JSONL layout
(``--statements-from DIR``).

Every problem is one :class:`SpecError` line naming the file, the entry and the rule, e.g.
``gss.yaml: values[2] (natcity): polar[1][0]: Input should be a valid integer`` or
``gss.yaml: question natcity (polar): a code belongs to two options``.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import TypeAdapter, ValidationError

from indievalue.catalog.protocol import WVS_PROTOCOL, ProtocolParams
from indievalue.catalog.spec import (
    Category,
    DemographicEntry,
    Option,
    Question,
    SpecEntryError,
    StatementSpec,
    SurveyInfo,
)
from indievalue.catalog.spec_format import (
    DemographicModel,
    OptionPair,
    SpecFileModel,
    ValueBlockModel,
)
from indievalue.errors import SpecError

REFERENCE_FILES = {
    "polar": "statements_meta_data.jsonl",
    "refined": "refined_statements_meta_data.jsonl",
    "demographics": "demographics_meta_data.jsonl",
}
HEADER_FILE = "spec.yaml"
DEMOGRAPHICS_FILE = "demographics.yaml"
MAX_RANGE = 10_000  # codes one "lo..hi" item may expand to
PLACEHOLDER = re.compile(r"{[^{}]*}")


# libyaml's loader when available: ten times faster, and every CLI command loads the spec.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
M = TypeVar("M")


def _load_yaml(text: str) -> Any:
    return yaml.load(text, Loader=_YAML_LOADER)


def _data_dir() -> Traversable:
    return resources.files("indievalue.catalog") / "data"


@lru_cache(maxsize=1)
def builtin_spec() -> StatementSpec:
    """The spec shipped with the package (validated, cached)."""
    return _load_tree(_data_dir(), label=lambda part: part, source="builtin")


def load_spec(path: str | Path) -> StatementSpec:
    """Read a survey spec: a YAML file with every section, or a directory holding
    ``spec.yaml`` (and optionally ``values/*.yaml``, ``demographics.yaml``, ``maps/*.tsv``)."""
    p = Path(path)
    if p.is_dir():
        if not (p / HEADER_FILE).is_file():
            raise SpecError(f"{p}: a spec directory needs a {HEADER_FILE}")
        return _load_tree(p, label=lambda part: str(p / part), source=str(p))
    if not p.exists():
        raise SpecError(f"{p}: no such file or directory")
    return _load_tree(p.parent, label=lambda part: str(p.parent / part), source=str(p),
                      header=p.name, single_file=True)


# -- reading the files ---------------------------------------------------------------------


@dataclass
class _Parts:
    """The sections of a spec as read, each entry with the file (and index) it came from."""

    header: SpecFileModel
    header_file: str
    blocks: list[tuple[ValueBlockModel, str, int]] = field(default_factory=list)
    demos: list[tuple[DemographicModel, str, int]] = field(default_factory=list)
    maps: dict[str, dict[int, str]] = field(default_factory=dict)


def _read_text(node: Traversable, name: str) -> str:
    try:
        return node.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(f"{name}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"{name}: cannot read ({exc})") from None


def _yaml_file(node: Traversable, name: str) -> Any:
    try:
        return _load_yaml(_read_text(node, name))
    except yaml.YAMLError as exc:
        first = " ".join(str(exc).split())[:200]
        raise SpecError(f"{name}: not a readable YAML file ({first})") from None


def _check(adapter: TypeAdapter[M], data: Any, name: str, prefix: tuple[Any, ...] = ()) -> M:
    try:
        return adapter.validate_python(data)
    except ValidationError as exc:
        raise SpecError(f"{name}: {_explain(exc, data, prefix)}") from None


def _explain(exc: ValidationError, data: Any, prefix: tuple[Any, ...]) -> str:
    """The first error as ``<entry>: <place>: <rule>``; the entry named by its id."""
    err = exc.errors()[0]
    # A union's member name (``int``, ``constrained-str``) is not a place in the file.
    loc = [p for p in err["loc"] if isinstance(p, int) or p not in _UNION_TAGS]
    full = [*prefix, *loc]
    entry = ""
    if len(full) >= 2 and full[0] in ("values", "demographics") and isinstance(full[1], int):
        items = data.get(full[0]) if isinstance(data, dict) else data
        entry = f"{full[0]}[{full[1]}]" + _entry_id(items, full[1])
        full = full[2:]
    elif prefix == () and loc and isinstance(loc[0], int):  # a list file (values/*.yaml)
        entry = f"entry [{loc[0]}]" + _entry_id(data, loc[0])
        full = full[1:]
    kind = err["type"]
    if kind == "missing":
        rule = f"missing key {full[-1]!r}" if full else "missing key"
        full = full[:-1]
    elif kind == "extra_forbidden":
        rule = f"unknown key {full[-1]!r}" if full else "unknown key"
        full = full[:-1]
    else:
        rule = err["msg"]
    place = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in full).lstrip(".")
    return ": ".join(x for x in (entry, place, rule) if x)


_UNION_TAGS = {"int", "str", "constrained-str", "list[...]", "dict[int,str]", "none",
               "tuple[...]", "function-after[...]"}


def _entry_id(items: Any, i: int) -> str:
    try:
        item = items[i]
        name = item.get("ids", [None])[0] if "ids" in item else item.get("id")
    except (TypeError, IndexError, KeyError, AttributeError):
        return ""
    return f" ({name})" if isinstance(name, str) else ""


_HEADER = TypeAdapter(SpecFileModel)
_BLOCKS = TypeAdapter(list[ValueBlockModel])
_DEMOS = TypeAdapter(list[DemographicModel])


def _children(node: Traversable, sub: str, suffix: str) -> list[Traversable]:
    folder = node / sub
    if not folder.is_dir():
        return []
    return sorted((c for c in folder.iterdir() if c.name.endswith(suffix) and c.is_file()),
                  key=lambda c: c.name)


def _read_parts(root: Traversable, label: Callable[[str], str], header: str,
                single_file: bool) -> _Parts:
    head_name = label(header)
    data = _yaml_file(root / header, head_name)
    if not isinstance(data, dict):
        raise SpecError(f"{head_name}: expected a mapping of spec sections")
    parts = _Parts(_check(_HEADER, data, head_name), head_name)
    h = parts.header
    parts.blocks = [(b, head_name, i) for i, b in enumerate(h.values or [])]
    parts.demos = [(d, head_name, i) for i, d in enumerate(h.demographics or [])]
    parts.maps = {k: dict(v) for k, v in (h.maps or {}).items()}
    if not single_file:
        for node in _children(root, "values", ".yaml"):
            name = label(f"values/{node.name}")
            blocks: list[ValueBlockModel] = _check(_BLOCKS, _yaml_file(node, name) or [], name)
            parts.blocks += [(b, name, i) for i, b in enumerate(blocks)]
        demo_node = root / DEMOGRAPHICS_FILE
        if demo_node.is_file():
            name = label(DEMOGRAPHICS_FILE)
            if h.demographics is not None:
                raise SpecError(f"{name}: the demographics are also given in {head_name}; "
                                "keep one")
            demos: list[DemographicModel] = _check(_DEMOS, _yaml_file(demo_node, name) or [],
                                                   name)
            parts.demos = [(d, name, i) for i, d in enumerate(demos)]
    return parts


def _read_map(root: Traversable, name: str, label: Callable[[str], str]) -> dict[int, str]:
    where = label(f"maps/{name}.tsv")
    text = _read_text(root / "maps" / f"{name}.tsv", where)
    rows = list(csv.reader(text.splitlines(), delimiter="\t"))
    out: dict[int, str] = {}
    for n, row in enumerate(rows[1:], 2):
        if not row:
            continue
        try:
            code, value = row
            out[int(code)] = value
        except ValueError:
            raise SpecError(f"{where}:{n}: expected 'code<TAB>name' with an integer code") \
                from None
    return out


# -- building the spec ---------------------------------------------------------------------


def _load_tree(root: Traversable, label: Callable[[str], str], source: str,
               header: str = HEADER_FILE, single_file: bool = False) -> StatementSpec:
    parts = _read_parts(root, label, header, single_file)
    h = parts.header
    if h.survey is not None and h.protocol is None:
        raise SpecError(f"{parts.header_file}: protocol: missing section (a survey spec needs "
                        "its setups, demonstrations and eval set)")
    if not parts.blocks:
        raise SpecError(f"{parts.header_file}: values: no value questions")
    origin: dict[str, tuple[str, str]] = {}  # entry id -> (file, entry label)
    questions: list[Question] = []
    for block, name, i in parts.blocks:
        where = f"{name}: " + (f"values[{i}]" if name == parts.header_file else f"entry [{i}]") \
            + f" ({block.ids[0]})"
        for q in _expand_block(block, where):
            origin.setdefault(q.qid, (name, where))
            questions.append(q)
    demographics = []
    for entry, name, i in parts.demos:
        where = f"{name}: demographics[{i}] ({entry.id})" if name == parts.header_file \
            else f"{name}: entry [{i}] ({entry.id})"
        origin.setdefault(entry.id, (name, where))
        demographics.append(_demographic(entry, parts, root, label, where))
    try:
        return StatementSpec(
            version=h.version,
            categories=tuple(Category(k, n) for k, n in h.categories),
            questions=tuple(questions),
            demographics=tuple(demographics),
            source=source,
            protocol=WVS_PROTOCOL if h.protocol is None
            else ProtocolParams.from_dict(h.protocol.model_dump()),
            survey=None if h.survey is None else SurveyInfo(**h.survey.model_dump()),
        )
    except SpecEntryError as exc:
        file = origin.get(exc.entry_id, (parts.header_file, ""))[0]
        raise SpecError(f"{file}: {exc}") from None
    except SpecError as exc:
        raise SpecError(f"{parts.header_file}: {exc}") from None


def _codes(items: Iterable[int | str], where: str) -> tuple[int, ...]:
    out: list[int] = []
    for item in items:
        if isinstance(item, int):
            out.append(item)
            continue
        lo, hi = (int(x) for x in item.split(".."))
        if hi < lo or hi - lo >= MAX_RANGE:
            raise SpecError(f"{where}: code range {item!r} must run upwards and span at most "
                            f"{MAX_RANGE} codes")
        out.extend(range(lo, hi + 1))
    return tuple(out)


def _check_template(template: str, allowed: set[str], where: str) -> None:
    unknown = [t for t in PLACEHOLDER.findall(template) if t not in allowed]
    if unknown:
        raise SpecError(f"{where}: template {template!r} has an unknown placeholder "
                        f"{unknown[0]} (use {', '.join(sorted(allowed))})")
    if "{answer}" not in template:
        raise SpecError(f"{where}: template {template!r} lacks {{answer}}")


def _expand_block(block: ValueBlockModel, where: str) -> list[Question]:
    ids, subjects = block.ids, block.subjects
    if subjects is not None and len(subjects) != len(ids):
        raise SpecError(f"{where}: {len(subjects)} subjects for {len(ids)} ids")
    refined_pairs = block.refined if block.refined is not None else block.polar
    recode = None if block.recode is None else tuple(sorted(block.recode.items()))
    out = []
    for i, qid in enumerate(ids):
        subject = subjects[i] if subjects is not None else None
        out.append(
            Question(
                qid=qid,
                category=block.category,
                qtype=block.type,
                polar=_render(block.polar_template or block.template, block.polar, qid,
                              subject, where),
                refined=_render(block.refined_template or block.template, refined_pairs, qid,
                                subject, where),
                recode=recode,
            )
        )
    return out


def _render(template: str, pairs: list[OptionPair], qid: str, subject: str | None,
            where: str) -> tuple[Option, ...]:
    """Expand one form's answer phrases into statements."""
    _check_template(template, {"{answer}", "{subject}"}, where)
    if ("{subject}" in template) != (subject is not None):
        raise SpecError(f"{where}: {qid} template and subjects disagree (a template with "
                        "{subject} needs subjects, and subjects need {subject})")
    opts = []
    for codes, answer in pairs:
        text = template.replace("{answer}", answer)
        if subject is not None:
            text = text.replace("{subject}", subject)
        opts.append(Option(_codes(codes, where), " ".join(text.split())))
    return tuple(opts)


def _demographic(e: DemographicModel, parts: _Parts, root: Traversable,
                 label: Callable[[str], str], where: str) -> DemographicEntry:
    options = mapping = None
    map_name = None
    if (e.options is None) == (e.map is None):
        raise SpecError(f"{where}: give exactly one of options / map")
    _check_template(e.template, {"{answer}"}, where)
    if e.options is not None:
        options = tuple(Option(_codes(codes, where), e.template.replace("{answer}", ans))
                        for codes, ans in e.options)
    elif isinstance(e.map, str):
        map_name = e.map
        mapping = parts.maps.get(e.map)
        if mapping is None:
            if not (root / "maps" / f"{e.map}.tsv").is_file():
                raise SpecError(f"{where}: map {e.map!r} not found (no maps.{e.map} section "
                                f"and no maps/{e.map}.tsv)")
            mapping = parts.maps[e.map] = _read_map(root, e.map, label)
    else:
        mapping = dict(e.map or {})
    return DemographicEntry(did=e.id, column=e.column, template=e.template, label=e.label,
                            dimension=e.dimension, options=options, mapping=mapping,
                            map_name=map_name)


# -- the reference implementation's JSONL metadata ---------------------------------------


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SpecError(f"cannot read {path}: {exc}") from None


def _ref_options(rec: dict[str, Any]) -> tuple[Option, ...]:
    return tuple(
        Option(tuple(int(c) for c in codes), str(text))
        for codes, text in zip(rec["answer_ids"], rec["converted_statements"], strict=True)
    )


def load_reference_spec(directory: str | Path) -> StatementSpec:
    """Build a spec from ``statements_meta_data.jsonl`` and ``refined_statements_meta_data.jsonl``
    (and ``demographics_meta_data.jsonl`` when present; otherwise the built-in demographics)."""
    d = Path(directory)
    if not d.is_dir():
        raise SpecError(f"--statements-from: {d} is not a directory")
    for key in ("polar", "refined"):
        if not (d / REFERENCE_FILES[key]).is_file():
            raise SpecError(f"--statements-from: {d} has no {REFERENCE_FILES[key]}")
    polar = _read_jsonl(d / REFERENCE_FILES["polar"])
    refined_records = _read_jsonl(d / REFERENCE_FILES["refined"])
    base = builtin_spec()
    by_name = {c.name: c for c in base.categories}
    questions = []
    try:
        refined = {r["question_id"]: r for r in refined_records}  # records may be malformed
        for p in polar:
            qid = p["question_id"]
            if qid not in refined:
                raise SpecError(f"--statements-from: {qid} has no refined entry")
            cat = by_name.get(p["question_category"])
            if cat is None:
                raise SpecError(f"--statements-from: {qid} has unknown category "
                                f"{p['question_category']!r}")
            questions.append(
                Question(
                    qid=qid,
                    category=cat.key,
                    qtype=str(p.get("question_type", "")),
                    polar=_ref_options(p),
                    refined=_ref_options(refined[qid]),
                )
            )
        if len(refined) != len(polar):
            raise SpecError("--statements-from: polar and refined files list different questions")
        demo_path = d / REFERENCE_FILES["demographics"]
        demographics = (
            _reference_demographics(_read_jsonl(demo_path), base)
            if demo_path.is_file()
            else base.demographics
        )
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, SpecError):
            raise
        raise SpecError(f"--statements-from: malformed metadata ({exc!r})") from None
    return StatementSpec(
        version=f"reference-jsonl:{d.name}",
        categories=base.categories,
        questions=tuple(questions),
        demographics=demographics,
        source=str(d),
    )


def _reference_demographics(
    records: list[dict[str, Any]], base: StatementSpec
) -> tuple[DemographicEntry, ...]:
    known = {e.did: e for e in base.demographics}
    out = []
    for r in records:
        did = r["question_id"]
        ref = known.get(did)
        template = r["statement_template"].replace("{answer_var}", "{answer}")
        if "answer_vars_map" in r:
            mapping = {
                int(k): v.split(": ", 1)[1] if ": " in v[:6] else v
                for k, v in r["answer_vars_map"].items()
            }
            entry = DemographicEntry(did, r["question_id_converted"], template,
                                     ref.label if ref else "", ref.dimension if ref else None,
                                     mapping=mapping, map_name=ref.map_name if ref else None)
        else:
            entry = DemographicEntry(did, r.get("question_id_converted", did), template,
                                     ref.label if ref else "", ref.dimension if ref else None,
                                     options=_ref_options(r))
        out.append(entry)
    return tuple(out)
