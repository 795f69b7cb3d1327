"""The built-in statement spec: its facts, its identity, and validation on load."""

from __future__ import annotations

import copy
import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from indievalue.catalog.spec import MAX_VALUE_CODE, StatementSpec
from indievalue.catalog.spec_io import builtin_spec, load_reference_spec
from indievalue.errors import SpecError
from wvs_testdata import CATEGORY_COUNTS, category_counts

EXCLUDED = {"Q82", "Q91", "Q92", "Q93", "Q105", "Q223"}
ZERO_VALID = {f"Q{i}" for i in [*range(94, 105), 119, *range(122, 130)]}
DEMOGRAPHIC_ORDER = [
    "B_COUNTRY", "B_COUNTRY_to_continent", "Q260", "X003R", *[f"Q{i}" for i in range(263, 283)],
    "Q284", "Q285", "Q286", "Q287", "Q288R", "Q289", "Q290",
]


def qnum(qid: str) -> int:
    return int(qid[1:])


# -- facts ---------------------------------------------------------------------------------


def test_totals(spec: StatementSpec) -> None:
    assert len(spec.questions) == 253
    assert spec.n_statements("polar") == 567
    assert spec.n_statements("refined") == 929
    assert len(spec.demographics) == 31


def test_value_questions_are_q1_to_q259_minus_the_exclusions(spec: StatementSpec) -> None:
    expected = [f"Q{i}" for i in range(1, 260) if f"Q{i}" not in EXCLUDED]
    assert spec.qids == expected


def test_categories_in_order_with_counts(spec: StatementSpec) -> None:
    counts = category_counts(spec)
    assert list(counts) == list(CATEGORY_COUNTS)  # the order too
    assert counts == CATEGORY_COUNTS


def test_questions_of_a_category_are_contiguous_in_catalog_order(spec: StatementSpec) -> None:
    keys = [q.category for q in spec.questions]
    runs = [k for i, k in enumerate(keys) if i == 0 or keys[i - 1] != k]
    assert runs == [c.key for c in spec.categories]


def test_option_count_distribution(spec: StatementSpec) -> None:
    assert Counter(spec.option_counts("polar").tolist()) == {2: 198, 3: 49, 4: 6}
    assert Counter(spec.option_counts("refined").tolist()) == {
        2: 36, 3: 38, 4: 157, 5: 20, 7: 1, 8: 1
    }
    assert len(spec.question("Q171").refined) == 7
    assert len(spec.question("Q172").refined) == 8


def test_68_questions_have_identical_forms(spec: StatementSpec) -> None:
    same = [q.qid for q in spec.questions if q.polar == q.refined]
    assert len(same) == 68


def test_zero_is_valid_exactly_where_the_protocol_says(spec: StatementSpec) -> None:
    assert {q.qid for q in spec.questions if 0 in q.valid_codes} == ZERO_VALID
    assert all(min(q.valid_codes) >= 0 for q in spec.questions)


@pytest.mark.parametrize(
    ("qid", "polar", "refined"),
    [
        ("Q1", [[1, 2], [3, 4]], [[1], [2], [3], [4]]),
        ("Q7", [[1], [2]], [[1], [2]]),
        ("Q48", [[1, 2, 3, 4, 5], [6, 7, 8, 9, 10]], [[1, 2, 3], [4, 5], [6, 7], [8, 9, 10]]),
        ("Q94", [[0, 1], [2]], [[0], [1], [2]]),
        ("Q119", [[0], [1, 2], [3, 4]], [[0], [1], [2], [3], [4]]),
        ("Q122", [[0], [1], [2]], [[0], [1], [2]]),
        ("Q171", [[1, 2, 3], [4, 5, 6], [7]], [[i] for i in range(1, 8)]),
        ("Q172", [[1, 2, 3], [4, 5, 6, 7], [8]], [[i] for i in range(1, 9)]),
        ("Q200", [[1, 2], [3]], [[1], [2], [3]]),
        ("Q221", [[1, 2], [3], [4]], [[1], [2], [3], [4]]),
        ("Q252", [[1, 2, 3, 4, 5], [6, 7, 8, 9, 10]], [[1, 2, 3], [4, 5], [6, 7], [8, 9, 10]]),
    ],
)
def test_recoding_patterns(spec: StatementSpec, qid: str, polar: list, refined: list) -> None:
    q = spec.question(qid)
    assert [list(o.codes) for o in q.polar] == polar
    assert [list(o.codes) for o in q.refined] == refined


def test_refined_options_nest_in_polar_options_in_order(spec: StatementSpec) -> None:
    for q in spec.questions:
        owners = q.refined_to_polar()
        assert list(owners) == sorted(owners), q.qid
        for pi, p in enumerate(q.polar):
            union = {c for r, o in zip(q.refined, owners, strict=True) if o == pi for c in r.codes}
            assert union == set(p.codes), q.qid


def test_statements_are_clean_single_lines(spec: StatementSpec) -> None:
    for q in spec.questions:
        for o in (*q.polar, *q.refined):
            assert o.text == o.text.strip() and "\n" not in o.text and "  " not in o.text
            assert "{" not in o.text, f"{q.qid}: unfilled placeholder in {o.text!r}"
            assert not o.text.endswith("."), q.qid


def test_demographic_entries(spec: StatementSpec) -> None:
    assert [d.did for d in spec.demographics] == DEMOGRAPHIC_ORDER
    by_id = {d.did: d for d in spec.demographics}
    assert by_id["B_COUNTRY_to_continent"].column == "B_COUNTRY"
    assert "New Zealand" in by_id["B_COUNTRY"].statement(554)  # type: ignore[operator]
    assert by_id["B_COUNTRY_to_continent"].statement(554).endswith("Oceania")  # type: ignore[union-attr]
    assert by_id["B_COUNTRY"].statement(-1) is None
    assert by_id["Q260"].statement(3) is None
    assert by_id["Q271"].statement(2) == by_id["Q271"].statement(4)
    assert set(by_id["Q290"].statement_table()) == set(by_id["Q290"].mapping or {})
    assert spec.demographic_columns[0] == "B_COUNTRY"
    assert len(spec.demographic_columns) == 30


def test_code_lut(spec: StatementSpec) -> None:
    for form in ("polar", "refined"):
        lut = spec.code_lut(form)
        assert lut.shape == (253, MAX_VALUE_CODE + 1) and lut.dtype == np.int8
        for qi, q in enumerate(spec.questions):
            expected = np.full(MAX_VALUE_CODE + 1, -1)
            for oi, o in enumerate(q.options(form)):
                expected[list(o.codes)] = oi
            assert lut[qi].tolist() == expected.tolist(), q.qid


# -- identity ------------------------------------------------------------------------------


def test_dict_round_trip_keeps_content_and_hash(spec: StatementSpec) -> None:
    data = spec.to_dict()
    again = StatementSpec.from_dict(json.loads(json.dumps(data)))
    assert again.to_dict() == data
    assert again.content_hash == spec.content_hash
    assert spec.content_hash.startswith("sha256:") and len(spec.content_hash) == 71


def test_hash_follows_wording(spec: StatementSpec) -> None:
    data = spec.to_dict()
    data["questions"][0]["polar"][0][1] += " indeed"
    assert StatementSpec.from_dict(data).content_hash != spec.content_hash


# -- validation on load --------------------------------------------------------------------


def _q(data: dict[str, Any], qid: str) -> dict[str, Any]:
    return next(q for q in data["questions"] if q["qid"] == qid)


def _break(spec: StatementSpec, mutate: Any) -> dict[str, Any]:
    data = copy.deepcopy(spec.to_dict())
    mutate(data)
    return data


BAD_SPECS = {
    "duplicate question id": (lambda d: d["questions"].append(copy.deepcopy(_q(d, "Q5"))),
                              "appears twice"),
    "renamed into a duplicate": (lambda d: _q(d, "Q2").update(qid="Q1"), "appears twice"),
    "code in two polar options": (lambda d: _q(d, "Q1")["polar"][1][0].append(2),
                                  "belongs to two options"),
    "code in two refined options": (lambda d: _q(d, "Q1")["refined"][3][0].append(1),
                                    "belongs to two options"),
    "option without codes": (lambda d: _q(d, "Q7")["polar"].append([[], "I float"]),
                             "no codes"),
    "single option": (lambda d: _q(d, "Q7").update(polar=_q(d, "Q7")["polar"][:1],
                                                    refined=_q(d, "Q7")["refined"][:1]),
                      "at least two options"),
    "polar covers a code refined lacks": (lambda d: _q(d, "Q1")["polar"][1][0].append(5),
                                          "cover different codes"),
    "refined straddles polar": (
        lambda d: _q(d, "Q1").update(refined=[[[1], "a"], [[2, 3], "b"], [[4], "c"]]),
        "straddles"),
    "refined out of polar order": (
        lambda d: _q(d, "Q1").update(refined=[[[3], "a"], [[1], "b"], [[2], "c"], [[4], "d"]]),
        "out of polar order"),
    "duplicate statement": (lambda d: _q(d, "Q7")["polar"][1].__setitem__(
        1, _q(d, "Q7")["polar"][0][1]), "same statement"),
    "trailing period": (lambda d: _q(d, "Q7")["polar"][0].__setitem__(1, "I agree."),
                        "malformed statement"),
    "padded statement": (lambda d: _q(d, "Q7")["polar"][0].__setitem__(1, " I agree"),
                         "malformed statement"),
    "code out of range": (lambda d: _q(d, "Q7").update(polar=[[[1], "x"], [[200], "y"]],
                                                        refined=[[[1], "x"], [[200], "y"]]),
                          "codes must lie"),
    "unknown category": (lambda d: _q(d, "Q1").update(category="XX"), "unknown category"),
    "duplicate category": (lambda d: d["categories"].append(list(d["categories"][0])),
                           "duplicate category"),
    "duplicate demographic": (lambda d: d["demographics"].append(d["demographics"][2]),
                              "appears twice"),
    "demographic with options and map": (
        lambda d: d["demographics"][2].update(map={"1": "x"}), "exactly one of"),
    "map template without slot": (lambda d: d["demographics"][0].update(template="I live"),
                                  "lacks {answer}"),
    "missing key": (lambda d: _q(d, "Q1").pop("polar"), "malformed statement spec"),
    "non-integer code": (lambda d: _q(d, "Q1")["polar"][0][0].append("two"),
                         "malformed statement spec"),
}


@pytest.mark.parametrize("case", sorted(BAD_SPECS))
def test_inconsistent_spec_is_rejected(spec: StatementSpec, case: str) -> None:
    mutate, message = BAD_SPECS[case]
    with pytest.raises(SpecError, match=message):
        StatementSpec.from_dict(_break(spec, mutate))


def test_a_closing_etc_is_not_a_sentence_end(spec: StatementSpec) -> None:
    data = _break(spec, lambda d: _q(d, "Q7")["polar"][0].__setitem__(1, "I use Facebook etc."))
    assert StatementSpec.from_dict(data).question("Q7").polar[0].text.endswith("etc.")


# -- the reference JSONL loader's own errors -------------------------------------------------


def test_reference_loader_errors(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="not a directory"):
        load_reference_spec(tmp_path / "nope")
    with pytest.raises(SpecError, match=r"statements_meta_data\.jsonl"):
        load_reference_spec(tmp_path)
    (tmp_path / "statements_meta_data.jsonl").write_text("{not json\n")
    (tmp_path / "refined_statements_meta_data.jsonl").write_text("")
    with pytest.raises(SpecError, match="cannot read"):
        load_reference_spec(tmp_path)


def test_demographic_codes_are_the_union_over_entries_of_a_column() -> None:
    spec = builtin_spec()
    for column in spec.demographic_columns:
        entries = [d for d in spec.demographics if d.column == column]
        expected = set().union(*(d.statement_table() for d in entries))
        codes = spec.demographic_codes(column)
        assert codes == sorted(expected) and len(codes) > 0
    assert spec.demographic_codes("NOT_A_COLUMN") == []
