"""Resemble (PROTOCOL §5.3) on hand-built pools where the right neighbours are known."""

from __future__ import annotations

import numpy as np
import pytest

from _bench_data import BenchData, override
from indievalue.benchmark.episodes import EpisodeSet, build_episodes
from indievalue.benchmark.evalset import select_eval_set, training_rows
from indievalue.benchmark.setups import probe_setups
from indievalue.catalog.store import Catalog
from indievalue.errors import IndieValueError
from indievalue.predictors import TrainingPool, make_predictor

EVAL_ROW = 100
POOL = np.arange(5)


@pytest.fixture(scope="module")
def base(bench: BenchData) -> Catalog:
    return Catalog.load(bench.catalog)


def columns(cat: Catalog) -> tuple[np.ndarray, np.ndarray]:
    """(probe columns of setup 0, the 214 non-probe columns)."""
    probes = np.array([cat.spec.index(q) for q in probe_setups(cat.spec)[0].qids])
    return probes, np.setdiff1d(np.arange(len(cat.spec.questions)), probes)


def hand_built(bench: BenchData, base: Catalog, matches: list[int], probe_answers: list[int],
               person_ids: np.ndarray | None = None) -> Catalog:
    """The eval person answers option 0 everywhere; pool row i answers 0 on the first
    ``matches[i]`` non-probe questions (1 elsewhere) and ``probe_answers[i]`` on every probe."""
    probes, rest = columns(base)
    polar = base.polar.copy()
    polar[EVAL_ROW] = 0
    for i, (m, a) in enumerate(zip(matches, probe_answers, strict=True)):
        polar[i, rest] = 1
        polar[i, rest[:m]] = 0
        polar[i, probes] = a
    return override(bench.catalog, polar=polar, person_ids=person_ids)


def episodes(cat: Catalog, demos: int = 200) -> EpisodeSet:
    pid = np.array([cat.person_ids[EVAL_ROW]])
    return build_episodes(cat, pid, probe_setups(cat.spec)[0], demos=demos, seed=0)


def choices(cat: Catalog, pool: np.ndarray = POOL, demos: int = 200,
            **options: object) -> np.ndarray:
    pred = make_predictor("resemble", options).fit(TrainingPool(cat, pool))
    return pred.predict(episodes(cat, demos).episodes).choices[0]


def test_top1_picks_the_nearest_neighbour(bench: BenchData, base: Catalog) -> None:
    cat = hand_built(bench, base, [150, 100, 50, 120, 10], [1, 0, 0, 0, 0])
    assert (choices(cat, top_k=1) == 1).all()
    # the neighbour order does not depend on the pool's row order
    assert (choices(cat, pool=POOL, top_k=1) == choices(cat, POOL[::-1], top_k=1)).all()


def test_top_k_votes(bench: BenchData, base: Catalog) -> None:
    # ranking: row0 (150, says 1), row3 (120, 0), row1 (100, 0), row2 (50, 1), row4 (10, 1)
    cat = hand_built(bench, base, [150, 100, 50, 120, 10], [1, 0, 1, 0, 1])
    assert (choices(cat, top_k=1) == 1).all()
    assert (choices(cat, top_k=2) == 0).all()  # 1-1 tie -> lower option index
    assert (choices(cat, top_k=3) == 0).all()  # 0 wins 2-1
    assert (choices(cat, top_k=5) == 1).all()  # 1 wins 3-2
    pred = make_predictor("resemble", {"top_k": 3}).fit(TrainingPool(cat, POOL))
    p = pred.predict(episodes(cat).episodes)
    assert p.probs is not None
    np.testing.assert_allclose(p.probs[0, :, :2], np.tile([2 / 3, 1 / 3], (39, 1)), rtol=1e-6)


def test_ties_go_to_the_lower_person_id(bench: BenchData, base: Catalog) -> None:
    cat = hand_built(bench, base, [150, 150, 0, 0, 0], [1, 0, 0, 0, 0])
    assert cat.person_ids[0] < cat.person_ids[1]
    assert (choices(cat, top_k=1) == 1).all()
    # swap the two persons' ids: row 1 now has the lower id and wins the tie
    ids = base.person_ids.copy()
    ids[[0, 1]] = ids[[1, 0]]
    swapped = hand_built(bench, base, [150, 150, 0, 0, 0], [1, 0, 0, 0, 0], person_ids=ids)
    assert (choices(swapped, top_k=1) == 0).all()


def test_missing_answers_never_match(bench: BenchData, base: Catalog) -> None:
    probes, rest = columns(base)
    polar = base.polar.copy()
    polar[EVAL_ROW] = 0
    polar[EVAL_ROW, rest[:150]] = -1
    polar[:5, :] = 1
    polar[0, rest[:150]] = -1  # shares 150 missing answers with the eval person, nothing else
    polar[1, rest[150:160]] = 0  # 10 real matches
    polar[0, probes], polar[1, probes] = 1, 0
    cat = override(bench.catalog, polar=polar)
    assert (choices(cat, top_k=1) == 0).all()


def test_missing_votes_count_but_win_only_outright(bench: BenchData, base: Catalog) -> None:
    probes, rest = columns(base)
    polar = base.polar.copy()
    polar[EVAL_ROW] = 0
    polar[:5, rest] = 1
    for i, m in enumerate([150, 120, 100, 50, 10]):
        polar[i, rest[:m]] = 0
    polar[:5, probes] = np.array([-1, -1, 0, 1, 1])[:, None]
    cat = override(bench.catalog, polar=polar)
    # top 1: the nearest neighbour did not answer -> no answer (scored wrong, §5.3)
    assert (choices(cat, top_k=1) == -1).all()
    assert (choices(cat, top_k=3) == -1).all()  # missing 2 vs 0:1
    assert (choices(cat, top_k=4) == -1).all()  # missing 2 vs 0:1, 1:1
    assert (choices(cat, top_k=5) == 1).all()  # missing 2 vs 1:2 -> a tie is not a win


def test_context_demos_compares_on_demonstrations_only(bench: BenchData,
                                                       base: Catalog) -> None:
    probes, rest = columns(base)
    polar = base.polar.copy()
    polar[EVAL_ROW] = 0
    demo_q = episodes(override(bench.catalog, polar=polar), demos=20).episodes.demo_qidx[0]
    others = np.setdiff1d(rest, demo_q)
    polar[:5, :] = 1
    polar[0, others] = 0  # 194 matches outside the demonstrations
    polar[1, demo_q] = 0  # 20 matches, all on demonstrations
    polar[0, probes], polar[1, probes] = 1, 0
    cat = override(bench.catalog, polar=polar)
    assert (choices(cat, demos=20, top_k=1, context="visible") == 1).all()
    assert (choices(cat, demos=20, top_k=1, context="demos") == 0).all()


@pytest.fixture(scope="module")
def world(base: Catalog) -> tuple[Catalog, np.ndarray, EpisodeSet]:
    ids = select_eval_set(base, 40, seed=0).person_ids
    es = build_episodes(base, ids, probe_setups(base.spec)[1], seed=0)
    return base, training_rows(base, ids), es


def test_sweep_columns_equal_top_k_choices(world: tuple[Catalog, np.ndarray, EpisodeSet]) -> None:
    cat, rows, es = world
    pool = TrainingPool(cat, rows)
    swept = make_predictor("resemble", {"top_k": 5, "sweep": 35}).fit(pool).predict(es.episodes)
    assert swept.probe_extras is not None
    sweep = swept.probe_extras["sweep"]
    assert sweep.shape == (*es.episodes.probe_qidx.shape, 35)
    for n in (1, 2, 7, 24, 35):
        direct = make_predictor("resemble", {"top_k": n, "sweep": 0}).fit(pool)
        got = direct.predict(es.episodes)
        assert got.probe_extras is None
        np.testing.assert_array_equal(sweep[:, :, n - 1], got.choices, err_msg=f"N={n}")
    np.testing.assert_array_equal(sweep[:, :, 4], swept.choices)


def test_top1_and_top24_differ(world: tuple[Catalog, np.ndarray, EpisodeSet]
                                             ) -> None:
    """On unstructured data both are near chance, but a 24-vote is not the top-1 answer."""
    cat, rows, es = world
    pool = TrainingPool(cat, rows)
    a = make_predictor("resemble", {"top_k": 1}).fit(pool).predict(es.episodes).choices
    b = make_predictor("resemble", {"top_k": 24}).fit(pool).predict(es.episodes).choices
    assert not np.array_equal(a, b)


def test_pool_sample_is_seeded(world: tuple[Catalog, np.ndarray, EpisodeSet]) -> None:
    cat, rows, es = world
    pool = TrainingPool(cat, rows)

    def run(seed: int, size: int | str, k: int = 1) -> np.ndarray:
        pred = make_predictor("resemble", {"pool": size, "top_k": k}, seed=seed).fit(pool)
        return pred.predict(es.episodes).choices

    np.testing.assert_array_equal(run(1, 300), run(1, 300))
    assert not np.array_equal(run(1, 300), run(2, 300))
    # a sample of the whole pool is the whole pool
    np.testing.assert_array_equal(run(1, len(rows), 24), run(1, "all", 24))
    # pool=1: everybody gets the single sampled person's answers
    one = run(3, 1)
    probes = es.episodes.probe_qidx[0]
    match = np.flatnonzero((cat.polar[rows][:, probes] == one[0]).all(axis=1))
    assert len(match) >= 1
    assert (one == one[0]).all()


@pytest.mark.parametrize("size", [0, 10**7])
def test_pool_size_out_of_range(world: tuple[Catalog, np.ndarray, EpisodeSet], size: int) -> None:
    cat, rows, _ = world
    with pytest.raises(IndieValueError, match="pool must be"):
        make_predictor("resemble", {"pool": size}).fit(TrainingPool(cat, rows))


def test_pool_option_from_cli_strings() -> None:
    assert make_predictor("resemble", {"pool": "1600"}).options.pool == 1600  # type: ignore[attr-defined]
    assert make_predictor("resemble", {"pool": "all"}).options.pool == "all"  # type: ignore[attr-defined]
    with pytest.raises(IndieValueError, match="option pool"):
        make_predictor("resemble", {"pool": "most"})
    with pytest.raises(IndieValueError, match="option top_k"):
        make_predictor("resemble", {"top_k": 0})
