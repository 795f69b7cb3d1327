"""Shared small populations (generation is fast, but several tests reuse the same frame)."""

from __future__ import annotations

import pandas as pd
import pytest

from indievalue.synth import generate_population


@pytest.fixture(scope="session")
def small_pop() -> pd.DataFrame:
    return generate_population(2_000, seed=7)


@pytest.fixture(scope="session")
def mid_pop() -> pd.DataFrame:
    return generate_population(6_000, seed=3)
