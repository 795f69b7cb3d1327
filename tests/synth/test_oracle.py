"""The oracle: Bayes-optimal answers under the generator, on generated catalogs only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _posterior_check import assert_laplace_matches_sampling

from indievalue.benchmark.episodes import EpisodeSet, build_episodes
from indievalue.benchmark.evalset import select_eval_set, training_rows
from indievalue.benchmark.setups import probe_setups
from indievalue.catalog.build import build_catalog
from indievalue.catalog.store import Catalog
from indievalue.errors import IndieValueError
from indievalue.predictors import Predictions, TrainingPool, make_predictor
from indievalue.runs.config import EvalConfig
from indievalue.runs.evaluate import evaluate
from indievalue.synth import write_wvs
from indievalue.synth.generate.params import load_params
from indievalue.synth.oracle.posterior import Observed, _interval, fit_posterior
from indievalue.synth.oracle.predictor import OraclePredictor

EVAL_SIZE = 40


@pytest.fixture(scope="module")
def cat(synth_catalog: Path) -> Catalog:
    return Catalog.load(synth_catalog)


@pytest.fixture(scope="module")
def ids(cat: Catalog) -> np.ndarray:
    return select_eval_set(cat, EVAL_SIZE, seed=0).person_ids


@pytest.fixture(scope="module")
def pool(cat: Catalog, ids: np.ndarray) -> TrainingPool:
    return TrainingPool(cat, training_rows(cat, ids))


@pytest.fixture(scope="module")
def oracle(pool: TrainingPool) -> OraclePredictor:
    pred = make_predictor("oracle").fit(pool)
    assert isinstance(pred, OraclePredictor)
    return pred


def _episodes(cat: Catalog, ids: np.ndarray, setup: int = 0, form: str = "polar",
              **kw: object) -> EpisodeSet:
    return build_episodes(cat, ids, probe_setups(cat.spec)[setup], demo_form=form,  # type: ignore[arg-type]
                          probe_form=form, seed=0, **kw)  # type: ignore[arg-type]


def _altered(path: Path, rows: np.ndarray, cols: np.ndarray) -> Catalog:
    """A fresh Catalog on ``path`` whose answers at (rows x cols) all move to another option
    (in memory only)."""
    cat = Catalog.load(path)
    r, c = np.ix_(rows, cols)
    for form in ("polar", "refined"):
        mat = cat.matrix(form).copy()  # type: ignore[arg-type]
        n_opt = cat.spec.option_counts(form)[cols]  # type: ignore[arg-type]
        block = mat[r, c].astype(np.int64)
        mat[r, c] = np.where(block >= 0, (block + 1) % n_opt, block).astype(np.int8)
        setattr(cat, form, mat)
    return cat


def _accuracy(preds: Predictions, es: EpisodeSet) -> float:
    return float((preds.choices == es.gold).mean())


@pytest.mark.parametrize("form", ["polar", "refined"])
def test_beats_majority_and_resemble(cat: Catalog, ids: np.ndarray, pool: TrainingPool,
                                     oracle: OraclePredictor, form: str) -> None:
    others = {"majority": make_predictor("majority").fit(pool),
              "top1": make_predictor("resemble", {"top_k": 1, "sweep": 0}).fit(pool),
              "top24": make_predictor("resemble", {"top_k": 24, "sweep": 0}).fit(pool)}
    acc = {k: 0.0 for k in [*others, "oracle"]}
    for setup in range(3):
        es = _episodes(cat, ids, setup, form)
        acc["oracle"] += _accuracy(oracle.predict(es.episodes), es)
        for name, pred in others.items():
            acc[name] += _accuracy(pred.predict(es.episodes), es)
    best_other = max(v for k, v in acc.items() if k != "oracle")
    assert acc["oracle"] > best_other + 0.03 * 3, acc  # > 3 points over the best baseline


def test_valid_probabilities_and_choices(cat: Catalog, ids: np.ndarray,
                                         oracle: OraclePredictor) -> None:
    for form, protocol in (("polar", "A"), ("refined", "A"), ("refined", "B")):
        es = _episodes(cat, ids[:6], 1, form, protocol=protocol)
        eps = es.episodes
        out = oracle.predict(eps)
        assert out.probs is not None
        n_opt = eps.n_options
        inside = np.arange(out.probs.shape[-1]) < n_opt[..., None]
        assert np.isnan(out.probs[~inside]).all()
        assert (out.probs[inside] >= 0).all()
        np.testing.assert_allclose(np.where(inside, out.probs, 0).sum(-1), 1.0, atol=1e-5)
        assert ((out.choices >= 0) & (out.choices < n_opt)).all()
        np.testing.assert_array_equal(out.choices, np.nan_to_num(out.probs, nan=-1).argmax(-1))


def test_deterministic_and_batch_independent(cat: Catalog, ids: np.ndarray, pool: TrainingPool,
                                             oracle: OraclePredictor) -> None:
    es = _episodes(cat, ids[:40], 2, "refined")
    a = oracle.predict(es.episodes)
    b = make_predictor("oracle", seed=99).fit(pool).predict(es.episodes)
    np.testing.assert_array_equal(a.choices, b.choices)
    np.testing.assert_array_equal(a.probs, b.probs)
    for threads in (1, 3):  # batches on any number of threads: the same numbers
        c = make_predictor("oracle", {"threads": threads}).fit(pool).predict(es.episodes)
        np.testing.assert_array_equal(a.probs, c.probs)
    alone = oracle.predict(es.episodes.subset(np.array([7])))
    np.testing.assert_allclose(alone.probs[0], a.probs[7], atol=1e-6)  # type: ignore[index]


def test_cannot_read_gold(synth_catalog: Path, cat: Catalog, ids: np.ndarray,
                          oracle: OraclePredictor) -> None:
    setup = probe_setups(cat.spec)[0]
    probes = np.array([cat.spec.index(q) for q in setup.qids])
    altered = _altered(synth_catalog, cat.rows(ids[:8]), probes)
    es, es2 = _episodes(cat, ids[:8]), _episodes(altered, ids[:8])
    assert (es.gold != es2.gold).all()
    np.testing.assert_array_equal(oracle.predict(es.episodes).probs,
                                  oracle.predict(es2.episodes).probs)


def test_country_statement_is_used(cat: Catalog, ids: np.ndarray,
                                   oracle: OraclePredictor) -> None:
    es = _episodes(cat, ids[:6], 0, demographics="on")
    obs = oracle._observed(es.episodes, slice(0, 6))
    codes = cat.persons.set_index("person_id").loc[ids[:6], "country_code"].to_numpy()
    model_codes = load_params()["country_code"]
    np.testing.assert_array_equal(model_codes[obs.country], codes)
    m = oracle._cat.model
    post = fit_posterior(m, obs)
    assert (m.cell_country[post.country] == obs.country[post.episode]).all()


def test_laplace_matches_importance_sampling(cat: Catalog, ids: np.ndarray,
                                             oracle: OraclePredictor) -> None:
    """The Laplace posterior predictive against an importance-sampling reference."""
    es = _episodes(cat, ids[:6], 1, "refined")
    obs = oracle._observed(es.episodes, slice(0, 6))
    probe_q = es.episodes.probe_qidx.astype(np.int64)
    assert_laplace_matches_sampling(oracle._cat.model, obs, probe_q)


def test_interval_derivatives() -> None:
    rng = np.random.default_rng(0)
    lower = np.array([-1e6, -0.4, 0.3, 1.2])
    upper = np.array([0.2, 0.5, 1e6, 2.0])
    eta = rng.normal(0, 1, 4)
    sig = np.array([0.3, 0.9, 0.5, 0.22])
    ll, d1, d2 = _interval(lower, upper, eta, sig)
    h = 1e-5
    up, _, _ = _interval(lower, upper, eta + h, sig)
    dn, _, _ = _interval(lower, upper, eta - h, sig)
    np.testing.assert_allclose(d1, (up - dn) / (2 * h), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(d2, (up - 2 * ll + dn) / h**2, rtol=1e-3, atol=1e-3)


def test_prior_only_without_demonstrations(cat: Catalog, ids: np.ndarray,
                                           oracle: OraclePredictor) -> None:
    """With nothing shown, every person gets the population's marginal answer."""
    es = _episodes(cat, ids[:3], 0, demographics="only")
    out = oracle.predict(es.episodes)
    assert out.probs is not None
    m = oracle._cat.model
    obs = Observed(np.full((1, 0), -1), np.full((1, 0), -1), np.full((1, 0), -1),
                   np.array([-1]))
    post = fit_posterior(m, obs)
    # every hypothesis is kept; with sub-country groups, none of which can be told apart yet,
    # they are the countries' any-group cells
    assert m.pseudo_of is not None
    assert len(post.episode) == len(m.pseudo_of) * len(m.levels)
    np.testing.assert_array_equal(np.unique(post.country), np.sort(m.pseudo_of))


def _relabelled_catalog(frame: pd.DataFrame, root: Path, label: str) -> Path:
    df = frame.head(300).copy()
    df["version"] = label
    csv = write_wvs(df, root / "relabelled.csv")
    build_catalog(csv, root / "catalog")
    return root / "catalog"


def test_refuses_real_catalog(tmp_path: Path, synth_frame: pd.DataFrame) -> None:
    path = _relabelled_catalog(synth_frame, tmp_path, "5-0-0 (2022-12-14)")
    assert not Catalog.load(path).synthetic
    with pytest.raises(IndieValueError, match="synthetic catalogs"):
        evaluate(path, EvalConfig(predictor="oracle", eval_size=10), tmp_path / "run")
    with pytest.raises(IndieValueError, match="synthetic"):
        OraclePredictor().fit(TrainingPool(Catalog.load(path), np.arange(10)))


def test_refuses_another_generator_version(synth_catalog: Path) -> None:
    cat = Catalog.load(synth_catalog)
    cat.manifest["source_version_label"] = "SYNTHETIC indievalue-synth 0.9.0 seed=0"
    with pytest.raises(IndieValueError, match=r"generator 0\.9\.0"):
        OraclePredictor().fit(TrainingPool(cat, np.arange(10)))


def test_refuses_a_foreign_synthetic_file(synth_catalog: Path, tmp_path: Path) -> None:
    cat = Catalog.load(synth_catalog)
    cat.manifest["source_version_label"] = "SYNTHETIC test data"
    with pytest.raises(IndieValueError, match="indievalue synth"):
        OraclePredictor().fit(TrainingPool(cat, np.arange(10)))
    with pytest.raises(IndieValueError, match="indievalue synth"):
        evaluate(cat, EvalConfig(predictor="oracle", eval_size=10), tmp_path / "run")
    assert not (tmp_path / "run").exists()  # refused before anything was written
