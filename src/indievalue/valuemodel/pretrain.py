"""Training the value model once, on the training pool of a run's eval set, and saving it
(``indievalue train value-model``); ``--predictor value-model --option model_dir=DIR`` and
``indievalue embed`` load it."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from indievalue.benchmark.evalset import read_eval_ids, select_eval_set
from indievalue.catalog.store import Catalog
from indievalue.errors import IndieValueError


def train_value_model(catalog: Catalog | str | Path, out_dir: Path, seed: int = 0,
                      eval_size: int | None = None, eval_ids: Path | None = None,
                      options: Mapping[str, Any] | None = None,
                      overwrite: bool = False) -> dict[str, Any]:
    """Train on the training pool of the run that ``seed``/``eval_size``/``eval_ids`` define
    (everyone outside that eval set; ``eval_size`` None: the spec's) and save to ``out_dir``.
    Returns the training report."""
    from indievalue.benchmark.evalset import training_rows
    from indievalue.predictors.base import TrainingPool, make_predictor

    if out_dir.exists() and not overwrite:
        raise IndieValueError(f"{out_dir} already exists (pass --overwrite to replace it)")
    cat = catalog if isinstance(catalog, Catalog) else Catalog.load(catalog)
    evalset = read_eval_ids(eval_ids, cat, seed) if eval_ids else \
        select_eval_set(cat, eval_size, seed)
    opts = dict(options or {})
    if "model_dir" in opts:
        raise IndieValueError("train value-model: model_dir is where a model is loaded from; "
                              "use --out")
    pred = make_predictor("value-model", opts, seed=seed)
    pred.fit(TrainingPool(cat, training_rows(cat, evalset.person_ids)))
    pred.save(str(out_dir), overwrite=overwrite)  # type: ignore[attr-defined]
    report: dict[str, Any] = pred.model.info["train"]  # type: ignore[attr-defined]
    return report
