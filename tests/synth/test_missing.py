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


def test_oceania_missingness_is_fitted_to_its_eval_share() -> None:
    """The fitted per-country missingness puts the asked share of Oceania persons into the
    eval set of a population of the size it was fitted for, and touches no other country."""
    import numpy as np

    from indievalue.synth import generate_population
    from indievalue.synth.calibrate.fit_answers import fit_oceania_missing
    from indievalue.synth.calibrate.quickeval import eligible_oceania
    from indievalue.synth.generate.params import SynthParams, load_params

    spec = builtin_spec()
    shipped = load_params()
    n = 20_000
    counts = []
    for share in (0.05, 0.15):
        fitted = fit_oceania_missing(spec, dict(shipped.arrays), shipped.scalars, share, n, 800,
                                     np.random.default_rng(1))
        moved = (fitted["miss_country_shift"] != 0) | (
            fitted["miss_country_never"] != shipped.scalar("miss_never"))
        assert moved.sum() == 1 and shipped["country_code"][moved][0] == 554  # New Zealand
        params = SynthParams(arrays={**shipped.arrays, **fitted}, scalars=shipped.scalars)
        counts.append(eligible_oceania(generate_population(n, seed=7, params=params), spec))
    # 40 and 120 eligible persons asked for; binomial spread about 6 and 9
    assert abs(counts[0] - 40) <= 20 and abs(counts[1] - 120) <= 27
