"""Yardsticks: a seeded random guess and the global majority answer."""

from __future__ import annotations

import numpy as np

from indievalue.benchmark.episodes import Episodes
from indievalue.catalog.spec import Form
from indievalue.predictors.base import (
    Predictions,
    Predictor,
    TrainingPool,
    empty_probs,
    episode_rngs,
    register_predictor,
)


@register_predictor("random")
class RandomPredictor(Predictor):
    """Uniformly random option per probe (seeded per episode); uniform probabilities."""

    gives_probabilities = True

    def predict(self, episodes: Episodes) -> Predictions:
        n_opt = episodes.n_options
        choices = np.empty(n_opt.shape, dtype=np.int64)
        for e, rng in enumerate(episode_rngs(self.seed, episodes.keys)):
            choices[e] = rng.integers(0, n_opt[e])
        probs = empty_probs(episodes)
        k = probs.shape[-1]
        inside = np.arange(k)[None, None, :] < n_opt[..., None]
        probs[inside] = np.broadcast_to(1.0 / n_opt[..., None], probs.shape)[inside]
        return Predictions(choices, probs)


def expected_accuracy(n_options: np.ndarray) -> float:
    """Analytic accuracy of a uniform guess, in percent: mean of 1/|options|."""
    return float(np.mean(1.0 / np.asarray(n_options, dtype=np.float64)) * 100)


def option_frequencies(matrix: np.ndarray, n_options: np.ndarray) -> np.ndarray:
    """(Q, K) share of each option among valid answers of each question."""
    k = int(n_options.max())
    counts = np.zeros((matrix.shape[1], k), dtype=np.float64)
    for opt in range(k):
        counts[:, opt] = (matrix == opt).sum(axis=0)
    totals = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)


@register_predictor("majority")
class MajorityPredictor(Predictor):
    """The most frequent answer of the training pool for each probe (ties: lowest index);
    the pool's answer shares as probabilities."""

    gives_probabilities = True

    def fit(self, pool: TrainingPool) -> MajorityPredictor:
        spec = pool.catalog.spec
        self._freq: dict[Form, np.ndarray] = {}
        for form in ("polar", "refined"):
            freq = option_frequencies(pool.matrix(form), spec.option_counts(form))
            self._freq[form] = freq
        return self

    def predict(self, episodes: Episodes) -> Predictions:
        freq = self._freq[episodes.probe_form]
        per_probe = freq[episodes.probe_qidx]  # (E, m, K)
        choices = per_probe.argmax(axis=-1)
        probs = empty_probs(episodes)
        inside = np.arange(probs.shape[-1])[None, None, :] < episodes.n_options[..., None]
        probs[inside] = per_probe[..., : probs.shape[-1]][inside]
        return Predictions(choices, probs)
