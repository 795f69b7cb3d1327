"""Random and global-majority baselines (PROTOCOL §5.1–5.2)."""

from __future__ import annotations

import numpy as np
import pytest

from _bench_data import BenchData, override
from indievalue.benchmark.episodes import build_episodes
from indievalue.benchmark.evalset import select_eval_set, training_rows
from indievalue.benchmark.setups import probe_setups
from indievalue.catalog.spec import StatementSpec
from indievalue.catalog.store import Catalog
from indievalue.predictors import TrainingPool, make_predictor
from indievalue.predictors.baselines import expected_accuracy, option_frequencies


def setup_counts(spec: StatementSpec, form: str) -> list[np.ndarray]:
    counts = spec.option_counts(form)  # type: ignore[arg-type]
    return [counts[[spec.index(q) for q in s.qids]] for s in probe_setups(spec)]


def test_random_expected_accuracy_polar_matches_table_18(spec: StatementSpec) -> None:
    """Issue acceptance: the analytic random baseline per setup, polar, two decimals."""
    got = [round(expected_accuracy(c), 2) for c in setup_counts(spec, "polar")]
    assert got == [46.37, 45.51, 44.23]
    assert round(float(np.mean(got)), 2) == 45.37


def test_random_expected_accuracy_refined(spec: StatementSpec) -> None:
    got = [round(expected_accuracy(c), 2) for c in setup_counts(spec, "refined")]
    assert got == [27.18, 27.18, 27.10]


def test_expected_accuracy_formula() -> None:
    assert expected_accuracy(np.array([2, 4])) == pytest.approx(37.5)
    assert expected_accuracy(np.array([[3, 3], [3, 3]])) == pytest.approx(100 / 3)


@pytest.mark.parametrize("form", ["polar", "refined"])
def test_random_empirical_accuracy_near_expected(bench: BenchData, form: str) -> None:
    cat = Catalog.load(bench.catalog)
    ids = select_eval_set(cat, 200, seed=0).person_ids
    pred = make_predictor("random", seed=11)
    for setup, counts in zip(probe_setups(cat.spec), setup_counts(cat.spec, form), strict=True):
        es = build_episodes(cat, ids, setup, demo_form=form,  # type: ignore[arg-type]
                            probe_form=form, seed=0)  # type: ignore[arg-type]
        p = pred.predict(es.episodes)
        acc = float((p.choices == es.gold).mean() * 100)
        # 200 x 39 draws: sd of the mean ~0.6 points
        assert acc == pytest.approx(expected_accuracy(counts), abs=3.0)
        assert p.probs is not None
        np.testing.assert_allclose(p.probs[0, :, 0], 1.0 / counts)


def test_random_is_seeded(bench: BenchData) -> None:
    cat = Catalog.load(bench.catalog)
    ids = select_eval_set(cat, 30, seed=0).person_ids
    es = build_episodes(cat, ids, probe_setups(cat.spec)[0], seed=0)
    a = make_predictor("random", seed=1).predict(es.episodes).choices
    b = make_predictor("random", seed=1).predict(es.episodes).choices
    c = make_predictor("random", seed=2).predict(es.episodes).choices
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    # every option of a 4-option probe gets picked somewhere
    assert len(np.unique(a)) >= 2


def tiny_majority_case(bench: BenchData) -> tuple[Catalog, np.ndarray, int]:
    """Pool = catalog rows 0..6 with hand-set answers to Q1, Q2, Q3 (the first probes)."""
    base = Catalog.load(bench.catalog)
    polar, refined = base.polar.copy(), base.refined.copy()
    q1, q2, q3 = (base.spec.index(q) for q in ("Q1", "Q2", "Q3"))
    polar[:7, q1] = [1, 1, 1, 0, 0, -1, -1]  # 1 wins; the 2 missing answers do not count
    polar[:7, q2] = [0, 1, 0, 1, -1, -1, -1]  # tie between 0 and 1 -> lowest index; missing
    polar[:7, q3] = [-1, -1, -1, -1, -1, 1, 1]  # missing is most frequent but never predicted
    refined[:7, q1] = [3, 3, 2, 2, 2, 0, 1]
    cat = override(bench.catalog, polar=polar, refined=refined)
    return cat, np.arange(7), int(base.person_ids[100])


def test_majority_is_the_pools_most_frequent_answer(bench: BenchData) -> None:
    cat, pool_rows, pid = tiny_majority_case(bench)
    pred = make_predictor("majority").fit(TrainingPool(cat, pool_rows))
    setup = probe_setups(cat.spec)[0]
    assert setup.qids[:3] == ("Q1", "Q2", "Q3")
    es = build_episodes(cat, np.array([pid]), setup, seed=0)
    p = pred.predict(es.episodes)
    assert p.choices[0, :3].tolist() == [1, 0, 1]
    assert p.probs is not None
    np.testing.assert_allclose(p.probs[0, 0, :2], [2 / 5, 3 / 5], rtol=1e-6)
    np.testing.assert_allclose(p.probs[0, 1, :2], [0.5, 0.5], rtol=1e-6)
    assert np.isnan(p.probs[0, 0, 2:]).all()
    ref = build_episodes(cat, np.array([pid]), setup, demo_form="refined",
                         probe_form="refined", seed=0)
    pr = pred.predict(ref.episodes)
    assert pr.choices[0, 0] == 2
    assert pr.probs is not None
    np.testing.assert_allclose(pr.probs[0, 0, :4], [1 / 7, 1 / 7, 3 / 7, 2 / 7], rtol=1e-6)


def test_majority_ignores_the_episode(bench: BenchData) -> None:
    """Everyone gets the same answer per probe, whatever their demonstrations."""
    cat = Catalog.load(bench.catalog)
    ids = select_eval_set(cat, 30, seed=0).person_ids
    pred = make_predictor("majority").fit(TrainingPool(cat, training_rows(cat, ids)))
    es = build_episodes(cat, ids, probe_setups(cat.spec)[2], seed=0)
    ch = pred.predict(es.episodes).choices
    assert (ch == ch[0]).all()
    pool = cat.polar[training_rows(cat, ids)]
    probes = [cat.spec.index(q) for q in probe_setups(cat.spec)[2].qids]
    for j, q in enumerate(probes):
        counts = np.bincount(pool[:, q][pool[:, q] >= 0], minlength=8)
        assert ch[0, j] == int(np.argmax(counts))


def test_option_frequencies() -> None:
    mat = np.array([[0, 1], [0, -1], [1, 2], [-1, -1]], dtype=np.int8)
    f = option_frequencies(mat, np.array([2, 3]))
    np.testing.assert_allclose(f, [[2 / 3, 1 / 3, 0], [0, 0.5, 0.5]])
