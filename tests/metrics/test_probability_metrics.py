"""Log loss, Brier score and ECE on hand-made probabilities (NaN beyond a probe's options)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from indievalue.metrics.probability import (
    brier,
    expected_calibration_error,
    log_loss,
    reliability,
)

NAN = np.nan


def test_log_loss() -> None:
    probs = np.array([[0.5, 0.5, NAN], [0.2, 0.3, 0.5]])
    assert log_loss(probs, np.array([0, 2])) == pytest.approx(math.log(2))
    assert log_loss(np.array([[1.0, 0.0]]), np.array([0])) == pytest.approx(0.0)
    # a zero on the gold option is clipped, not infinite
    assert math.isfinite(log_loss(np.array([[1.0, 0.0]]), np.array([1])))


def test_brier_sums_over_the_items_options() -> None:
    probs = np.array([[0.5, 0.5, NAN], [0.2, 0.3, 0.5]])
    # (0.25 + 0.25) and (0.04 + 0.09 + 0.25)
    assert brier(probs, np.array([0, 2])) == pytest.approx((0.5 + 0.38) / 2)
    assert brier(np.array([[0.0, 1.0]]), np.array([1])) == 0.0


def test_ece() -> None:
    probs = np.array([[0.9, 0.1], [0.6, 0.4], [0.8, 0.2], [0.3, 0.7]])
    gold = np.array([0, 1, 0, 1])
    # one item per bin: |1-.9|, |0-.6|, |1-.8|, |1-.7| averaged
    assert expected_calibration_error(probs, gold, bins=10) == pytest.approx(0.3)
    # one bin: accuracy 0.75, mean confidence 0.75
    assert expected_calibration_error(probs, gold, bins=2) == pytest.approx(0.0)


def test_ece_ignores_nan_padding() -> None:
    probs = np.array([[0.6, 0.4, NAN], [0.2, 0.2, 0.6]])
    assert expected_calibration_error(probs, np.array([0, 2]), bins=5) == pytest.approx(0.4)


def test_reliability_points() -> None:
    probs = np.array([[0.9, 0.1], [0.6, 0.4], [0.8, 0.2], [0.3, 0.7]])
    pts = reliability(probs, np.array([0, 1, 0, 1]), bins=2)
    assert pts == [{"confidence": pytest.approx(0.75), "accuracy": pytest.approx(0.75), "n": 4}]
