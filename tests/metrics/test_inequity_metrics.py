"""σ_INEQUITY (PROTOCOL §4.3): group means, sample sd (ddof=1), mean over dimensions."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from indievalue.metrics.inequity import dimension_sigma, group_accuracy, inequity


def person_acc() -> pd.Series:
    return pd.Series([0.5, 0.7, 0.9, 0.4, 0.6], index=pd.Index([1, 2, 3, 4, 5], name="person_id"))


def demographics() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Sex": ["I am a man", "I am a man", "I am a woman", "I am a woman", None],
            "Age": ["a", "b", "c", "a", "c"],
            "Country": ["x"] * 5,  # one group: no σ, left out of the mean
        },
        index=pd.Index([1, 2, 3, 4, 5], name="person_id"),
    )


def test_group_accuracy_leaves_out_missing() -> None:
    got = group_accuracy(person_acc(), demographics()["Sex"])
    assert got.to_dict() == {"I am a man": pytest.approx(60.0),
                             "I am a woman": pytest.approx(65.0)}


def test_dimension_sigma_is_sample_sd() -> None:
    assert dimension_sigma(pd.Series([60.0, 65.0])) == pytest.approx(3.5355339, abs=1e-6)
    assert dimension_sigma(pd.Series([45.0, 70.0, 75.0])) == pytest.approx(16.0727513, abs=1e-6)
    assert math.isnan(dimension_sigma(pd.Series([50.0])))


def test_sigma_inequity_hand_computed() -> None:
    out = inequity(person_acc(), demographics())
    dims = out["dimensions"]
    assert isinstance(dims, dict)
    assert dims["Sex"]["sigma"] == pytest.approx(3.5355339, abs=1e-6)
    assert dims["Age"]["sigma"] == pytest.approx(16.0727513, abs=1e-6)
    assert dims["Country"]["sigma"] is None
    assert out["sigma_inequity"] == pytest.approx((3.5355339 + 16.0727513) / 2, abs=1e-6)
    assert dims["Age"]["groups"]["a"] == {"accuracy": pytest.approx(45.0), "n": 2}
    assert dims["Sex"]["groups"]["I am a woman"]["n"] == 2


def test_single_person_groups_count() -> None:
    """No minimum group size (§4.3 step 4)."""
    demo = pd.DataFrame({"D": ["g1", "g2", "g2", "g2", "g2"]}, index=person_acc().index)
    out = inequity(person_acc(), demo)
    g2 = (0.7 + 0.9 + 0.4 + 0.6) / 4 * 100
    assert out["sigma_inequity"] == pytest.approx(abs(50.0 - g2) / math.sqrt(2))


def test_no_dimension_with_two_groups() -> None:
    demo = pd.DataFrame({"D": ["g"] * 5}, index=person_acc().index)
    assert inequity(person_acc(), demo)["sigma_inequity"] is None
