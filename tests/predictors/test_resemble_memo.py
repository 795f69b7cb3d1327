"""Resemble's process-wide memo of ranked neighbours changes run times, never answers: the
run order of top 1 and top 24 (the main job runs top 24 first) gives the same predictions."""

from __future__ import annotations

import numpy as np
import pytest

from _bench_data import BenchData
from indievalue.benchmark.episodes import Episodes, build_episodes
from indievalue.benchmark.setups import probe_setups
from indievalue.catalog.store import Catalog
from indievalue.predictors import make_predictor, resemble
from indievalue.predictors.base import TrainingPool


@pytest.fixture
def setting(bench: BenchData) -> tuple[TrainingPool, Episodes]:
    cat = Catalog.load(bench.catalog)
    setup = probe_setups(cat.spec)[1]
    eps = build_episodes(cat, cat.person_ids[:12], setup, demos=40, seed=3).episodes
    return TrainingPool(cat, np.arange(200, 2500)), eps


def answers(pool: TrainingPool, eps: Episodes, top_k: int) -> np.ndarray:
    pred = make_predictor("resemble", {"top_k": top_k, "sweep": 0}, seed=0).fit(pool)
    return pred.predict(eps).choices


def test_order_of_runs_does_not_change_answers(setting: tuple[TrainingPool, Episodes]) -> None:
    pool, eps = setting
    resemble._MEMO.clear()
    fresh = {1: answers(pool, eps, 1)}
    resemble._MEMO.clear()
    fresh[24] = answers(pool, eps, 24)
    # top 24 first: top 1 is read from the memo (one entry, 24 neighbours deep)
    resemble._MEMO.clear()
    first24 = answers(pool, eps, 24)
    then1 = answers(pool, eps, 1)
    assert len(resemble._MEMO) == 1
    assert next(iter(resemble._MEMO.values())).shape == (len(eps), 24)
    # top 1 first: top 24 ranks again and replaces the shorter list
    resemble._MEMO.clear()
    first1 = answers(pool, eps, 1)
    then24 = answers(pool, eps, 24)
    assert len(resemble._MEMO) == 1
    assert next(iter(resemble._MEMO.values())).shape == (len(eps), 24)
    for got in (then1, first1):
        np.testing.assert_array_equal(got, fresh[1])
    for got in (first24, then24):
        np.testing.assert_array_equal(got, fresh[24])
    assert not np.array_equal(fresh[1], fresh[24])  # the two settings do differ
    resemble._MEMO.clear()
