"""Typed predictor options, ``--option KEY=VALUE`` parsing, and the hooks every predictor
has: ``batch_size``, ``stats()`` and the check that ``fit`` came before ``predict``."""

from __future__ import annotations

import numpy as np
import pytest

from _bench_data import BenchData
from indievalue.benchmark.episodes import Episodes, build_episodes
from indievalue.benchmark.setups import probe_setups
from indievalue.catalog.store import Catalog
from indievalue.errors import IndieValueError
from indievalue.predictors import make_predictor
from indievalue.predictors.base import (
    Predictions,
    Predictor,
    PredictorStats,
    TrainingPool,
    parse_option_pairs,
)


def test_parse_option_pairs() -> None:
    assert parse_option_pairs([]) == {}
    assert parse_option_pairs(["top_k=24", " pool = all ", "expr=a=b", "empty="]) == {
        "top_k": "24", "pool": "all", "expr": "a=b", "empty": ""}
    # the last occurrence wins
    assert parse_option_pairs(["top_k=1", "top_k=2"]) == {"top_k": "2"}


@pytest.mark.parametrize("bad", ["top_k", "=3", " =3", ""])
def test_parse_option_pairs_rejects(bad: str) -> None:
    with pytest.raises(IndieValueError, match="KEY=VALUE"):
        parse_option_pairs([bad])


def test_option_strings_are_coerced_to_their_types() -> None:
    pred = make_predictor("resemble", parse_option_pairs(["top_k=3", "pool=100",
                                                          "context=demos", "sweep=0"]))
    opts = pred.options.model_dump()
    assert opts == {"top_k": 3, "pool": 100, "context": "demos", "sweep": 0}
    assert pred.describe() == "resemble(top_k=3, pool=100, context=demos, sweep=0)"


@pytest.mark.parametrize(
    ("options", "pattern"),
    [
        ({"top_k": "many"}, r"predictor resemble: option top_k: .*integer"),
        ({"topk": "3"}, r"predictor resemble: option topk: .*not permitted"),
        ({"context": "everything"}, r"option context"),
        ({"sweep": "-1"}, r"option sweep"),
    ],
)
def test_bad_options_name_the_option(options: dict[str, str], pattern: str) -> None:
    with pytest.raises(IndieValueError, match=pattern):
        make_predictor("resemble", options)


def test_options_are_frozen() -> None:
    pred = make_predictor("resemble", {"top_k": 2})
    with pytest.raises(Exception, match="frozen"):
        pred.options.top_k = 5  # type: ignore[attr-defined]


def test_baselines_without_options() -> None:
    assert make_predictor("random").describe() == "random"
    with pytest.raises(IndieValueError, match="predictor majority: option top_k"):
        make_predictor("majority", {"top_k": 1})


def test_constructor_stores_seed_only() -> None:
    pred = make_predictor("random", seed=42)
    assert pred.seed == 42


# -- what evaluate asks of every predictor, declared on the base class -----------------------

class _Memorise(Predictor):
    """A predictor that learns (overrides fit) and one that opts out of the check."""

    name = "memorise"

    def fit(self, pool: TrainingPool) -> _Memorise:
        self.n = len(pool)
        return self

    def predict(self, episodes: Episodes) -> Predictions:
        return Predictions(np.full(episodes.probe_qidx.shape, self.n % 2))


class _Preloaded(_Memorise):
    needs_fit = False
    n = 0


@pytest.mark.parametrize("name", ["majority", "resemble"])
def test_predict_before_fit_is_one_clear_error(bench: BenchData, name: str) -> None:
    pred = make_predictor(name)
    assert pred.needs_fit and not pred.fitted
    with pytest.raises(IndieValueError, match=rf"^predictor {name}: predict\(\) called before "
                       r"fit\(\); fit it on a training pool first$"):
        pred.predict(_episodes(bench))
    pred.fit(_pool(bench))
    assert pred.fitted
    assert pred.predict(_episodes(bench)).choices.shape == (4, 39)


def test_fitted_check_comes_free_with_fit(bench: BenchData) -> None:
    assert not make_predictor("random").needs_fit  # learns nothing: predicts unfitted
    make_predictor("random").predict(_episodes(bench))
    with pytest.raises(IndieValueError, match="predictor memorise: predict"):
        _Memorise().predict(_episodes(bench))
    assert _Memorise().fit(_pool(bench)).predict(_episodes(bench)).choices.shape == (4, 39)
    assert not _Preloaded.needs_fit
    assert _Preloaded().predict(_episodes(bench)).choices.shape == (4, 39)
    loaded = _Memorise()
    loaded.n = 1
    loaded.mark_fitted()  # e.g. a model read from disk
    assert loaded.predict(_episodes(bench)).choices.min() == 1


def test_declared_hooks_have_defaults() -> None:
    pred = make_predictor("majority")
    assert pred.batch_size == 256 and pred.stats() is None
    lm = make_predictor("openai", {"model": "m", "batch_size": 3, "cache": "off"})
    assert lm.batch_size == 3
    stats = lm.stats()
    assert stats == PredictorStats()  # nothing asked yet; no backend built for it


def test_predictor_stats_add_up_and_round_trip() -> None:
    a = PredictorStats(cache_hits=2, retries=1, cost=0.5, faults={"timeout": 1})
    b = PredictorStats(cache_hits=3, parse_failures=4, cost=0.25,
                       faults={"timeout": 2, "http_500": 1})
    total = a + b
    assert (total.cache_hits, total.retries, total.parse_failures) == (5, 1, 4)
    assert total.cost == 0.75 and total.faults == {"timeout": 3, "http_500": 1}
    assert a.faults == {"timeout": 1}  # the operands are left alone
    assert PredictorStats.from_json({**total.to_json(), "later_field": 1}) == total
    assert list(total.to_json()) == ["cache_hits", "cache_misses", "retries", "parse_failures",
                                     "requests", "tokens_in", "tokens_out", "cost", "faults"]


def _pool(bench: BenchData) -> TrainingPool:
    cat = Catalog.load(bench.catalog)
    return TrainingPool(cat, np.arange(100, 400))


def _episodes(bench: BenchData) -> Episodes:
    cat = Catalog.load(bench.catalog)
    setup = probe_setups(cat.spec)[0]
    return build_episodes(cat, cat.person_ids[:4], setup, demos=20, seed=0).episodes
