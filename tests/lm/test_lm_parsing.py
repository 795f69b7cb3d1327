"""Parsing model answers: protocol A by NSG key (not position), protocol B by ``Option k``;
reasoning traces removed first; anything unusable is -1 (a parse failure)."""

from __future__ import annotations

import json

import pytest

from indievalue.lm.parsing import parse_protocol_a, parse_protocol_b, strip_reasoning

N3 = [3, 3, 3]
OPTIONS = ["people should obey the law", "I trust my neighbours", "work comes first"]


def a(obj: dict[str, object]) -> str:
    return json.dumps(obj)


def test_a_maps_by_key_not_position() -> None:
    shuffled = a({"NSG3": {"rationale": "r", "choice": "NSG3_s1"},
                  "NSG1": {"rationale": "r", "choice": "NSG1_s3"},
                  "NSG2": {"rationale": "r", "choice": "NSG2_s2"}})
    parsed = parse_protocol_a(shuffled, N3)
    assert parsed.choices == [2, 1, 0]
    assert parsed.complete
    # the long key form the prompt uses works too
    long = a({"new statement group 2 (NSG2)": {"choice": "NSG2_s3"}})
    assert parse_protocol_a(long, N3).choices == [-1, 2, -1]


def test_a_key_choice_mismatch_and_range() -> None:
    text = a({"NSG1": {"choice": "NSG2_s1"},   # names another group: rejected
              "NSG2": {"choice": "NSG2_s4"},   # option out of range: rejected
              "NSG3": {"choice": "NSG3_s0"},   # option 0 does not exist
              "NSG4": {"choice": "NSG4_s1"}})  # no such group: ignored
    parsed = parse_protocol_a(text, N3)
    assert parsed.choices == [-1, -1, -1]
    assert not parsed.complete
    assert parse_protocol_a(a({"NSG2": {"choice": "NSG2_s2"}}), [3, 2]).choices == [-1, 1]
    assert parse_protocol_a(a({"NSG2": {"choice": "NSG2_s3"}}), [3, 2]).choices == [-1, -1]


def test_a_duplicate_group_keeps_first() -> None:
    text = '{"NSG1": {"choice": "NSG1_s2"}, "NSG 1": {"choice": "NSG1_s3"}}'
    assert parse_protocol_a(text, N3).choices == [1, -1, -1]


def test_a_plain_string_values_fences_and_garbage() -> None:
    fenced = '[Your Response]:\n```json\n{"NSG1": "NSG1_s2", "NSG2": {"choice": "nsg2_S1"}}\n```'
    assert parse_protocol_a(fenced, N3).choices == [1, 0, -1]
    for junk in ("", "no json here", '{"NSG1": {"choice": "NSG1_s1"', "[1, 2, 3]"):
        assert parse_protocol_a(junk, N3).choices == [-1, -1, -1], junk


def test_reasoning_traces_are_stripped() -> None:
    inner = a({"NSG1": {"choice": "NSG1_s1"}})
    outer = a({"NSG1": {"choice": "NSG1_s3"}, "NSG2": {"choice": "NSG2_s2"}})
    assert parse_protocol_a(f"<think>maybe {inner}</think>\n{outer}", N3).choices == [2, 1, -1]
    # an unclosed leading trace that ends with its close tag (template opened it)
    assert parse_protocol_a(f"so {inner} ... </think>{outer}", N3).choices == [2, 1, -1]
    assert strip_reasoning("<Reasoning>x\ny</reasoning> Option 2") == "Option 2"
    assert parse_protocol_b("<think>Option 1 looks right</think>Option 3: work", OPTIONS) == 2
    assert parse_protocol_b("<scratchpad>Option 1</scratchpad>", OPTIONS) == -1


@pytest.mark.parametrize(("text", "expected"), [
    ("Option 2: I trust my neighbours", 1),
    ("option 3", 2),
    ("Person A would most likely agree with Option 1, as", 0),
    ("Option 2 rather than Option 1", 1),  # the first named option counts
    ("Option 4: nothing", -1),  # out of range
    ("Option 0", -1),
    ("I trust my neighbours.", 1),  # exact statement, no number
    ("i TRUST my neighbours", 1),
    ("Person A would most likely agree with the statement \"I think", -1),
    ("", -1),
])
def test_b_option_number(text: str, expected: int) -> None:
    assert parse_protocol_b(text, OPTIONS) == expected
