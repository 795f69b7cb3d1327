"""Shared small populations (generation is fast, but several tests reuse the same frame), and a
small catalog built from a generated population (for the oracle)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from indievalue.catalog.build import build_catalog
from indievalue.synth import generate_population, write_wvs

SYNTH_CATALOG_PERSONS = 4_000
SYNTH_CATALOG_SEED = 5


@pytest.fixture(scope="session")
def small_pop() -> pd.DataFrame:
    return generate_population(2_000, seed=7)


@pytest.fixture(scope="session")
def mid_pop() -> pd.DataFrame:
    return generate_population(6_000, seed=3)


@pytest.fixture(scope="session")
def synth_frame() -> pd.DataFrame:
    """The population behind ``synth_catalog``; do not mutate."""
    return generate_population(SYNTH_CATALOG_PERSONS, seed=SYNTH_CATALOG_SEED)


@pytest.fixture(scope="session")
def synth_catalog(tmp_path_factory: pytest.TempPathFactory, synth_frame: pd.DataFrame) -> Path:
    """A catalog of a generated population (read-only for tests)."""
    root = tmp_path_factory.mktemp("synth_catalog")
    csv = write_wvs(synth_frame, root / "synthetic.csv")
    build_catalog(csv, root / "catalog")
    return root / "catalog"
