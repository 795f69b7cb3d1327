"""Opening a catalog and a saved value model for elicitation (``ask``, ``serve``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from indievalue.catalog.store import Catalog
from indievalue.elicit.scoring import ValueModelScorer


@dataclass(frozen=True)
class Opened:
    catalog: Catalog
    model: Any  # indievalue.valuemodel.model.ValueModel
    scorer: ValueModelScorer


def open_value_model(catalog: str | Path | Catalog, model_dir: str | Path,
                     threads: int = 1) -> Opened:
    """The catalog (for the statements) and the value model trained on it, checked to fit
    together; one :class:`IndieValueError` line otherwise."""
    from indievalue.valuemodel.predictor import require_torch

    require_torch()
    from indievalue.valuemodel.model import ValueModel

    cat = catalog if isinstance(catalog, Catalog) else Catalog.load(catalog)
    model = ValueModel.load(model_dir)
    model.check_catalog(cat, model_dir)
    return Opened(cat, model, ValueModelScorer(model, cat.spec, threads))
