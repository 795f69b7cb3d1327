"""Fixtures of the real-data tests (the helpers are in ``_real_support.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from _real_support import real_catalog


@pytest.fixture(scope="session")
def gss_catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return real_catalog("gss_spending", tmp_path_factory)


@pytest.fixture(scope="session")
def bfi_catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return real_catalog("bfi", tmp_path_factory)
