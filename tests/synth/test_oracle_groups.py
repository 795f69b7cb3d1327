"""The oracle under a generator with sub-country groups: it sums over (country, group) cells,
screens countries without losing the right cells, matches importance sampling, and knows the
persons better than the same oracle blind to the groups."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from _posterior_check import assert_laplace_matches_sampling

from indievalue.benchmark.episodes import EpisodeSet, build_episodes
from indievalue.benchmark.evalset import select_eval_set
from indievalue.benchmark.setups import probe_setups
from indievalue.catalog.build import build_catalog
from indievalue.catalog.store import Catalog
from indievalue.predictors import TrainingPool
from indievalue.synth import generate_population, write_wvs
from indievalue.synth.generate.params import SynthParams, load_params
from indievalue.synth.oracle.posterior import AnswerModel, Observed, category_probs, fit_posterior
from indievalue.synth.oracle.predictor import OraclePredictor, _for_catalog

GROUPED = {"sub_groups": 6, "sub_sd": 0.6, "sub_seed": 1}


def _params(**scalars: float) -> SynthParams:
    p = load_params()
    return SynthParams(arrays=p.arrays, scalars={**p.scalars, **scalars})


@pytest.fixture(scope="module")
def grouped_catalog(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    root = tmp_path_factory.mktemp("grouped")
    df = generate_population(3_000, seed=2, params=_params(**GROUPED))
    build_catalog(write_wvs(df, root / "grouped.csv"), root / "catalog")
    return Catalog.load(root / "catalog")


def _oracle(cat: Catalog, params: SynthParams) -> OraclePredictor:
    """An oracle fitted on ``cat`` that knows ``params`` instead of the shipped parameters."""
    oracle = OraclePredictor().fit(TrainingPool(cat, np.arange(10)))
    oracle._cat = _for_catalog(cat.spec, params)
    return oracle


def _episodes(cat: Catalog, n: int, setup: int, form: str, demos: int = 200) -> EpisodeSet:
    ids = select_eval_set(cat, 40, seed=0).person_ids[:n]
    return build_episodes(cat, ids, probe_setups(cat.spec)[setup], demo_form=form,  # type: ignore[arg-type]
                          probe_form=form, seed=0, demos=demos)  # type: ignore[arg-type]


def test_cells_are_countries_times_groups(grouped_catalog: Catalog) -> None:
    m = _oracle(grouped_catalog, _params(**GROUPED))._cat.model
    n_c = m.screen.loc.shape[0] if m.screen is not None else 0
    assert m.cells_of is not None and m.pseudo_of is not None
    assert m.cells_of.shape == (n_c, 6) and m.loc.shape[0] == n_c * 7
    # the group cells' priors sum to one; so do the any-group cells'
    np.testing.assert_allclose(np.exp(m.log_p_country[m.cells_of]).sum(), 1.0)
    np.testing.assert_allclose(np.exp(m.log_p_country[m.pseudo_of]).sum(), 1.0)
    # the group offsets average out to the country's location, the any-group cell's
    np.testing.assert_allclose(m.loc[m.cells_of].mean(axis=1), m.loc[m.pseudo_of], atol=1e-12)
    assert (m.extra_var(m.cells_of) == 0).all() and (m.extra_var(m.pseudo_of) > 0).all()
    plain = _oracle(grouped_catalog, _params(sub_groups=0))._cat.model
    assert plain.screen is None and plain.scale == 1.0 and plain.pseudo_of is None


def _inputs(cat: Catalog, n: int, setup: int, demos: int = 200
            ) -> tuple[AnswerModel, Observed, np.ndarray]:
    """The grouped model, the observed answers of ``n`` refined episodes and their probes."""
    oracle = _oracle(cat, _params(**GROUPED))
    es = _episodes(cat, n, setup, "refined", demos)
    return (oracle._cat.model, oracle._observed(es.episodes, slice(0, n)),
            es.episodes.probe_qidx.astype(np.int64))


def test_screening_keeps_what_the_full_sum_finds(grouped_catalog: Catalog) -> None:
    m, obs, probe_q = _inputs(grouped_catalog, 8, 0)
    screened = category_probs(m, fit_posterior(m, obs, extra_q=probe_q), probe_q)
    every = replace(m, screen=None)  # every cell of every country
    full = category_probs(every, fit_posterior(every, obs, extra_q=probe_q), probe_q)
    assert np.abs(screened - full).max() < 1e-3


def test_few_answers_use_the_any_group_cell_close_to_the_full_sum(
        grouped_catalog: Catalog) -> None:
    """With 10 demonstrations the groups cannot be told apart: the country's any-group cell
    stands for them, and the probabilities stay close to summing over every group."""
    m, obs, probe_q = _inputs(grouped_catalog, 8, 2, demos=10)
    post = fit_posterior(m, obs, extra_q=probe_q)
    assert m.pseudo_of is not None and np.isin(post.country, m.pseudo_of).any()
    fast = category_probs(m, post, probe_q)
    every = replace(m, screen=None)
    full = category_probs(every, fit_posterior(every, obs, extra_q=probe_q), probe_q)
    assert np.abs(fast - full).mean() < 0.01
    assert (fast.argmax(-1) == full.argmax(-1)).mean() > 0.9


def test_grouped_laplace_matches_importance_sampling(grouped_catalog: Catalog) -> None:
    assert_laplace_matches_sampling(*_inputs(grouped_catalog, 5, 1))


def test_knowing_the_groups_predicts_better(grouped_catalog: Catalog) -> None:
    """On a grouped population the oracle that sums over groups gives the true answers more
    probability than the same model without groups."""
    es = _episodes(grouped_catalog, 30, 2, "polar")
    gold = es.gold.astype(np.int64)
    loglik = {}
    for name, params in (("groups", _params(**GROUPED)), ("blind", _params(sub_groups=0))):
        probs = _oracle(grouped_catalog, params).predict(es.episodes).probs
        assert probs is not None
        ok = gold >= 0
        p = np.take_along_axis(probs, np.maximum(gold, 0)[..., None], -1)[..., 0]
        loglik[name] = float(np.log(np.maximum(p[ok], 1e-12)).mean())
    assert loglik["groups"] > loglik["blind"] + 0.02, loglik
