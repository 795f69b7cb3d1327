"""Quality of predicted probabilities: log loss, Brier score, expected calibration error."""

from __future__ import annotations

import numpy as np

EPS = 1e-12


def log_loss(probs: np.ndarray, gold: np.ndarray) -> float:
    """Mean negative log probability of the gold option. ``probs`` (N, K), NaN-padded."""
    p = probs[np.arange(len(gold)), gold]
    return float(-np.mean(np.log(np.clip(p, EPS, 1.0))))


def brier(probs: np.ndarray, gold: np.ndarray) -> float:
    """Mean over items of the squared error summed over the item's options."""
    target = np.zeros_like(probs)
    target[np.arange(len(gold)), gold] = 1.0
    err = np.where(np.isnan(probs), 0.0, (probs - target) ** 2)
    return float(err.sum(axis=1).mean())


def expected_calibration_error(probs: np.ndarray, gold: np.ndarray, bins: int = 15) -> float:
    """ECE of the top choice: |accuracy − confidence| averaged over equal-width bins."""
    filled = np.where(np.isnan(probs), -1.0, probs)
    choice = filled.argmax(axis=1)
    conf = filled[np.arange(len(gold)), choice]
    correct = (choice == gold).astype(np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1]), 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        m = which == b
        if m.any():
            ece += m.mean() * abs(correct[m].mean() - conf[m].mean())
    return float(ece)


def reliability(probs: np.ndarray, gold: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    """Points of a reliability diagram: per confidence bin, mean confidence, accuracy, count."""
    filled = np.where(np.isnan(probs), -1.0, probs)
    choice = filled.argmax(axis=1)
    conf = filled[np.arange(len(gold)), choice]
    correct = choice == gold
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1]), 0, bins - 1)
    return [
        {"confidence": float(conf[which == b].mean()),
         "accuracy": float(correct[which == b].mean()), "n": int((which == b).sum())}
        for b in range(bins) if (which == b).any()
    ]
