"""A "bench catalog" for the benchmark, predictor, run and CLI tests.

``tests/conftest.py``'s generator has no African country and a missing rate that leaves almost
nobody eligible for the eval set (valid on all 108 probe questions and >= 239 valid answers).
This module builds, once per session, a catalog of 2,500 synthetic persons with a low missing
rate and countries on all six continents (Oceania kept small so "all eligible Oceania persons"
is a real constraint), and with Europe mostly Roman Catholic so the religion cap binds.
Import the accessors from each test folder's ``conftest.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from indievalue.benchmark.setups import probe_setups
from indievalue.catalog.build import build_catalog
from indievalue.catalog.spec import Form
from indievalue.catalog.store import Catalog
from wvs_testdata import make_wvs_frame, write_wvs

BENCH_PERSONS = 2_500
BENCH_SEED = 7
BENCH_MISSING = 0.004
# Egypt (Africa), China (Asia), Germany (Europe), United States (North America),
# Argentina (South America), New Zealand (Oceania), with these shares.
CONTINENT_COUNTRIES = {818: 0.19, 156: 0.19, 276: 0.20, 840: 0.19, 32: 0.19, 554: 0.04}
GERMANY = 276
CATHOLIC = 1  # Q289 code "Roman Catholic"
CATHOLIC_SHARE_IN_EUROPE = 0.8


def make_bench_frame(n: int = BENCH_PERSONS, seed: int = BENCH_SEED,
                     missing_rate: float = BENCH_MISSING) -> pd.DataFrame:
    """A WVS-layout frame of ``n`` persons spread over the six continents."""
    df = make_wvs_frame(n, seed=seed, missing_rate=missing_rate)
    rng = np.random.default_rng([seed, 1])
    codes = np.array(list(CONTINENT_COUNTRIES), dtype=np.int64)
    shares = np.array(list(CONTINENT_COUNTRIES.values()))
    df["B_COUNTRY"] = rng.choice(codes, size=n, p=shares / shares.sum())
    europe = (df["B_COUNTRY"] == GERMANY).to_numpy()
    catholic = europe & (rng.random(n) < CATHOLIC_SHARE_IN_EUROPE)
    df.loc[catholic, "Q289"] = CATHOLIC
    return df


@dataclass(frozen=True)
class BenchData:
    csv: Path
    catalog: Path


_CACHE: dict[str, BenchData] = {}


def bench_data(factory: pytest.TempPathFactory) -> BenchData:
    """The session's bench CSV and catalog (built on first use, then shared; read-only)."""
    if "bench" not in _CACHE:
        root = factory.mktemp("bench")
        csv = write_wvs(make_bench_frame(), root / "wvs7_bench.csv")
        build_catalog(csv, root / "catalog")
        _CACHE["bench"] = BenchData(csv, root / "catalog")
    return _CACHE["bench"]


def probe_columns(cat: Catalog) -> np.ndarray:
    """Column indices of the 108 distinct probe questions."""
    qids = dict.fromkeys(q for s in probe_setups(cat.spec) for q in s.qids)
    return np.array([cat.spec.index(q) for q in qids], dtype=np.int64)


def altered_copy(path: Path, rows: np.ndarray, cols: np.ndarray) -> Catalog:
    """A fresh Catalog on ``path`` whose answers at (rows x cols) are all moved to another
    option, in the polar, refined and raw matrices alike. Nothing on disk changes."""
    cat = Catalog.load(path)
    spec = cat.spec
    r, c = np.ix_(np.asarray(rows), np.asarray(cols))
    for form in ("polar", "refined"):
        f: Form = form  # type: ignore[assignment]
        mat = cat.matrix(f).copy()
        n_opt = spec.option_counts(f)[c]
        block = mat[r, c].astype(np.int64)
        mat[r, c] = np.where(block >= 0, (block + 1) % n_opt, block).astype(np.int8)
        setattr(cat, form, mat)
    raw = cat.raw.copy()
    refined = cat.refined
    for j in np.asarray(cols):
        q = spec.questions[int(j)]
        first_code = np.array([o.codes[0] for o in q.refined], dtype=np.int16)
        sel = np.asarray(rows)
        ok = refined[sel, j] >= 0
        raw[sel[ok], j] = first_code[refined[sel[ok], j]]
    cat.raw = raw  # type: ignore[misc]
    return cat


def override(path: Path, polar: np.ndarray | None = None, refined: np.ndarray | None = None,
             person_ids: np.ndarray | None = None) -> Catalog:
    """A fresh Catalog on ``path`` with some cached tables replaced (in memory only)."""
    cat = Catalog.load(path)
    if polar is not None:
        cat.polar = polar  # type: ignore[misc]
    if refined is not None:
        cat.refined = refined  # type: ignore[misc]
    if person_ids is not None:
        cat.person_ids = person_ids  # type: ignore[misc]
    return cat
