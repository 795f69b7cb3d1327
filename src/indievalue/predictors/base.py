"""The one extension point: predictors, registered by name, with typed options.

A predictor's constructor only stores its options and seed; :meth:`Predictor.fit` learns from the
training pool; :meth:`Predictor.predict` answers a batch of :class:`Episodes` and returns a choice
per probe (and, where it has them, a probability per option). Heavy imports belong inside the
methods of the predictor that needs them.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, TypeVar

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from indievalue.benchmark.episodes import Episodes
from indievalue.catalog.spec import Form
from indievalue.catalog.store import Catalog
from indievalue.errors import IndieValueError

# Status of one prediction; anything but "ok" is scored wrong and counted separately.
Status = Literal["ok", "parse_failure", "error"]


class PredictorOptions(BaseModel):
    """Base of every predictor's options: immutable, unknown keys rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class TrainingPool:
    """The persons a predictor may learn from (everyone outside the eval set)."""

    catalog: Catalog
    rows: np.ndarray  # catalog rows

    def matrix(self, form: Form) -> np.ndarray:
        return self.catalog.matrix(form)[self.rows]

    @property
    def person_ids(self) -> np.ndarray:
        return self.catalog.person_ids[self.rows]

    def __len__(self) -> int:
        return len(self.rows)


@dataclass(frozen=True)
class Predictions:
    """Answers for a batch of episodes, aligned with ``episodes.probe_qidx``.

    ``choices`` holds option indices (-1 = no usable answer). ``probs`` (optional) has shape
    (E, m, K) with K the largest option count, NaN beyond each probe's options. ``status`` is
    None when every answer is "ok". ``extras`` carries per-episode JSON-ready details (raw text,
    token counts) and ``probe_extras`` per-probe arrays of shape (E, m, ...); both go into the
    records.
    """

    choices: np.ndarray
    probs: np.ndarray | None = None
    status: np.ndarray | None = None
    extras: list[dict[str, Any]] | None = None
    probe_extras: dict[str, np.ndarray] | None = None


class Predictor(ABC):
    """Base class. Subclasses set ``name`` and ``Options`` and implement ``predict``."""

    name: ClassVar[str] = ""
    Options: ClassVar[type[PredictorOptions]] = PredictorOptions
    #: True if ``predict`` fills ``probs``.
    gives_probabilities: ClassVar[bool] = False
    #: Catalogs the predictor can run on; "synthetic" restricts it to generated populations.
    requires: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, options: PredictorOptions | None = None, *, seed: int = 0):
        self.options = options if options is not None else self.Options()
        self.seed = seed

    def fit(self, pool: TrainingPool) -> Predictor:
        """Learn from the training pool. Default: nothing to learn."""
        return self

    @abstractmethod
    def predict(self, episodes: Episodes) -> Predictions:
        """Answer every probe of every episode."""

    def describe(self) -> str:
        """Short label for tables, e.g. ``resemble(top_k=24)``."""
        opts = self.options.model_dump()
        return self.name + (f"({', '.join(f'{k}={v}' for k, v in opts.items())})" if opts else "")


# -- the registry ---------------------------------------------------------------------------

_REGISTRY: dict[str, type[Predictor]] = {}
# Built-in predictors living in modules imported on first use (keeps `import indievalue` light).
_BUILTIN_MODULES = {
    "random": "indievalue.predictors.baselines",
    "majority": "indievalue.predictors.baselines",
    "resemble": "indievalue.predictors.resemble",
    "oracle": "indievalue.synth.oracle",
    "value-model": "indievalue.valuemodel.predictor",
    "hf": "indievalue.lm.predictors",
    "openai": "indievalue.lm.predictors",
    "vllm": "indievalue.lm.predictors",
}

P = TypeVar("P", bound=type[Predictor])


def register_predictor(name: str) -> Callable[[P], P]:
    """Class decorator: make a predictor available under ``name``."""

    def deco(cls: P) -> P:
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(f"predictor {name!r} registered twice")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return deco


def _import_builtin(name: str) -> None:
    module = _BUILTIN_MODULES.get(name)
    if module is None:
        return
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("indievalue"):
            return  # that predictor is not part of this build
        raise


def get_predictor(name: str) -> type[Predictor]:
    if name not in _REGISTRY:
        _import_builtin(name)
    try:
        return _REGISTRY[name]
    except KeyError:
        raise IndieValueError(
            f"unknown predictor {name!r}; available: {', '.join(available_predictors())}"
        ) from None


def available_predictors() -> list[str]:
    for name in _BUILTIN_MODULES:
        _import_builtin(name)
    return sorted(_REGISTRY)


def make_predictor(name: str, options: Mapping[str, Any] | None = None, seed: int = 0) -> Predictor:
    """Resolve ``name``, validate ``options`` against its typed options, construct it."""
    cls = get_predictor(name)
    try:
        opts = cls.Options(**dict(options or {}))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "options"
        raise IndieValueError(f"predictor {name}: option {where}: {first['msg']}") from None
    return cls(opts, seed=seed)


def parse_option_pairs(pairs: list[str]) -> dict[str, str]:
    """``["top_k=24", "pool=all"]`` → dict; values stay strings for pydantic to coerce."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise IndieValueError(f"--option expects KEY=VALUE, got {pair!r}")
        out[key.strip()] = value.strip()
    return out


def episode_rngs(seed: int, keys: np.ndarray) -> list[np.random.Generator]:
    """One generator per episode, independent of how episodes are batched."""
    return [np.random.default_rng([seed, int(k)]) for k in keys]


def empty_probs(episodes: Episodes) -> np.ndarray:
    """An (E, m, K) array of NaN to fill with per-option probabilities."""
    k = int(episodes.spec.option_counts(episodes.probe_form).max())
    return np.full((*episodes.probe_qidx.shape, k), np.nan, dtype=np.float32)
