"""Predictors: statistical baselines, language models, trained models — one interface."""

from indievalue.predictors.base import (
    Predictions,
    Predictor,
    PredictorOptions,
    TrainingPool,
    available_predictors,
    get_predictor,
    make_predictor,
    register_predictor,
)

__all__ = [
    "Predictions",
    "Predictor",
    "PredictorOptions",
    "TrainingPool",
    "available_predictors",
    "get_predictor",
    "make_predictor",
    "register_predictor",
]
