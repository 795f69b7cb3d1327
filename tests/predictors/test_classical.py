"""The learned classical baselines (``logistic``, ``factor``).

On a catalog whose answers follow a planted low-rank structure (every person has a latent
vector in 10 dimensions and answers each question by thresholding a noisy linear score of it),
learning how answers co-vary must beat both the majority answer and voting among the 24 most
similar persons. Also: the closed-form conditioning of the factor model, probabilities, the
pool-share fallback without demonstrations, the chosen hyper-parameters, one-line option
errors, and answers independent of what was asked first.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from indievalue.benchmark.episodes import EpisodeSet, build_episodes
from indievalue.benchmark.setups import probe_setups
from indievalue.catalog.build import build_catalog
from indievalue.catalog.spec import StatementSpec
from indievalue.catalog.spec_io import builtin_spec
from indievalue.catalog.store import Catalog
from indievalue.errors import IndieValueError
from indievalue.predictors import Predictions, Predictor, TrainingPool, make_predictor
from indievalue.predictors.classical import Layout, polar_groups, sample_rows
from indievalue.predictors.factor import FLOORS, RANKS, Factors, Observation
from indievalue.predictors.logistic import BAND_EDGES, C_GRID, band_of
from wvs_testdata import make_wvs_frame, write_wvs

PERSONS = 600
EVAL = 100
RANK = 10
NOISE = 0.5
NAMES = ("majority", "resemble", "logistic", "factor")


@dataclass(frozen=True)
class Planted:
    cat: Catalog
    ids: np.ndarray  # eval persons
    pool: TrainingPool


def planted_catalog(root: Path) -> Planted:
    spec = builtin_spec()
    df = make_wvs_frame(PERSONS, seed=4, missing_rate=0.0)
    rng = np.random.default_rng([4, 1])
    latent = rng.normal(size=(PERSONS, RANK))
    for q in spec.questions:
        codes = np.array(sorted(q.valid_codes))
        score = latent @ rng.normal(size=RANK) + NOISE * rng.normal(size=PERSONS)
        cuts = np.quantile(score, np.linspace(0, 1, len(codes) + 1)[1:-1])
        df[q.qid] = codes[np.searchsorted(cuts, score)]
    build_catalog(write_wvs(df, root / "planted.csv"), root / "catalog")
    cat = Catalog.load(root / "catalog")
    ids = cat.person_ids[:EVAL]
    return Planted(cat, ids, TrainingPool(cat, np.flatnonzero(~np.isin(cat.person_ids, ids))))


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Planted:
    return planted_catalog(tmp_path_factory.mktemp("lowrank"))


@pytest.fixture(scope="module")
def fitted(planted: Planted) -> dict[str, Predictor]:
    """Every compared predictor with its defaults, fitted once on the planted pool."""
    return {name: make_predictor(name, seed=1).fit(planted.pool) for name in NAMES}


def episodes(p: Planted, form: str = "polar", demo_form: str | None = None, demos: int = 200,
             protocol: str = "A", setup: int = 0, demographics: str = "off") -> EpisodeSet:
    return build_episodes(p.cat, p.ids, probe_setups(p.cat.spec)[setup],
                          protocol=protocol, demos=demos,
                          demo_form=demo_form or form,
                          probe_form=form, demographics=demographics,
                          seed=2)


def check_probs(es: EpisodeSet, preds: Predictions) -> None:
    """Probabilities over each probe's options sum to one, NaN beyond; the choice is the
    most probable option."""
    assert preds.probs is not None and preds.status is None
    n_opt = es.episodes.n_options
    inside = np.arange(preds.probs.shape[-1])[None, None, :] < n_opt[..., None]
    assert np.isfinite(preds.probs[inside]).all() and (preds.probs[inside] >= 0).all()
    assert np.isnan(preds.probs[~inside]).all()
    np.testing.assert_allclose(np.where(inside, preds.probs, 0).sum(axis=-1), 1.0, atol=1e-5)
    best = np.where(inside, preds.probs, -1).argmax(axis=-1)
    np.testing.assert_array_equal(preds.choices, best)


# -- what learning buys -----------------------------------------------------------------------

@pytest.mark.parametrize("form", ["polar", "refined"])
def test_beat_majority_and_resemble_on_planted_low_rank_answers(
        planted: Planted, fitted: dict[str, Predictor], form: str) -> None:
    es = episodes(planted, form)
    acc = {name: float((pred.predict(es.episodes).choices == es.gold).mean())
           for name, pred in fitted.items()}
    for name in ("logistic", "factor"):
        assert acc[name] > acc["majority"] + 0.3, acc
        assert acc[name] > acc["resemble"] + 0.025, acc


def test_fewer_demonstrations_still_beat_majority(planted: Planted,
                                                  fitted: dict[str, Predictor]) -> None:
    """d = 30 falls in another band of the logistic models; the factor model conditions on
    any subset."""
    es = episodes(planted, demos=30)
    majority = (fitted["majority"].predict(es.episodes).choices == es.gold).mean()
    for name in ("logistic", "factor"):
        acc = (fitted[name].predict(es.episodes).choices == es.gold).mean()
        assert acc > majority + 0.2, (name, acc, majority)


# -- the factor model's closed form -----------------------------------------------------------

def test_woodbury_conditioning_equals_the_gaussian_formula(spec: StatementSpec) -> None:
    """E[x | shown answers] of the questions not shown, from the latent posterior, equals
    μ + Σ_xy Σ_yy⁻¹ (y − E y) with the full covariance, for refined demonstrations (y = x on
    the shown indicators) and polar ones (y = A x, A summing refined indicators into polar
    options)."""
    rng = np.random.default_rng(0)
    refined, polar = Layout.of(spec, "refined"), Layout.of(spec, "polar")
    model = Factors(rng.random(refined.width), rng.normal(size=(refined.width, 5)) * 0.3,
                    rng.uniform(0.05, 0.3, refined.width))
    cov = model.loadings @ model.loadings.T + np.diag(model.noise)
    groups = polar_groups(spec)
    a = np.zeros((polar.width, refined.width))
    for q in range(len(spec.questions)):
        for r in range(int(refined.counts[q])):
            a[polar.offsets[q] + groups[q, r], refined.offsets[q] + r] = 1.0
    for form, layout, obs in (("refined", refined, np.eye(refined.width)), ("polar", polar, a)):
        shown = np.full((3, len(spec.questions)), -1, dtype=np.int8)
        for e, qs in enumerate((np.arange(0, 253, 3), np.arange(40), np.array([7]))):
            shown[e, qs] = rng.integers(0, layout.counts[qs])
        latent = Observation.of(model, form, spec).latent_means(shown)
        got = model.mean + latent @ model.loadings.T
        for e in range(len(shown)):
            cols = np.concatenate([np.arange(layout.offsets[q], layout.offsets[q]
                                             + layout.counts[q])
                                   for q in np.flatnonzero(shown[e] >= 0)])
            y = layout.one_hot(shown[e : e + 1]).toarray()[0, cols]
            o = obs[cols]
            want = model.mean + cov @ o.T @ np.linalg.solve(o @ cov @ o.T, y - o @ model.mean)
            # the questions not shown (a shown one's noise is observed, not predicted)
            hidden = np.repeat(shown[e] < 0, refined.counts)
            np.testing.assert_allclose(got[e, hidden], want[hidden], atol=1e-8)


# -- probabilities and the no-demonstration fallback ------------------------------------------

@pytest.mark.parametrize("name", ["logistic", "factor"])
@pytest.mark.parametrize(("protocol", "demo_form", "form"),
                         [("A", "polar", "polar"), ("A", "refined", "polar"),
                          ("B", "polar", "refined")])
def test_probabilities_sum_to_one_over_valid_options(
        planted: Planted, fitted: dict[str, Predictor], name: str, protocol: str,
        demo_form: str, form: str) -> None:
    es = episodes(planted, form, demo_form=demo_form, protocol=protocol)
    if protocol == "B":
        es = EpisodeSet(es.episodes.subset(np.arange(0, len(es.episodes), 13)),
                        es.gold[::13])
    check_probs(es, fitted[name].predict(es.episodes))


def test_polar_probabilities_are_sums_of_refined_ones(planted: Planted,
                                                      fitted: dict[str, Predictor]) -> None:
    """logistic: one refined model per question serves both probe forms."""
    pred = fitted["logistic"]
    polar = pred.predict(episodes(planted, "polar", demo_form="refined").episodes).probs
    refined = pred.predict(episodes(planted, "refined").episodes).probs
    assert polar is not None and refined is not None
    spec = planted.cat.spec
    for j, qid in enumerate(probe_setups(spec)[0].qids):
        mapping = np.array(spec.question(qid).refined_to_polar())
        summed = np.stack([refined[:, j, : len(mapping)][:, mapping == p].sum(axis=1)
                           for p in range(mapping.max() + 1)], axis=1)
        np.testing.assert_allclose(polar[:, j, : mapping.max() + 1], summed, atol=1e-5)


@pytest.mark.parametrize("name", ["logistic", "factor"])
@pytest.mark.parametrize(("demos", "demographics"), [(0, "off"), (200, "only"), (0, "on")])
def test_no_demonstrations_give_the_pool_shares(
        planted: Planted, fitted: dict[str, Predictor], name: str, demos: int,
        demographics: str) -> None:
    """Demographic statements are not read: without demonstrations the answer is the
    majority baseline's, probabilities included."""
    es = episodes(planted, "refined", demos=demos, demographics=demographics)
    got, majority = fitted[name].predict(es.episodes), fitted["majority"].predict(es.episodes)
    np.testing.assert_array_equal(got.choices, majority.choices)
    assert got.probs is not None and majority.probs is not None
    np.testing.assert_allclose(got.probs, majority.probs, atol=1e-6)


def test_demographics_on_change_nothing(planted: Planted,
                                        fitted: dict[str, Predictor]) -> None:
    off = episodes(planted).episodes
    on = episodes(planted, demographics="on").episodes
    for name in ("logistic", "factor"):
        a, b = fitted[name].predict(off), fitted[name].predict(on)
        np.testing.assert_array_equal(a.probs, b.probs)


# -- hyper-parameters chosen on validation ----------------------------------------------------

def test_hyper_parameters_come_from_the_validation_grid(planted: Planted,
                                                        fitted: dict[str, Predictor]) -> None:
    logistic, factor = fitted["logistic"], fitted["factor"]
    logistic.predict(episodes(planted).episodes)  # polar demonstrations, 200 shown
    key = ("polar", int(band_of(np.array([200]))[0]))
    assert band_of(np.array([200]))[0] == len(BAND_EDGES) - 1
    assert set(logistic.selection[key]) == set(C_GRID)
    chosen = logistic.chosen_C[key]
    assert logistic.selection[key][chosen] == min(
        logistic.selection[key].values())
    assert set(factor.selection) == {(r, f) for r in RANKS for f in FLOORS}
    best = min(factor.selection.values())
    assert factor.selection[(factor.rank, factor.floor)] == best
    # the planted structure has 10 dimensions: far fewer factors cannot be best
    assert factor.rank >= 8


def test_band_edges() -> None:
    np.testing.assert_array_equal(band_of(np.array([1, 15, 16, 50, 100, 150, 159, 160, 253])),
                                  [0, 0, 1, 2, 3, 3, 3, 4, 4])


# -- determinism ------------------------------------------------------------------------------

def test_answers_do_not_depend_on_what_was_asked_first_or_threads(planted: Planted) -> None:
    """Models are fitted on first use: asking in another order (another band first, other
    probes first), on one thread or two, gives the same answers."""
    options = {"pool_size": 200, "C": 0.01}
    full = episodes(planted, protocol="B", setup=1).episodes
    # 4 persons x 3 probes, as protocol B episodes, with 200 and with 30 demonstrations
    rows = np.flatnonzero(np.isin(full.probe_qidx[:, 0], np.unique(full.probe_qidx)[:3])
                          & np.isin(full.person_ids, planted.ids[:4]))
    sets = [episodes(planted, protocol="B", setup=1, demos=d).episodes.subset(rows)
            for d in (200, 30)]
    a = make_predictor("logistic", {**options, "threads": 1}, seed=3).fit(planted.pool)
    b = make_predictor("logistic", {**options, "threads": 2}, seed=3).fit(planted.pool)
    first = [a.predict(s) for s in sets]
    second = [b.predict(s.subset(np.arange(len(s))[::-1])) for s in sets[::-1]][::-1]
    for x, y in zip(first, second, strict=True):
        np.testing.assert_array_equal(x.probs, y.probs[::-1])


def test_the_pool_sample_is_resembles(planted: Planted) -> None:
    """At most ``pool_size`` persons, seeded, and the same persons Resemble's ``pool`` of the
    same size draws."""
    rows = sample_rows(planted.pool, 50, seed=4)
    assert len(rows) == 50 and (np.diff(rows) > 0).all()
    assert set(rows) <= set(planted.pool.rows.tolist())
    np.testing.assert_array_equal(rows, sample_rows(planted.pool, 50, seed=4))
    assert not np.array_equal(rows, sample_rows(planted.pool, 50, seed=5))
    np.testing.assert_array_equal(sample_rows(planted.pool, 10**6, seed=4),
                                  np.sort(planted.pool.rows))
    resemble = make_predictor("resemble", {"pool": 50}, seed=4).fit(planted.pool)
    np.testing.assert_array_equal(np.sort(resemble._rows), rows)


def test_a_one_person_pool_cannot_choose_hyper_parameters(planted: Planted) -> None:
    one = TrainingPool(planted.cat, planted.pool.rows[:1])
    with pytest.raises(IndieValueError, match="factor: a training pool of 1 person"):
        make_predictor("factor").fit(one)
    pred = make_predictor("factor", {"rank": 2, "floor": 0.05}).fit(one)
    es = episodes(planted)
    check_probs(es, pred.predict(es.episodes))


# -- options ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "options", "field"), [
    ("logistic", {"C": 0}, "C"),
    ("logistic", {"C": "strong"}, "C"),
    ("logistic", {"pool_size": 1}, "pool_size"),
    ("logistic", {"threads": 0}, "threads"),
    ("logistic", {"max_iter": "many"}, "max_iter"),
    ("factor", {"rank": 0}, "rank"),
    ("factor", {"rank": "high"}, "rank"),
    ("factor", {"floor": 0.5}, "floor"),
    ("factor", {"pool_size": "all"}, "pool_size"),
])
def test_bad_options_are_one_line(name: str, options: dict[str, object], field: str) -> None:
    with pytest.raises(IndieValueError, match=rf"^predictor {name}: option {field}\b") as info:
        make_predictor(name, options)
    assert "\n" not in str(info.value)


def test_options_are_coerced_from_strings() -> None:
    pred = make_predictor("logistic", {"C": "0.5", "pool_size": "300"})
    assert pred.options.C == 0.5 and pred.options.pool_size == 300
    assert make_predictor("logistic", {"C": "auto"}).options.C == "auto"
    assert make_predictor("factor", {"rank": "12"}).options.rank == 12
