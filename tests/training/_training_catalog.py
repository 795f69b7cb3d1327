"""A small catalog for the training tests: persons on all six continents, few missing answers,
so the eval set can be drawn exactly as ``indievalue evaluate`` draws it (a small --eval-size).

A plain helper module, not a conftest.py (a second ``conftest`` would shadow tests/conftest.py).
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from indievalue.catalog.build import build_catalog

# Egypt (Africa), New Zealand (Oceania), China (Asia), Germany (Europe), United States
# (North America), Argentina (South America).
COUNTRIES = np.array([818, 554, 156, 276, 840, 32])
SHARES = np.array([0.19, 0.05, 0.19, 0.19, 0.19, 0.19])
PERSONS = 600
EVAL_SIZE = 20

_built: dict[str, Path] = {}


def _test_data() -> ModuleType:
    """tests/wvs_testdata.py, the shared survey-file generator (imported by path so this
    helper also works outside pytest)."""
    tests = str(Path(__file__).resolve().parents[1])
    if tests not in sys.path:
        sys.path.append(tests)
    return importlib.import_module("wvs_testdata")


def training_catalog(factory: pytest.TempPathFactory) -> Path:
    """Built once per test session; read-only for the tests."""
    if "path" not in _built:
        data = _test_data()
        df = data.make_wvs_frame(PERSONS, seed=23, missing_rate=0.004)
        df["B_COUNTRY"] = np.random.default_rng(3).choice(COUNTRIES, p=SHARES, size=len(df))
        base = factory.mktemp("training-catalog")
        build_catalog(data.write_wvs(df, base / "wvs.csv"), base / "catalog")
        _built["path"] = base / "catalog"
    return _built["path"]
