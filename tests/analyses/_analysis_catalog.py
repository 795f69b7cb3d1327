"""A catalog every analysis can draw an eval set from: 2,000 persons spread over six
continents (Oceania small, as in WVS-7, so the eval set's continent quotas are filled).

A plain helper module, not a conftest.py (see tests/report/_report_runs.py for why).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from indievalue.catalog.build import build_catalog


def _test_data() -> ModuleType:
    """tests/conftest.py by path: ``import conftest`` means whichever conftest pytest loaded
    last, which depends on the folders being run."""
    path = Path(__file__).resolve().parents[1] / "conftest.py"
    spec = importlib.util.spec_from_file_location("_indievalue_test_data", path)
    assert spec is not None and spec.loader is not None
    if spec.name in sys.modules:
        return sys.modules[spec.name]
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while defining
    spec.loader.exec_module(module)
    return module


# Egypt (Africa), New Zealand (Oceania), China (Asia), Germany (Europe), United States
# (North America), Argentina (South America).
COUNTRIES = np.array([818, 554, 156, 276, 840, 32])
SHARES = np.array([0.198, 0.01, 0.198, 0.198, 0.198, 0.198])
EVAL_SIZE = 40

_built: dict[str, Path] = {}


def analysis_catalog(factory: pytest.TempPathFactory) -> Path:
    """Built once per test session."""
    if "path" not in _built:
        data = _test_data()
        df = data.make_wvs_frame(2000, seed=11, missing_rate=0.004)
        df["B_COUNTRY"] = np.random.default_rng(5).choice(COUNTRIES, p=SHARES, size=len(df))
        base = factory.mktemp("analysis-catalog")
        build_catalog(data.write_wvs(df, base / "wvs.csv"), base / "catalog")
        _built["path"] = base / "catalog"
    return _built["path"]
