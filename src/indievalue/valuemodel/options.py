"""Typed options of the ``value-model`` predictor (no torch needed to read or validate them)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from indievalue.predictors.base import PredictorOptions

# Options that only shape training; a model loaded from ``model_dir`` carries its own.
TRAINING_FIELDS = ("dim", "hidden", "epochs", "lr", "batch_size", "weight_decay",
                   "polar_weight", "max_demos", "pool_size", "calibrate", "groups", "group_weight",
                   "precision")
# Training options added after the first saved models, with the value older models used.
LATER_TRAINING_FIELDS = {"precision": "fp32"}


class ValueModelOptions(PredictorOptions):
    dim: int = Field(32, ge=2, le=512,
                     description="Size of the person vector (the exported embedding).")
    hidden: int = Field(384, ge=8, le=4096, description="Width of the hidden layers.")
    epochs: int | Literal["auto"] = Field(
        "auto", description="Passes over the training pool; 'auto' scales with the pool "
        "(many passes over a small pool, fewer over a large one, at most a few minutes).")
    lr: float = Field(3e-3, gt=0, le=1, description="Peak AdamW learning rate (cosine decay).")
    batch_size: int = Field(512, ge=1, le=65536, description="Persons per training step.")
    weight_decay: float = Field(1e-4, ge=0, le=1, description="AdamW weight decay.")
    polar_weight: float = Field(
        0.5, ge=0, le=10, description="Extra weight of the polar log loss beside the refined "
        "one (the refined loss already contains the polar choice).")
    groups: Literal["country", "none"] = Field(
        "country", description="Learn which country's answer pattern a person follows (a "
        "posterior over countries read from their answers, supervised by the catalog's "
        "country in training; it conditions the person vector and the answers) or not.")
    group_weight: float = Field(
        1.0, ge=0, le=10, description="Weight of the country classification loss.")
    max_demos: int = Field(
        230, ge=1, le=253, description="Largest demonstration subset drawn in training; "
        "subset sizes mix uniform 50..max and log-uniform 1..max so any d works.")
    pool_size: Literal["all"] | int = Field(
        "all", description="'all' or the size of a seeded sample of the training pool.")
    precision: Literal["auto", "bf16", "fp32"] = Field(
        "auto", description="Arithmetic of the training steps: 'bf16' multiplies in bfloat16 "
        "(weights, sums, softmaxes and losses stay float32; about a quarter faster where the "
        "CPU has native bfloat16), 'fp32' everywhere, 'auto' bf16 where the CPU supports it "
        "natively. Prediction runs in float64 whatever this says.")
    calibrate: bool = Field(
        True, description="Fit softmax temperatures on a held-out slice of the pool.")
    context: Literal["demos", "visible"] = Field(
        "demos", description="Read the sampled demonstrations ('demos') or every non-probe "
        "answer the episode shows ('visible', what Resemble uses by default).")
    model_dir: str | None = Field(
        None, description="Load a model saved by `indievalue train-value-model` instead of "
        "training; it must have been trained inside this run's training pool.")
    threads: int = Field(
        1, ge=0, le=256, description="torch CPU threads while fitting and predicting (0 = "
        "torch's default). The network is small, so one thread wastes little on an idle "
        "machine and avoids thread contention on a busy one.")
