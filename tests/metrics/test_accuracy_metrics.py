"""Accuracy per person, setup, category and overall (PROTOCOL §4.1–4.2), bootstrap, sweep."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from indievalue.errors import IndieValueError
from indievalue.metrics import accuracy as acc

T, F = True, False


def records() -> pd.DataFrame:
    """Two persons x two setups x four probes (categories A, A, B, B)."""
    rows = []
    answers = {
        (1, 0): [T, T, F, F],  # 0.50
        (1, 1): [T, T, T, F],  # 0.75
        (2, 0): [F, F, F, T],  # 0.25
        (2, 1): [T, F, F, F],  # 0.25
    }
    for (pid, setup), correct in answers.items():
        for j, c in enumerate(correct):
            rows.append({"person_id": pid, "setup": setup, "category": "AB"[j // 2],
                         "question": f"Q{j}", "correct": c, "n_options": [2, 4, 2, 3][j],
                         "gold": 0, "prediction": 0 if c else 1})
    return pd.DataFrame(rows)


def test_person_setup_accuracy() -> None:
    got = acc.person_setup_accuracy(records())
    assert got.loc[(1, 0)] == 0.5 and got.loc[(1, 1)] == 0.75
    assert got.loc[(2, 0)] == 0.25 and got.loc[(2, 1)] == 0.25


def test_person_and_overall_accuracy() -> None:
    person = acc.person_accuracy(records())
    assert person.to_dict() == {1: 0.625, 2: 0.25}
    assert acc.overall_accuracy(records()) == pytest.approx(43.75)


def test_person_accuracy_is_a_mean_over_setups_not_over_records() -> None:
    df = records()
    df = df[~((df.person_id == 1) & (df.setup == 1) & (df.question.isin(["Q2", "Q3"])))]
    # person 1: setup 0 = 2/4, setup 1 = 2/2 -> 0.75 (a pooled mean would give 4/6)
    assert acc.person_accuracy(df)[1] == pytest.approx(0.75)


def test_per_setup_accuracy() -> None:
    assert acc.per_setup_accuracy(records()) == {0: pytest.approx(37.5), 1: pytest.approx(50.0)}


def test_per_category_accuracy() -> None:
    got = acc.per_category_accuracy(records(), ["B", "A", "C"])
    assert list(got) == ["B", "A"]  # catalog order, absent categories left out
    assert got == {"A": pytest.approx(62.5), "B": pytest.approx(25.0)}


def test_overall_equals_mean_of_setups_when_balanced() -> None:
    per_setup = acc.per_setup_accuracy(records())
    assert acc.overall_accuracy(records()) == pytest.approx(np.mean(list(per_setup.values())))


def test_chance_per_setup() -> None:
    expected = (1 / 2 + 1 / 4 + 1 / 2 + 1 / 3) / 4 * 100
    assert acc.chance_per_setup(records()) == {0: pytest.approx(expected),
                                               1: pytest.approx(expected)}


def test_bootstrap_ci_seeded_and_contains_mean() -> None:
    values = np.random.default_rng(0).random(200)
    a = acc.bootstrap_ci(values, seed=3)
    b = acc.bootstrap_ci(values, seed=3)
    c = acc.bootstrap_ci(values, seed=4)
    assert a == b
    assert a != c
    lo, hi = a
    assert lo < values.mean() * 100 < hi
    # the width is about 2 x 1.96 standard errors of the mean
    se = values.std(ddof=1) / np.sqrt(len(values)) * 100
    assert hi - lo == pytest.approx(2 * 1.96 * se, rel=0.15)


def test_bootstrap_ci_degenerate() -> None:
    assert acc.bootstrap_ci(np.array([0.4, 0.4, 0.4])) == pytest.approx((40.0, 40.0))
    assert acc.bootstrap_ci(np.array([0.3])) == (pytest.approx(30.0), pytest.approx(30.0))


def test_sweep_accuracy() -> None:
    df = records()
    df["gold"] = 1
    # cluster size 1 always right, size 2 always wrong, size 3 right for person 1 only
    df["sweep"] = [[1, 0, 1 if pid == 1 else 0] for pid in df.person_id]
    assert acc.sweep_accuracy(df) == {1: 100.0, 2: 0.0, 3: 50.0}
    assert acc.sweep_accuracy(records()) == {}


def test_sweep_accuracy_refuses_ragged_sweeps() -> None:
    df = pd.DataFrame({"person_id": [1, 1], "setup": [0, 0], "gold": [0, 1],
                       "sweep": [np.array([0, 1]), np.array([1, 1, 0])]})
    with pytest.raises(IndieValueError, match="different numbers of cluster sizes"):
        acc.sweep_accuracy(df)
