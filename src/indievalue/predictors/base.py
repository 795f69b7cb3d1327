"""The one extension point: predictors, registered by name, with typed options.

A predictor's constructor only stores its options and seed; :meth:`Predictor.fit` learns from the
training pool; :meth:`Predictor.predict` answers a batch of :class:`Episodes` and returns a choice
per probe (and, where it has them, a probability per option). Heavy imports belong inside the
methods of the predictor that needs them.

What ``evaluate`` asks of a predictor besides ``fit`` and ``predict`` is declared here with a
default: :attr:`Predictor.batch_size` (episodes per ``predict`` call) and
:meth:`Predictor.stats` (counters kept while running, e.g. a language model's cache hits and
retries). A predictor that overrides ``fit`` needs fitting: calling ``predict`` first raises one
:class:`IndieValueError` (set ``needs_fit = False`` on a class whose ``predict`` works unfitted).
"""

from __future__ import annotations

import functools
import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Literal, TypeVar

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from indievalue.benchmark.episodes import Episodes
from indievalue.catalog.spec import Form
from indievalue.catalog.store import Catalog
from indievalue.errors import IndieValueError

# Status of one prediction; anything but "ok" is scored wrong and counted separately.
Status = Literal["ok", "parse_failure", "abstain", "error"]


class PredictorOptions(BaseModel):
    """Base of every predictor's options: immutable, unknown keys rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True)


#: The stream every predictor's ``pool`` / ``pool_size`` option draws its sample of the
#: training pool from: equal sizes draw equal persons whichever predictor asks.
STREAM_POOL = 11


def pool_sample(rows: np.ndarray, size: int, seed: int) -> np.ndarray:
    """A seeded sample of ``size`` of ``rows``, in the order drawn."""
    return np.random.default_rng([seed, STREAM_POOL]).choice(rows, size, replace=False)


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


@dataclass
class PredictorStats:
    """Counters a predictor keeps while it runs (language models: response cache, retries,
    parse failures, backend requests, tokens, cost and the faults survived). ``evaluate`` adds
    them up over the sessions of a run into ``lm_stats.json``."""

    cache_hits: int = 0
    cache_misses: int = 0
    retries: int = 0
    parse_failures: int = 0
    requests: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost: float = 0.0
    faults: dict[str, int] = field(default_factory=dict)

    def __add__(self, other: PredictorStats) -> PredictorStats:
        faults = dict(self.faults)
        for kind, n in other.faults.items():
            faults[kind] = faults.get(kind, 0) + n
        summed = {k: getattr(self, k) + getattr(other, k) for k in self.to_json() if k != "faults"}
        return PredictorStats(**summed, faults=faults)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PredictorStats:
        """Read what :meth:`to_json` wrote (unknown keys ignored)."""
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)


def _marks_fitted(fit: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fit)
    def wrapper(self: Predictor, *args: Any, **kwargs: Any) -> Any:
        result = fit(self, *args, **kwargs)
        self._fitted = True
        return result

    wrapper.__marks_fitted__ = True  # type: ignore[attr-defined]
    return wrapper


def _checks_fitted(predict: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(predict)
    def wrapper(self: Predictor, *args: Any, **kwargs: Any) -> Any:
        self.check_fitted()
        return predict(self, *args, **kwargs)

    wrapper.__checks_fitted__ = True  # type: ignore[attr-defined]
    return wrapper


class Predictor(ABC):
    """Base class. Subclasses set ``name`` and ``Options`` and implement ``predict``."""

    name: ClassVar[str] = ""
    Options: ClassVar[type[PredictorOptions]] = PredictorOptions
    #: True if ``predict`` fills ``probs``.
    gives_probabilities: ClassVar[bool] = False
    #: Catalogs the predictor can run on; "synthetic" restricts it to generated populations.
    requires: ClassVar[frozenset[str]] = frozenset()
    #: True if ``predict`` needs ``fit`` first; by default, whether the class overrides ``fit``.
    needs_fit: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "needs_fit" not in cls.__dict__:
            cls.needs_fit = cls.needs_fit or "fit" in cls.__dict__
        # Wrap the class's own methods once, so every predictor gets the check for free.
        own_fit = cls.__dict__.get("fit")
        if own_fit is not None and not hasattr(own_fit, "__marks_fitted__"):
            cls.fit = _marks_fitted(own_fit)  # type: ignore[method-assign]
        own_predict = cls.__dict__.get("predict")
        if own_predict is not None and not hasattr(own_predict, "__checks_fitted__"):
            cls.predict = _checks_fitted(own_predict)  # type: ignore[method-assign]

    def __init__(self, options: PredictorOptions | None = None, *, seed: int = 0):
        self.options = options if options is not None else self.Options()
        self.seed = seed
        self._fitted = False

    @property
    def fitted(self) -> bool:
        """Whether ``predict`` may be called (always, for a predictor that needs no fit)."""
        return not self.needs_fit or getattr(self, "_fitted", False)

    def mark_fitted(self) -> None:
        """Declare the predictor ready without ``fit`` (e.g. a trained model loaded from disk)."""
        self._fitted = True

    def check_fitted(self) -> None:
        """Raise IndieValueError unless ``predict`` may be called."""
        if not self.fitted:
            raise IndieValueError(f"predictor {self.name}: predict() called before fit(); fit "
                                  "it on a training pool first")

    @property
    def batch_size(self) -> int:
        """Episodes per ``predict`` call when ``evaluate`` runs the predictor."""
        return 256

    def stats(self) -> PredictorStats | None:
        """Counters kept while running (None: the predictor keeps none)."""
        return None

    @classmethod
    def check_catalog(cls, catalog: Catalog) -> None:
        """Raise IndieValueError if the predictor cannot run on ``catalog``."""
        if "synthetic" in cls.requires and not catalog.synthetic:
            raise IndieValueError(f"predictor {cls.name} only runs on synthetic catalogs "
                                  "(generated by indievalue synth)")

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
    "logistic": "indievalue.predictors.logistic",
    "factor": "indievalue.predictors.factor",
    "oracle": "indievalue.synth.oracle.predictor",
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
