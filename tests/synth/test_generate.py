"""Determinism, layout and code validity of generated populations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from indievalue.catalog.spec_io import builtin_spec
from indievalue.catalog.wvs import SYNTHETIC_MARK, required_columns
from indievalue.synth import generate_population, version_label
from indievalue.synth.generate.params import load_layout, load_params

ALLOWED_MINUS_3 = {"Q153", "Q155", "Q157"}


def test_same_seed_same_frame() -> None:
    a = generate_population(500, seed=11)
    b = generate_population(500, seed=11)
    pd.testing.assert_frame_equal(a, b)


def test_different_seed_different_answers() -> None:
    a = generate_population(500, seed=1)
    b = generate_population(500, seed=2)
    qids = builtin_spec().qids
    assert (a[qids].to_numpy() != b[qids].to_numpy()).mean() > 0.3


def test_official_columns_in_order(small_pop: pd.DataFrame) -> None:
    names = [c.name for c in load_layout()]
    assert len(names) == 377
    assert list(small_pop.columns) == names
    assert names[:3] == ["version", "doi", "A_STUDY"] and names[-1] == "Q290"


def test_reader_columns_present(small_pop: pd.DataFrame) -> None:
    missing = set(required_columns(builtin_spec())) - set(small_pop.columns)
    assert not missing


def test_version_marker(small_pop: pd.DataFrame) -> None:
    assert (small_pop["version"] == version_label(7)).all()
    assert version_label(7).startswith(SYNTHETIC_MARK)


def test_value_codes_valid_or_missing(small_pop: pd.DataFrame) -> None:
    spec = builtin_spec()
    extra_invalid = {f"Q{i}": {0} for i in range(241, 250)}  # spontaneous "against democracy"
    for q in spec.questions:
        x = small_pop[q.qid].to_numpy()
        allowed_neg = {-1, -2, -4, -5} | ({-3} if q.qid in ALLOWED_MINUS_3 else set())
        if q.qid == "Q153":
            allowed_neg = {-1, -2, -3, -4}
        ok = np.isin(x, sorted(q.valid_codes | allowed_neg | extra_invalid.get(q.qid, set())))
        assert ok.all(), (q.qid, np.unique(x[~ok]))


def test_codebook_codes_respected(small_pop: pd.DataFrame) -> None:
    for col in load_layout():
        if col.valid is None:
            continue
        x = small_pop[col.name].to_numpy()
        ok = np.isin(x, list(col.valid) + list(col.missing))
        assert ok.all(), (col.name, np.unique(x[~ok])[:5])


def test_minus_3_only_where_codebook_has_it(small_pop: pd.DataFrame) -> None:
    for col in load_layout():
        if small_pop[col.name].dtype.kind in "if" and -3 not in col.missing:
            assert not (small_pop[col.name] == -3).any(), col.name


def test_demographic_codes_match_spec(small_pop: pd.DataFrame) -> None:
    for d in builtin_spec().demographics:
        x = small_pop[d.column].to_numpy()
        valid = np.isin(x, list(d.statement_table()))
        assert ((x < 0) | valid).all(), (d.did, np.unique(x[~valid & (x >= 0)])[:5])
        assert valid.mean() > 0.5, d.did


def test_ids_unique_and_country_prefixed(small_pop: pd.DataFrame) -> None:
    ids = small_pop["D_INTERVIEW"].to_numpy()
    assert len(np.unique(ids)) == len(ids)
    assert (ids // 100_000 == small_pop["B_COUNTRY"].to_numpy()).all()


def test_recodes_consistent(small_pop: pd.DataFrame) -> None:
    age = small_pop["Q262"].to_numpy()
    band = np.digitize(age, [25, 35, 45, 55, 65]) + 1
    x003 = small_pop["X003R"].to_numpy()
    assert (x003 == np.where(age < 0, age, band)).all()
    inc = small_pop["Q288"].to_numpy()
    expect = np.where(inc < 0, inc, np.digitize(inc, [4, 8]) + 1)
    assert (small_pop["Q288R"].to_numpy() == expect).all()


def test_ethnic_group_has_country_prefix(small_pop: pd.DataFrame) -> None:
    eth = small_pop["Q290"].to_numpy()
    ok = eth > 0
    assert ok.mean() > 0.5
    assert (eth[ok] // 1000 == small_pop["B_COUNTRY"].to_numpy()[ok]).all()


def test_full_size_country_shares() -> None:
    p = load_params()
    sizes = p["country_size"]
    assert len(sizes) == 66 and 96_000 < sizes.sum() < 98_000


def test_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError):
        generate_population(0, seed=1)
    with pytest.raises(ValueError):
        generate_population(10, seed=-1)
