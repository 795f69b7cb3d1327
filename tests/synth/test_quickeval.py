"""The calibration's fast evaluator draws its eval persons by the benchmark's rules.

``quickeval.select_eval`` reads the generated frame directly (no catalog, so the calibration
search stays fast); these tests pin it to ``benchmark.evalset.select_eval_set`` on the catalog
built from the same frame: given the benchmark's random stream, the same persons in the same
order.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from indievalue.benchmark.evalset import STREAM_EVALSET, select_eval_set
from indievalue.benchmark.setups import probe_setups, probe_union
from indievalue.catalog.store import Catalog
from indievalue.synth.calibrate import quickeval


@pytest.fixture(scope="module")
def cat(synth_catalog: Path) -> Catalog:
    return Catalog.load(synth_catalog)


def test_labels_are_the_catalog_matrices(synth_frame: pd.DataFrame, cat: Catalog) -> None:
    for form in ("polar", "refined"):
        got = quickeval.labels(synth_frame, cat.spec, form)
        np.testing.assert_array_equal(got, cat.matrix(form))


def test_probe_columns_are_the_benchmark_setups(cat: Catalog) -> None:
    quick = quickeval.probe_setups(cat.spec)
    bench = probe_setups(cat.spec)
    assert [[cat.spec.qids[q] for q in s] for s in quick] == [list(s.qids) for s in bench]
    assert len({q for s in quick for q in s}) == len(probe_union(bench))


@pytest.mark.parametrize(("size", "seed"), [(40, 0), (40, 3), (150, 1), (10, 2)])
def test_eval_draw_matches_benchmark(
    synth_frame: pd.DataFrame, cat: Catalog, size: int, seed: int
) -> None:
    bench = select_eval_set(cat, size, seed).person_ids
    polar = quickeval.labels(synth_frame, cat.spec, "polar")
    rng = np.random.default_rng([seed, STREAM_EVALSET])
    rows = quickeval.select_eval(synth_frame, cat.spec, polar, size, rng)
    quick = synth_frame["D_INTERVIEW"].to_numpy()[rows]
    assert len(bench) == size
    np.testing.assert_array_equal(quick, bench)


def test_baselines_score_a_small_pool_and_every_setup(synth_frame: pd.DataFrame,
                                                      cat: Catalog) -> None:
    """The calibration's fast evaluator also scores Resemble over a seeded sample of the pool
    (the paper's 1,600-person rows) and keeps each probe setup's figure; the overall figures
    are the means over the setups."""
    b = quickeval.baselines(synth_frame, cat.spec, seed=0, size=200, small_pool=300)
    n_setups = len(probe_setups(cat.spec))
    assert set(b.per_setup) == {"majority", "top1", "topn", "top1_small", "topn_small"}
    for name, overall in (("majority", b.majority), ("top1", b.top1), ("topn", b.topn),
                          ("top1_small", b.top1_small), ("topn_small", b.topn_small)):
        for form in ("polar", "refined"):
            assert len(b.per_setup[name][form]) == n_setups
            assert overall[form] == pytest.approx(np.mean(b.per_setup[name][form]))
    assert b.topn_small != b.topn  # 300 neighbours' pool is not the whole pool
    again = quickeval.baselines(synth_frame, cat.spec, seed=0, size=200, small_pool=300)
    assert again.topn_small == b.topn_small  # seeded
    none = quickeval.baselines(synth_frame, cat.spec, seed=0, size=200, small_pool=None)
    assert none.top1_small == {} and none.top1 == b.top1
