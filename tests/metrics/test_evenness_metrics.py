"""Shannon evenness J′ (PROTOCOL §4.5): uniform -> 1, one answer -> 0, missing excluded."""

from __future__ import annotations

import math

import numpy as np
import pytest

from indievalue.metrics.evenness import evenness, evenness_by_group


def test_evenness_extremes() -> None:
    mat = np.array([
        [0, 0, 0, -1, 0],
        [1, 0, 1, -1, 0],
        [0, 0, 2, -1, 1],
        [1, 0, -1, -1, 1],
    ], dtype=np.int8)
    n_opt = np.array([2, 3, 3, 2, 4])
    j = evenness(mat, n_opt)
    assert j[0] == pytest.approx(1.0)  # uniform over 2 options
    assert j[1] == pytest.approx(0.0)  # everyone the same answer
    assert j[2] == pytest.approx(1.0)  # uniform over 3 valid answers, the missing one excluded
    assert math.isnan(j[3])  # nobody answered
    # two of four options used equally: ln 2 / ln 4
    assert j[4] == pytest.approx(0.5)


def test_evenness_by_group_is_mean_over_questions() -> None:
    mat = np.array([[0, 0], [1, 0], [0, 1], [0, 1]], dtype=np.int8)
    groups = np.array(["Oceania", "Oceania", "Asia", "Asia"], dtype=object)
    got = evenness_by_group(mat, np.array([2, 2]), groups)
    assert got == {"Asia": pytest.approx(0.0), "Oceania": pytest.approx(0.5)}
