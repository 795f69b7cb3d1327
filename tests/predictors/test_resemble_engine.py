"""Resemble's two ranking engines agree exactly: the popcount engine (the default) gives the
same neighbours in the same order as the float32 one-hot product it replaced, hence the same
votes, ties, probabilities, sweeps and records. Checked on catalogs with random answers, many
missing ones and duplicated pool persons (ties at the cut), and on the engine alone against a
brute-force ranking (including more than 255 questions)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from _bench_data import BenchData, override
from indievalue.benchmark.episodes import Episodes, build_episodes
from indievalue.benchmark.evalset import select_eval_set, training_rows, write_eval_ids
from indievalue.benchmark.setups import probe_setups
from indievalue.catalog.spec import Form
from indievalue.catalog.store import Catalog
from indievalue.predictors import TrainingPool, _popcount, make_predictor, resemble
from indievalue.predictors._matmul import MatmulRanker, one_hot
from indievalue.predictors._popcount import AVAILABLE, PoolBits, pack
from indievalue.predictors.resemble import ResemblePredictor
from indievalue.runs.config import EvalConfig
from indievalue.runs.evaluate import evaluate

pytestmark = pytest.mark.skipif(not AVAILABLE, reason="numpy < 2.0: no bitwise_count")

EVAL = 24


def scrambled(cat: Catalog, form: Form, probes: np.ndarray, rng: np.random.Generator,
              eval_rows: np.ndarray) -> np.ndarray:
    """Random answers, a third missing (a random missing rate per person, up to 0.7), a
    tenth of the pool copied from other pool persons (equal similarities); eval persons
    keep a valid answer on every probe."""
    counts = cat.spec.option_counts(form)
    n, q = cat.matrix(form).shape
    mat = (rng.random((n, q)) * counts).astype(np.int8)
    mat[rng.random((n, q)) < rng.random((n, 1)) * 0.7] = -1
    pool = np.setdiff1d(np.arange(n), eval_rows)
    copies = rng.choice(pool, size=len(pool) // 10, replace=False)
    mat[copies] = mat[rng.choice(pool, size=len(copies))]
    fill = mat[eval_rows][:, probes]
    mat[np.ix_(eval_rows, probes)] = np.where(fill >= 0, fill, 0)
    return mat


@pytest.fixture(scope="module")
def random_catalog(bench: BenchData) -> tuple[Catalog, np.ndarray]:
    base = Catalog.load(bench.catalog)
    eval_ids = select_eval_set(base, EVAL, seed=0).person_ids
    eval_rows = base.rows(eval_ids)
    probes = np.array([base.spec.index(q) for s in probe_setups(base.spec) for q in s.qids])
    rng = np.random.default_rng(11)
    cat = override(bench.catalog,
                   polar=scrambled(base, "polar", probes, rng, eval_rows),
                   refined=scrambled(base, "refined", probes, rng, eval_rows))
    return cat, eval_ids


def fitted(cat: Catalog, eval_ids: np.ndarray, engine: str,
           **options: object) -> ResemblePredictor:
    pred = make_predictor("resemble", options, seed=5)
    assert isinstance(pred, ResemblePredictor)
    pred.engine = engine  # type: ignore[assignment]
    return pred.fit(TrainingPool(cat, training_rows(cat, eval_ids)))


def all_episodes(cat: Catalog, eval_ids: np.ndarray, form: Form, **kw: object) -> list[Episodes]:
    return [build_episodes(cat, eval_ids, s, demo_form=form, probe_form=form, seed=2,
                           **kw).episodes  # type: ignore[arg-type]
            for s in probe_setups(cat.spec)]


@pytest.mark.parametrize("form", ["polar", "refined"])
def test_same_neighbours_with_ties_at_the_cut(
        random_catalog: tuple[Catalog, np.ndarray], form: Form) -> None:
    cat, eval_ids = random_catalog
    resemble._MEMO.clear()
    new, old = fitted(cat, eval_ids, "popcount"), fitted(cat, eval_ids, "matmul")
    ties = 0
    for eps in all_episodes(cat, eval_ids, form):
        for k in (1, 7, 24, 35, 300):
            got, want = new.neighbours(eps, k), old.neighbours(eps, k)
            np.testing.assert_array_equal(got, want)
        # the lists really are decided by the tie rule somewhere: equal similarities at the cut
        hot = MatmulRanker(cat.matrix(form)[new._rows], cat.spec, form)
        ctx = np.asarray(eps.visible)
        sim = np.stack([(hot.hot_t.T @ one_hot_row(ctx[e], cat, form)) for e in range(len(eps))])
        top = np.take_along_axis(sim, new.neighbours(eps, 36), axis=1)
        ties += int((top[:, 34] == top[:, 35]).sum())
        assert (np.diff(top, axis=1) <= 0).all()  # best first
    assert ties > 0
    resemble._MEMO.clear()


def one_hot_row(answers: np.ndarray, cat: Catalog, form: Form) -> np.ndarray:
    return one_hot(answers[None, :], cat.spec, form)[0]


@pytest.mark.parametrize(("form", "options", "kw"), [
    ("polar", {"top_k": 1, "sweep": 0}, {}),
    ("polar", {"top_k": 24, "sweep": 35}, {}),
    ("refined", {"top_k": 24, "sweep": 35}, {}),
    ("refined", {"top_k": 5, "sweep": 12, "context": "demos"}, {"demos": 30}),
    ("polar", {"top_k": 3, "sweep": 8, "pool": 40}, {"protocol": "B", "demos": 50}),
    ("refined", {"top_k": 50, "sweep": 60, "pool": 30}, {}),  # more neighbours than the pool
    ("polar", {"top_k": 24, "sweep": 35}, {"demos": 0}),  # nothing shown: every person ties
])
def test_same_predictions(random_catalog: tuple[Catalog, np.ndarray], form: Form,
                          options: dict[str, object], kw: dict[str, object]) -> None:
    cat, eval_ids = random_catalog
    resemble._MEMO.clear()
    new = fitted(cat, eval_ids, "popcount", **options)
    old = fitted(cat, eval_ids, "matmul", **options)
    for eps in all_episodes(cat, eval_ids, form, **kw):
        a, b = new.predict(eps), old.predict(eps)
        np.testing.assert_array_equal(a.choices, b.choices)
        np.testing.assert_array_equal(a.probs, b.probs)
        np.testing.assert_array_equal(a.status if a.status is not None else [],
                                      b.status if b.status is not None else [])
        assert (a.probe_extras is None) == (b.probe_extras is None)
        if a.probe_extras is not None and b.probe_extras is not None:
            np.testing.assert_array_equal(a.probe_extras["sweep"], b.probe_extras["sweep"])
    resemble._MEMO.clear()


@pytest.mark.parametrize("form", ["polar", "refined"])
def test_same_records(random_catalog: tuple[Catalog, np.ndarray], form: Form,
                      tmp_path: Path) -> None:
    cat, eval_ids = random_catalog
    ids = tmp_path / "eval_ids.txt"
    write_eval_ids(ids, eval_ids)
    config = EvalConfig(predictor="resemble", predictor_options={"top_k": 24, "sweep": 35},
                        demo_form=form, probe_form=form, eval_ids_file=ids)
    records = []
    for engine in ("popcount", "matmul"):
        resemble._MEMO.clear()
        pred = make_predictor("resemble", config.predictor_options)
        pred.engine = engine  # type: ignore[attr-defined]
        evaluate(cat, config, tmp_path / engine, predictor=pred)
        records.append((tmp_path / engine / "records.jsonl").read_bytes())
    assert records[0] == records[1]
    assert records[0].count(b"\n") == EVAL * 3 * 39
    resemble._MEMO.clear()


@pytest.mark.parametrize("row_by_row", [0, 10**9])  # the many-ties path always / never
@pytest.mark.parametrize(("persons", "questions", "k"), [
    (3000, 300, 40),  # more than 255 questions: 16-bit counts
    (2500, 60, 24),  # few questions: many equal similarities
    (700, 253, 35),  # a pool smaller than one column group
    (9, 20, 9),  # every pool person
])
def test_engine_against_brute_force(persons: int, questions: int, k: int, row_by_row: int,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_popcount, "MANY_TIES", row_by_row)
    rng = np.random.default_rng(persons + questions)
    counts = rng.integers(2, 7, size=questions)
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    pool = (rng.random((persons, questions)) * counts).astype(np.int8)
    pool[rng.random(pool.shape) < 0.3] = -1
    pool[persons // 2 : persons // 2 + persons // 10] = pool[: persons // 10]  # ties
    eps = (rng.random((40, questions)) * counts).astype(np.int8)
    eps[rng.random(eps.shape) < 0.4] = -1
    eps[0] = -1  # shows nothing: every pool person ties at 0
    bits = PoolBits(pool, offsets, int(counts.sum()))
    got = bits.top_k(pack(eps, offsets, bits.words), k)
    sim = ((pool[None, :, :] == eps[:, None, :]) & (eps[:, None, :] >= 0)).sum(axis=2)
    want = np.stack([np.lexsort((np.arange(persons), -row))[:k] for row in sim])
    np.testing.assert_array_equal(got, want)
