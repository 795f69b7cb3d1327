"""The built-in spec agrees with the reference implementation's metadata on every fact that
decides a label: question ids and order, categories, option counts, which raw codes form each
option, and the demographic entries. Wording is our own and is not compared.

Reads the reference JSONL files when this checkout has them (``reference_dir`` skips
otherwise); nothing from them is stored in the project.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from indievalue.catalog.build import build_catalog
from indievalue.catalog.spec import StatementSpec
from indievalue.catalog.spec_io import REFERENCE_FILES, load_reference_spec
from indievalue.catalog.store import Catalog
from wvs_testdata import CATEGORY_COUNTS, category_counts


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


@pytest.fixture(scope="module")
def ref(reference_dir: Path) -> dict[str, list[dict[str, Any]]]:
    return {key: _jsonl(reference_dir / name) for key, name in REFERENCE_FILES.items()}


def test_reference_totals(ref: dict[str, list[dict[str, Any]]]) -> None:
    assert len(ref["polar"]) == len(ref["refined"]) == 253
    assert sum(len(r["answer_ids"]) for r in ref["polar"]) == 567
    assert sum(len(r["answer_ids"]) for r in ref["refined"]) == 929
    assert len(ref["demographics"]) == 31


def test_question_ids_and_order(spec: StatementSpec, ref: dict) -> None:
    assert spec.qids == [r["question_id"] for r in ref["polar"]]
    assert spec.qids == [r["question_id"] for r in ref["refined"]]


def test_categories_and_their_order(spec: StatementSpec, ref: dict) -> None:
    names = {c.key: c.name for c in spec.categories}
    assert [names[q.category] for q in spec.questions] == [
        r["question_category"] for r in ref["polar"]
    ]
    first_seen = list(dict.fromkeys(r["question_category"] for r in ref["polar"]))
    assert [c.name for c in spec.categories] == first_seen


def test_per_category_counts(spec: StatementSpec, ref: dict) -> None:
    counts: dict[str, list[int]] = {}
    for p, r in zip(ref["polar"], ref["refined"], strict=True):
        row = counts.setdefault(p["question_category"], [0, 0, 0])
        row[0] += 1
        row[1] += len(p["answer_ids"])
        row[2] += len(r["answer_ids"])
    assert {k: tuple(v) for k, v in counts.items()} == CATEGORY_COUNTS
    assert category_counts(spec) == CATEGORY_COUNTS


@pytest.mark.parametrize("form", ["polar", "refined"])
def test_codes_of_every_option(spec: StatementSpec, ref: dict, form: str) -> None:
    for q, r in zip(spec.questions, ref[form], strict=True):
        assert r["is_refined"] is (form == "refined")
        assert len(q.options(form)) == len(r["converted_statements"]), q.qid
        assert [list(o.codes) for o in q.options(form)] == r["answer_ids"], q.qid
        assert sorted(q.valid_codes) == sorted(r["all_answer_ids"]), q.qid


@pytest.mark.parametrize("form", ["polar", "refined"])
def test_code_lookup_matches_reference_mapping(spec: StatementSpec, ref: dict, form: str) -> None:
    lut = spec.code_lut(form)
    for qi, r in enumerate(ref[form]):
        mapping = {int(k): v for k, v in r["answer_ids_to_grouped_answer_ids"].items()}
        ours = {c: int(lut[qi, c]) for c in range(lut.shape[1]) if lut[qi, c] >= 0}
        assert ours == mapping, r["question_id"]


def test_option_count_product(spec: StatementSpec, ref: dict) -> None:
    for form in ("polar", "refined"):
        ref_counts = np.array([len(r["answer_ids"]) for r in ref[form]])
        assert spec.option_counts(form).tolist() == ref_counts.tolist()
    # PROTOCOL §1.6: answer-combination spaces 3.94e86 (polar) and 1.65e139 (refined).
    assert f"{np.prod(spec.option_counts('polar').astype(float)):.2e}" == "3.94e+86"
    assert f"{np.prod(spec.option_counts('refined').astype(float)):.2e}" == "1.65e+139"


def test_polar_groups_are_unions_of_refined_groups(ref: dict) -> None:
    for p, r in zip(ref["polar"], ref["refined"], strict=True):
        owners = []
        for group in r["answer_ids"]:
            hits = [i for i, pg in enumerate(p["answer_ids"]) if set(group) <= set(pg)]
            assert len(hits) == 1, p["question_id"]
            owners.append(hits[0])
        assert owners == sorted(owners)
        for i, pg in enumerate(p["answer_ids"]):
            union = {c for g, o in zip(r["answer_ids"], owners, strict=True) if o == i for c in g}
            assert union == set(pg), p["question_id"]


def test_identical_forms_count(ref: dict) -> None:
    same = sum(p["answer_ids"] == r["answer_ids"] for p, r in zip(ref["polar"], ref["refined"],
                                                                   strict=True))
    assert same == 68


def test_demographic_entries(spec: StatementSpec, ref: dict) -> None:
    assert [d.did for d in spec.demographics] == [r["question_id"] for r in ref["demographics"]]
    for d, r in zip(spec.demographics, ref["demographics"], strict=True):
        assert d.column == r["question_id_converted"], d.did
        if "answer_vars_map" in r:
            assert d.options is None and d.mapping is not None, d.did
            assert set(d.mapping) == {int(k) for k in r["answer_vars_map"]}, d.did
        else:
            assert d.options is not None, d.did
            assert [list(o.codes) for o in d.options] == r["answer_ids"], d.did
            assert len(d.options) == len(r["converted_statements"]), d.did


def test_country_and_continent_names(spec: StatementSpec, ref: dict) -> None:
    by_id = {d.did: d for d in spec.demographics}
    for did in ("B_COUNTRY", "B_COUNTRY_to_continent"):
        rec = next(r for r in ref["demographics"] if r["question_id"] == did)
        assert by_id[did].mapping == {int(k): v for k, v in rec["answer_vars_map"].items()}
    continents = Counter((by_id["B_COUNTRY_to_continent"].mapping or {}).values())
    assert continents == {"Europe": 40, "Asia": 27, "South America": 9, "Africa": 8,
                          "North America": 6, "Oceania": 2}


def test_reference_metadata_loads_as_a_spec(spec: StatementSpec, reference_dir: Path) -> None:
    loaded = load_reference_spec(reference_dir)
    assert loaded.qids == spec.qids
    assert loaded.n_statements("polar") == 567 and loaded.n_statements("refined") == 929
    assert [d.did for d in loaded.demographics] == [d.did for d in spec.demographics]
    for a, b in zip(loaded.questions, spec.questions, strict=True):
        assert a.category == b.category
        assert [o.codes for o in a.polar] == [o.codes for o in b.polar]
        assert [o.codes for o in a.refined] == [o.codes for o in b.refined]
    q290 = next(d for d in loaded.demographics if d.did == "Q290")
    assert not any(": " in name[:6] for name in (q290.mapping or {}).values())


def test_reference_spec_labels_people_like_the_builtin_spec(
    small_csv: Path, small_catalog: Path, reference_dir: Path, tmp_path: Path
) -> None:
    build_catalog(small_csv, tmp_path / "ref", spec=load_reference_spec(reference_dir))
    ours, theirs = Catalog.load(small_catalog), Catalog.load(tmp_path / "ref")
    assert np.array_equal(ours.polar, theirs.polar)
    assert np.array_equal(ours.refined, theirs.refined)
    assert theirs.manifest["spec_version"] == f"reference-jsonl:{reference_dir.name}"
    assert theirs.manifest["spec_hash"] != ours.manifest["spec_hash"]
    pid = int(ours.person_ids[0])
    assert [q for q, _ in ours.statements(pid)] == [q for q, _ in theirs.statements(pid)]
    assert ours.demographics["B_COUNTRY_code"].equals(theirs.demographics["B_COUNTRY_code"])
