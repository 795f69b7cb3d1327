"""``value-model``: a small neural model of how the 253 answers hang together.

``fit`` trains on the training pool (or loads a saved model with ``model_dir``); ``predict``
encodes each episode's demonstrations into a person vector and reads off a calibrated
probability for every option of every probe. torch is imported on first use only.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from indievalue.benchmark.episodes import Episodes
from indievalue.errors import IndieValueError, require
from indievalue.predictors.base import (
    Predictions,
    Predictor,
    TrainingPool,
    empty_probs,
    pool_sample,
    register_predictor,
)
from indievalue.valuemodel.options import TRAINING_FIELDS, ValueModelOptions


def require_torch() -> None:
    require("torch", purpose="the value-model predictor",
            install="'indievalue[valuemodel]' (the CPU build of torch is enough)")


def pool_rows(pool: TrainingPool, size: str | int, seed: int) -> np.ndarray:
    """The pool's rows, or a seeded sample of ``size`` of them (sorted)."""
    rows = pool.rows
    if size == "all":
        return np.sort(rows)
    n = int(size)
    if not 1 <= n <= len(rows):
        raise IndieValueError(f"value-model: pool_size must be 1..{len(rows)} or 'all'")
    return np.sort(pool_sample(rows, n, seed))


@register_predictor("value-model")
class ValueModelPredictor(Predictor):
    Options = ValueModelOptions
    gives_probabilities = True
    options: ValueModelOptions
    batch_size = 2048  # episodes per predict call when run by `evaluate`

    def __init__(self, options: ValueModelOptions | None = None, *, seed: int = 0):
        super().__init__(options, seed=seed)
        self._model: Any = None

    # -- learning --------------------------------------------------------------------------
    def fit(self, pool: TrainingPool) -> ValueModelPredictor:
        require_torch()
        from indievalue.valuemodel.model import ValueModel

        if self.options.model_dir is not None:
            model = ValueModel.load(self.options.model_dir)
            self._check_loaded(model, pool)
            self._model = model
        else:
            self._model = train_model(pool.catalog, pool_rows(pool, self.options.pool_size,
                                                              self.seed),
                                      self.options, self.seed)
        return self

    def _check_loaded(self, model: Any, pool: TrainingPool) -> None:
        where = self.options.model_dir
        model.check_catalog(pool.catalog, where)  # same layout and statement spec
        seen = np.isin(model.person_ids, pool.person_ids)
        if not seen.all():
            raise IndieValueError(
                f"{where}: the model learned from {int((~seen).sum())} person(s) outside this "
                "run's training pool (evaluation persons?); train it with the same --seed and "
                "--eval-size as the run")
        saved = model.options.model_dump()
        for name in sorted(self.options.model_fields_set & set(TRAINING_FIELDS)):
            if getattr(self.options, name) != saved[name]:
                raise IndieValueError(f"value-model: option {name}={getattr(self.options, name)}"
                                      f" differs from the loaded model's {saved[name]}")

    # -- answering -------------------------------------------------------------------------
    def predict(self, episodes: Episodes) -> Predictions:
        if self._model is None:
            raise IndieValueError("value-model: call fit() before predict()")
        model = self._model
        n_q = episodes.visible.shape[1]
        if self.options.context == "visible":
            qidx = np.broadcast_to(np.arange(n_q, dtype=np.int64), episodes.visible.shape)
            answers = episodes.visible
        else:
            qidx, answers = episodes.demo_qidx, episodes.demo_answers
        from indievalue.valuemodel.training import torch_threads

        with torch_threads(self.options.threads):
            p = model.probe_probs(episodes.demo_form, qidx, answers, episodes.probe_form,
                                  episodes.probe_qidx, shown_groups(model, episodes))
        probs = empty_probs(episodes)
        k = min(probs.shape[-1], p.shape[-1])
        inside = np.arange(probs.shape[-1])[None, None, :] < episodes.n_options[..., None]
        filled = np.zeros(probs.shape, dtype=np.float64)
        filled[..., :k] = p[..., :k]
        probs[inside] = filled[inside].astype(np.float32)
        choices = np.where(inside, filled, -1.0).argmax(axis=-1)
        return Predictions(choices.astype(np.int64), probs)

    # -- the fitted model ------------------------------------------------------------------
    @property
    def model(self) -> Any:
        """The fitted :class:`~indievalue.valuemodel.model.ValueModel` (None before fit)."""
        return self._model

    def save(self, directory: str, overwrite: bool = False) -> None:
        if self._model is None:
            raise IndieValueError("value-model: nothing to save before fit()")
        self._model.save(directory, overwrite=overwrite)

    @classmethod
    def load(cls, directory: str, **options: Any) -> ValueModelPredictor:
        """A predictor wrapping a saved model (no training pool needed to predict)."""
        require_torch()
        from indievalue.valuemodel.model import ValueModel

        pred = cls(ValueModelOptions(model_dir=str(directory), **options))
        pred._model = ValueModel.load(directory)
        pred.mark_fitted()
        return pred


def train_model(catalog: Any, rows: np.ndarray, options: ValueModelOptions, seed: int,
                progress: bool = True) -> Any:
    """Train a :class:`ValueModel` on catalog ``rows`` (progress on stderr)."""
    require_torch()
    from indievalue.valuemodel.layout import Layout
    from indievalue.valuemodel.model import ValueModel
    from indievalue.valuemodel.training import train

    console = None
    if progress:
        from indievalue.progress import stderr

        console = stderr
    layout = Layout.from_spec(catalog.spec)
    names, groups = person_groups(catalog, rows, options.groups)
    net, report = train(layout, catalog.polar[rows], catalog.refined[rows], options, seed,
                        console, groups, len(names))
    info = {"catalog": str(catalog.path), "catalog_hash": catalog.content_hash,
            "synthetic": catalog.synthetic, "train": report.to_dict()}
    return ValueModel(net, layout, options, seed, catalog.person_ids[rows], info, names)


def shown_groups(model: Any, episodes: Episodes) -> np.ndarray | None:
    """Each episode's group index when its demographics show the country statement of a
    group the model knows (-1 otherwise); None when no episode shows one."""
    codes = episodes.shown_codes()
    if codes is None or not model.groups:
        return None
    index = {int(name): i for i, name in enumerate(model.groups)}
    known = np.array([index.get(int(c), -1) for c in codes], dtype=np.int64)
    return known if (known >= 0).any() else None


def person_groups(catalog: Any, rows: np.ndarray, kind: str) -> tuple[list[str], np.ndarray]:
    """Group names (sorted) and each row's group index (-1: unknown) for the group head; no
    groups when ``kind`` is 'none' or the rows hold fewer than two known countries."""
    none: tuple[list[str], np.ndarray] = ([], np.full(len(rows), -1, dtype=np.int64))
    if kind == "none":
        return none
    column = catalog.persons["country_code"]
    codes = column.to_numpy()[rows]
    known = (column.notna() & (column.fillna(-1) >= 0)).to_numpy()[rows]
    names = sorted({str(c) for c in codes[known]})
    if len(names) < 2:
        return none
    index = {name: i for i, name in enumerate(names)}
    groups = np.array([index[str(c)] if k else -1 for c, k in zip(codes, known, strict=True)],
                      dtype=np.int64)
    return names, groups
