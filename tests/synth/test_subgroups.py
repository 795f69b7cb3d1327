"""Sub-country groups (shipped since generator 1.2.0): members of a group share
question-specific tendencies, the per-country answer distributions stay where they were, and
with zero groups nothing the generator draws changes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from indievalue.synth import generate_population
from indievalue.synth.generate.params import SynthParams, load_params
from indievalue.synth.generate.persons import draw_persons
from indievalue.synth.generate.values import answer_codes, draw_latents, subgroup_offsets


def _with(**scalars: float) -> SynthParams:
    p = load_params()
    return SynthParams(arrays=p.arrays, scalars={**p.scalars, **scalars})


def _answers(p: SynthParams, n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(country, subgroup or None, persons x questions raw codes) of ``n`` drawn persons."""
    rng = np.random.default_rng(seed)
    persons = draw_persons(p, n, rng)
    lat = draw_latents(p, persons, rng)
    codes = answer_codes(p, persons, lat, rng)
    qids = [str(q) for q in p["q_ids"]]
    return persons.country, lat.subgroup, np.column_stack([codes[q] for q in qids])


def test_zero_groups_means_none() -> None:
    p = load_params()
    assert int(p.scalars["sub_groups"]) > 1 and subgroup_offsets(p) is not None
    plain = SynthParams(arrays=p.arrays, scalars={k: v for k, v in p.scalars.items()
                                                  if not k.startswith("sub_")})
    assert subgroup_offsets(plain) is None and subgroup_offsets(_with(sub_groups=0)) is None
    a = generate_population(300, seed=4, params=plain)
    b = generate_population(300, seed=4, params=_with(sub_groups=0))
    pd.testing.assert_frame_equal(a, b)
    c = generate_population(300, seed=4)
    qids = [str(q) for q in p["q_ids"]]
    assert (a[qids].to_numpy() != c[qids].to_numpy()).mean() > 0.05  # the groups move answers


def test_members_of_a_group_agree_more_and_country_shares_hold() -> None:
    grouped = _with(sub_groups=4, sub_sd=0.6)
    country, group, x = _answers(grouped, 8_000, 1)
    _, none, y = _answers(_with(sub_groups=0), 8_000, 1)
    assert none is None and group is not None and set(np.unique(group)) == {0, 1, 2, 3}
    # the largest country: pairs of persons in one group agree more often than across groups
    c = np.bincount(country).argmax()
    rows = np.flatnonzero(country == c)[:400]
    same = group[rows][:, None] == group[rows][None, :]
    agree = (x[rows][:, None, :] == x[rows][None, :, :]).mean(axis=2)
    off_diag = ~np.eye(len(rows), dtype=bool)
    assert agree[same & off_diag].mean() > agree[~same].mean() + 0.02
    # while the answer shares per question stay those of the ungrouped generator
    for j in range(0, x.shape[1], 7):
        codes = np.union1d(x[:, j], y[:, j])
        share_x = np.array([(x[:, j] == k).mean() for k in codes])
        share_y = np.array([(y[:, j] == k).mean() for k in codes])
        assert np.abs(share_x - share_y).max() < 0.04, j


def test_offsets_are_fixed_parameters_centred_per_country() -> None:
    p = _with(sub_groups=5, sub_sd=0.5, sub_seed=3)
    off = subgroup_offsets(p)
    assert off is not None and off.shape == (p.n_countries, 5, len(p["q_ids"]))
    np.testing.assert_array_equal(off, subgroup_offsets(p))
    ordinal = np.abs(off).sum(axis=(0, 1)) > 0
    assert ordinal.sum() == len(p["q_ids"]) - 6  # the postmaterialist choices have none
    np.testing.assert_allclose(off.mean(axis=1), 0.0, atol=1e-12)
    np.testing.assert_allclose(np.sqrt((off[:, :, ordinal] ** 2).mean(axis=1)), 0.5)
    assert not np.allclose(off, subgroup_offsets(_with(sub_groups=5, sub_sd=0.5, sub_seed=4)))


@pytest.mark.parametrize("scalars", [{"sub_groups": 1, "sub_sd": 0.5},
                                     {"sub_groups": 3, "sub_sd": 1.0},
                                     {"sub_groups": 3, "sub_sd": -0.1}])
def test_impossible_group_settings_are_refused(scalars: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="sub_"):
        generate_population(10, seed=0, params=_with(**scalars))
