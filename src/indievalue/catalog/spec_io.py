"""Loading a :class:`StatementSpec`: the built-in YAML spec, or metadata files in the
reference implementation's JSONL layout (``--statements-from DIR``)."""

from __future__ import annotations

import csv
import json
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from indievalue.catalog.spec import (
    Category,
    DemographicEntry,
    Option,
    Question,
    StatementSpec,
)
from indievalue.errors import SpecError

REFERENCE_FILES = {
    "polar": "statements_meta_data.jsonl",
    "refined": "refined_statements_meta_data.jsonl",
    "demographics": "demographics_meta_data.jsonl",
}


# libyaml's loader when available: ten times faster, and every CLI command loads the spec.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _load_yaml(text: str) -> Any:
    return yaml.load(text, Loader=_YAML_LOADER)


def _data_dir() -> Any:
    return resources.files("indievalue.catalog") / "data"


@lru_cache(maxsize=1)
def builtin_spec() -> StatementSpec:
    """The spec shipped with the package (validated, cached)."""
    data = _data_dir()
    head = _load_yaml((data / "spec.yaml").read_text(encoding="utf-8"))
    categories = tuple(Category(k, n) for k, n in head["categories"])
    parts = sorted(
        (p for p in (data / "values").iterdir() if p.name.endswith(".yaml")), key=lambda p: p.name
    )
    questions: list[Question] = []
    for part in parts:
        for block in _load_yaml(part.read_text(encoding="utf-8")) or []:
            questions.extend(_expand_block(block, part.name))
    demographics = _load_builtin_demographics()
    return StatementSpec(
        version=str(head["version"]),
        categories=categories,
        questions=tuple(questions),
        demographics=demographics,
        source="builtin",
    )


def _expand_block(block: dict[str, Any], where: str) -> list[Question]:
    ids = block["ids"]
    subjects = block.get("subjects")
    if subjects is not None and len(subjects) != len(ids):
        raise SpecError(f"{where}: block {ids[0]} has {len(subjects)} subjects for {len(ids)} ids")
    polar_pairs = block["polar"]
    refined_pairs = block.get("refined", polar_pairs)
    out = []
    for i, qid in enumerate(ids):
        subject = subjects[i] if subjects is not None else None
        out.append(
            Question(
                qid=qid,
                category=block["category"],
                qtype=block["type"],
                polar=_render(block, polar_pairs, "polar", qid, subject, where),
                refined=_render(block, refined_pairs, "refined", qid, subject, where),
            )
        )
    return out


def _render(block: dict[str, Any], pairs: list[Any], form: str, qid: str,
            subject: str | None, where: str) -> tuple[Option, ...]:
    """Expand one form's answer phrases into statements."""
    template = block.get(f"{form}_template", block["template"])
    if ("{subject}" in template) != (subject is not None):
        raise SpecError(f"{where}: {qid} template and subjects disagree")
    opts = []
    for codes, answer in pairs:
        text = template.replace("{answer}", answer)
        if subject is not None:
            text = text.replace("{subject}", subject)
        opts.append(Option(tuple(int(c) for c in codes), " ".join(text.split())))
    return tuple(opts)


def _read_map(name: str) -> dict[int, str]:
    text = (_data_dir() / "maps" / f"{name}.tsv").read_text(encoding="utf-8")
    rows = list(csv.reader(text.splitlines(), delimiter="\t"))
    return {int(code): value for code, value in rows[1:]}


def _load_builtin_demographics() -> tuple[DemographicEntry, ...]:
    entries = _load_yaml((_data_dir() / "demographics.yaml").read_text(encoding="utf-8"))
    out = []
    for e in entries:
        options = None
        mapping = None
        if "options" in e:
            options = tuple(
                Option(tuple(int(c) for c in codes), e["template"].replace("{answer}", ans))
                for codes, ans in e["options"]
            )
        else:
            mapping = _read_map(e["map"])
        out.append(
            DemographicEntry(
                did=e["id"],
                column=e["column"],
                template=e["template"],
                label=e.get("label", ""),
                dimension=e.get("dimension"),
                options=options,
                mapping=mapping,
                map_name=e.get("map"),
            )
        )
    return tuple(out)


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
    refined = {r["question_id"]: r for r in _read_jsonl(d / REFERENCE_FILES["refined"])}
    base = builtin_spec()
    by_name = {c.name: c for c in base.categories}
    questions = []
    try:
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
