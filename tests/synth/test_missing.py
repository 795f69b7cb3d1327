"""The shape of item missingness on a few thousand persons (paper: 242.03 +- 17.31 of 253
valid, about 17 % answering everything)."""

from __future__ import annotations

import pandas as pd

from indievalue.catalog.spec_io import builtin_spec
from indievalue.synth.calibrate.quickeval import labels


def test_valid_answer_counts(mid_pop: pd.DataFrame) -> None:
    valid = (labels(mid_pop, builtin_spec(), "polar") >= 0).sum(axis=1)
    assert 238 <= valid.mean() <= 246
    assert 12 <= valid.std() <= 23
    assert 0.10 <= (valid == 253).mean() <= 0.25
    assert valid.min() < 200  # a tail of persons who skip many questions


def test_postmaterialist_second_choice(mid_pop: pd.DataFrame) -> None:
    for first, second in (("Q152", "Q153"), ("Q154", "Q155"), ("Q156", "Q157")):
        f, s = mid_pop[first], mid_pop[second]
        both = (f > 0) & (s > 0)
        assert both.mean() > 0.8
        assert (f[both] != s[both]).all()
        assert ((f < 0) & (f != -4) <= (s == -3)).all()
