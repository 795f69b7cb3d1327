"""The shared LM predictor logic with a scripted backend: bounded retries, parse failures
counted (records and summary), per-attempt seeds and cache entries, loglik probabilities."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _lm_support import RECORD_FIELDS, LMWorld, check_run, lm_catalog, read_records

from indievalue.benchmark.episodes import Episodes, build_episodes
from indievalue.benchmark.setups import probe_setups
from indievalue.catalog.store import Catalog
from indievalue.lm.backends.base import (
    BackendStats,
    Completion,
    GenParams,
    Messages,
    OnDone,
    ScoreGroup,
)
from indievalue.lm.parsing import parse_protocol_b
from indievalue.predictors import make_predictor
from indievalue.runs.config import EvalConfig
from indievalue.runs.evaluate import evaluate


class ScriptedBackend:
    """Answers ``reply(prompt_text, params)``; records every call."""

    name = "scripted"
    model_id = "scripted"

    def __init__(self, reply: Callable[[str, GenParams], str],
                 scores: Callable[[ScoreGroup], list[float]] | None = None):
        self.reply = reply
        self.scores = scores
        self.stats = BackendStats()
        self.calls: list[tuple[str, GenParams]] = []
        self.score_calls: list[list[ScoreGroup]] = []

    def generate(self, prompts: list[Messages], params: GenParams,
                 on_done: OnDone | None = None) -> list[Completion]:
        out = []
        for i, m in enumerate(prompts):
            self.calls.append((m[-1]["content"], params))
            out.append(Completion(self.reply(m[-1]["content"], params), 10, 2))
            if on_done is not None:
                on_done(i, out[-1])
        self.stats.requests += len(prompts)
        return out

    def score(self, prompt: Messages, groups: list[ScoreGroup]) -> list[list[float]]:
        assert self.scores is not None
        self.score_calls.append(groups)
        self.stats.requests += 1
        return [self.scores(g) for g in groups]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> LMWorld:
    return lm_catalog(tmp_path_factory)


def setup_episodes(world: LMWorld, protocol: str) -> Episodes:
    cat = Catalog.load(world.catalog)
    ids = np.array([int(x) for x in world.ids_2.read_text().split()])
    return build_episodes(cat, ids, probe_setups(cat.spec)[0], protocol=protocol,  # type: ignore[arg-type]
                          demos=4, seed=0).episodes


def predictor(backend: ScriptedBackend, **options: Any) -> Any:
    pred = make_predictor("hf", {"model": "scripted", "cache": "off", **options}, seed=2)
    pred._backend = backend  # the scripted backend stands in for a model
    return pred


@pytest.mark.parametrize("retries", [0, 2, 3])
def test_garbage_is_retried_exactly_retries_times(world: LMWorld, retries: int) -> None:
    eps = setup_episodes(world, "B")
    backend = ScriptedBackend(lambda text, p: "I cannot decide.")
    pred = predictor(backend, retries=retries)
    out = pred.predict(eps)
    assert len(backend.calls) == len(eps) * (retries + 1)
    # each attempt has its own seed; retries sample at retry_temperature
    seeds = sorted({p.seed for _, p in backend.calls})
    assert seeds == [2 * 1000 + k for k in range(retries + 1)]
    temps = {p.seed - 2000: p.temperature for _, p in backend.calls}
    assert temps[0] == 0.0 and all(temps[k] == 0.6 for k in range(1, retries + 1))
    assert (out.choices == -1).all() and (out.status == "parse_failure").all()
    assert pred.parse_failures == len(eps) and pred.retries_used == len(eps) * retries
    assert all(x["attempts"] == retries + 1 for x in out.extras)
    assert pred.stats().parse_failures == len(eps)


def test_retry_succeeds_and_most_complete_answer_is_kept(world: LMWorld) -> None:
    eps = setup_episodes(world, "A")

    def reply(text: str, p: GenParams) -> str:
        attempt = p.seed - 2000
        if attempt == 0:
            return '{"NSG1": {"choice": "NSG1_s1"}, "NSG2": {"choice": "NSG2_s2"}}'
        if attempt == 1:
            return "nothing useful"
        return '{"NSG3": {"choice": "NSG3_s1"}}'  # fewer groups than attempt 0

    backend = ScriptedBackend(reply)
    out = predictor(backend, retries=2).predict(eps)
    assert len(backend.calls) == 3 * len(eps)
    assert out.choices.tolist() == [[0, 1, -1]] * len(eps)
    assert out.status.tolist() == [["ok", "ok", "parse_failure"]] * len(eps)
    assert out.extras[0]["response"].startswith('{"NSG1"')  # the raw text of the kept attempt

    ok_second = ScriptedBackend(lambda text, p: "Option 2" if p.seed == 2001 else "hmm")
    out_b = predictor(ok_second, retries=3).predict(setup_episodes(world, "B"))
    assert len(ok_second.calls) == 2 * len(out_b.choices)  # stops once parsed
    assert (out_b.choices == 1).all() and (out_b.status == "ok").all()


def test_each_attempt_is_cached(world: LMWorld, tmp_path: Path) -> None:
    eps = setup_episodes(world, "B")
    cache = str(tmp_path / "cache.sqlite")
    reply = lambda text, p: "Option 1" if p.seed == 2002 else "?"  # noqa: E731
    first = ScriptedBackend(reply)
    a = predictor(first, retries=3, cache=cache).predict(eps)
    assert len(first.calls) == 3 * len(eps)
    second = ScriptedBackend(lambda text, p: pytest.fail("the cache should have answered"))
    pred = predictor(second, retries=3, cache=cache)
    b = pred.predict(eps)
    assert np.array_equal(a.choices, b.choices) and a.extras == b.extras
    assert pred.stats().cache_hits == 3 * len(eps) and pred.stats().cache_misses == 0


def test_parse_failures_counted_in_run(world: LMWorld, tmp_path: Path) -> None:
    """Through ``evaluate``: parse failures are records with status parse_failure, counted
    in summary.json and lm_stats.json; retries are counted too."""

    def reply(text: str, p: GenParams) -> str:
        n = len(text) % 3  # some prompts never parse, some parse on the first retry
        return "Option 1: yes" if n == 0 or (n == 1 and p.seed > 2000) else "no idea"

    backend = ScriptedBackend(reply)
    pred = predictor(backend, retries=1)
    out = tmp_path / "run"
    ids = world.ids_2
    summary = evaluate(world.catalog, EvalConfig(predictor="hf", protocol="B", demos=4,
                                                 eval_ids_file=ids), out, predictor=pred)
    recs = check_run(out, 18)
    failed = sum(r["status"] == "parse_failure" for r in recs)
    assert 0 < failed < len(recs)
    assert summary["parse_failures"] == failed
    stats = json.loads((out / "lm_stats.json").read_text())
    assert stats["parse_failures"] == failed
    assert stats["retries"] == sum(r["attempts"] - 1 for r in recs)
    assert stats["requests"] == len(backend.calls) == sum(r["attempts"] for r in recs)
    assert summary["lm"]["retries"] == stats["retries"]
    for r in recs:  # what the record says agrees with its raw response
        assert r["prediction"] == parse_protocol_b(r["response"], ["a", "b", "c"])
    # a parse failure is scored wrong
    assert summary["overall"] == pytest.approx(100 * np.mean(
        [r["status"] == "ok" and r["prediction"] == r["gold"] for r in recs]))
    assert read_records(out) == recs


def test_loglik_groups_and_probabilities(world: LMWorld) -> None:
    def scores(g: ScoreGroup) -> list[float]:
        return [-1.0 * k for k in range(len(g.options))][::-1]  # last option most likely

    for protocol in ("A", "B"):
        eps = setup_episodes(world, protocol)
        backend = ScriptedBackend(lambda t, p: pytest.fail("loglik must not generate"), scores)
        out = predictor(backend, mode="loglik").predict(eps)
        assert len(backend.score_calls) == len(eps)  # one scoring call per episode
        groups = backend.score_calls[0]
        m = eps.probe_qidx.shape[1]
        assert len(groups) == m
        for j, g in enumerate(groups):
            opts = eps.option_texts(0, j)
            if protocol == "A":
                assert g.prefix == f'{{"NSG{j + 1}": {{"choice": "'
                assert g.options == [f'NSG{j + 1}_s{k}"' for k in range(1, len(opts) + 1)]
            else:
                assert g.prefix == ""
                assert g.options == [f"Option {k}: {t}" for k, t in enumerate(opts, 1)]
        n_opt = eps.n_options
        assert np.array_equal(out.choices, n_opt - 1)
        for e in range(len(eps)):
            for j in range(m):
                k = int(n_opt[e, j])
                p = out.probs[e, j, :k]
                lp = -np.arange(k, dtype=float)[::-1]
                assert np.allclose(p, np.exp(lp) / np.exp(lp).sum())
                assert np.isnan(out.probs[e, j, k:]).all()


def test_record_schema_matches_baseline(world: LMWorld, tmp_path: Path) -> None:
    """LM records lead with exactly the baseline predictors' record fields."""
    config = EvalConfig(predictor="majority", protocol="B", demos=4, eval_ids_file=world.ids_1)
    evaluate(world.catalog, config, tmp_path / "base")
    base = read_records(tmp_path / "base")
    assert all(list(r) == RECORD_FIELDS for r in base)
    backend = ScriptedBackend(lambda text, p: "Option 2")
    evaluate(world.catalog, config.replace(predictor="hf"), tmp_path / "lm",
             predictor=predictor(backend))
    lm = read_records(tmp_path / "lm")
    assert all(list(r) == [*RECORD_FIELDS, "response", "attempts"] for r in lm)
    assert [r["question"] for r in lm] == [r["question"] for r in base]
