"""Probe setups (PROTOCOL §3.1): derived from the catalog order of each category."""

from __future__ import annotations

from dataclasses import replace

import pytest

from indievalue.benchmark.setups import probe_setups, probe_union
from indievalue.catalog.spec import StatementSpec

# PROTOCOL §3.1 table: category -> (P0, P1, P2) question numbers.
TABLE = {
    "SV": ((1, 2, 3), (4, 5, 6), (7, 8, 9)),
    "HW": ((46, 47, 48), (49, 50, 51), (52, 53, 54)),
    "SC": ((57, 58, 59), (60, 61, 62), (63, 64, 65)),
    "EV": ((106, 107, 108), (109, 110, 111), (106, 107, 108)),
    "CO": ((112, 113, 114), (115, 116, 117), (118, 119, 120)),
    "MI": ((121, 122, 123), (124, 125, 126), (127, 128, 129)),
    "SE": ((131, 132, 133), (134, 135, 136), (137, 138, 139)),
    "PM": ((152, 153, 154), (155, 156, 157), (152, 153, 154)),
    "ST": ((158, 159, 160), (161, 162, 163), (158, 159, 160)),
    "RV": ((164, 165, 166), (167, 168, 169), (170, 171, 172)),
    "EN": ((176, 177, 178), (179, 180, 181), (182, 183, 184)),
    "PI": ((199, 200, 201), (202, 203, 204), (205, 206, 207)),
    "PC": ((235, 236, 237), (238, 239, 240), (241, 242, 243)),
}


def expected_qids(k: int) -> list[str]:
    return [f"Q{n}" for triple in TABLE.values() for n in triple[k]]


def test_three_setups_of_39_distinct_questions(spec: StatementSpec) -> None:
    setups = probe_setups(spec)
    assert [s.index for s in setups] == [0, 1, 2]
    for s in setups:
        assert len(s.qids) == 39
        assert len(set(s.qids)) == 39
        assert len(s.categories) == 39
        # 3 probes per category, in benchmark category order
        assert s.categories == tuple(c.key for c in spec.categories for _ in range(3))
        for q, c in zip(s.qids, s.categories, strict=True):
            assert spec.question(q).category == c


def test_union_has_108_questions(spec: StatementSpec) -> None:
    union = probe_union(probe_setups(spec))
    assert len(union) == 108
    assert len(set(union)) == 108


@pytest.mark.parametrize("k", [0, 1, 2])
def test_matches_protocol_table(spec: StatementSpec, k: int) -> None:
    assert list(probe_setups(spec)[k].qids) == expected_qids(k)


def test_examples_from_the_table(spec: StatementSpec) -> None:
    s0, s1, s2 = probe_setups(spec)
    ev = [q for q, c in zip(s2.qids, s2.categories, strict=True) if c == "EV"]
    assert ev == ["Q106", "Q107", "Q108"]
    pi = [q for q, c in zip(s1.qids, s1.categories, strict=True) if c == "PI"]
    assert pi == ["Q202", "Q203", "Q204"]
    # setup 2 re-uses setup 0 for EV, PM and ST only
    shared = set(s0.qids) & set(s2.qids)
    assert {spec.question(q).category for q in shared} == {"EV", "PM", "ST"}
    assert not set(s0.qids) & set(s1.qids)


def test_derived_from_catalog_order_not_hard_coded(spec: StatementSpec) -> None:
    """Reversing the question order inside the spec changes which questions are probes."""
    reordered = replace(spec, questions=tuple(reversed(spec.questions)), _index={})
    s0 = probe_setups(reordered)[0]
    sv = [q for q, c in zip(s0.qids, s0.categories, strict=True) if c == "SV"]
    assert sv == ["Q45", "Q44", "Q43"]
    assert len(s0.qids) == 39
