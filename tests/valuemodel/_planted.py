"""Test data for the value model: a catalog with planted structure. Every person belongs to
one of three latent types, and a type fixes a preferred answer to each question that its
members give 85% of the time. Knowing a person's type from a few answers predicts the rest;
the global majority cannot. A type's members live in one country (``TYPE_COUNTRIES``), so the
country head can learn to tell the country from the answers."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from indievalue.catalog.build import build_catalog
from indievalue.catalog.spec_io import builtin_spec
from indievalue.catalog.store import Catalog
from indievalue.predictors import TrainingPool
from wvs_testdata import COUNTRY_CODES, make_wvs_frame, write_wvs

N_PERSONS = 400
N_EVAL = 40
N_TYPES = 3
ADHERENCE = 0.85
TYPE_COUNTRIES = np.asarray(COUNTRY_CODES[:N_TYPES])


@dataclass(frozen=True)
class Planted:
    path: Path
    cat: Catalog
    eval_ids: np.ndarray
    pool: TrainingPool
    types: np.ndarray  # latent type of every catalog row


def planted_frame(n: int = N_PERSONS, seed: int = 3):  # type: ignore[no-untyped-def]
    spec = builtin_spec()
    df = make_wvs_frame(n, seed=seed, missing_rate=0.0)
    rng = np.random.default_rng([seed, 99])
    types = rng.integers(0, N_TYPES, size=n)
    df["B_COUNTRY"] = TYPE_COUNTRIES[types]
    for q in spec.questions:
        codes = np.array(sorted(q.valid_codes))
        preferred = rng.choice(codes, size=N_TYPES)
        keep = rng.random(n) < ADHERENCE
        df[q.qid] = np.where(keep, preferred[types], rng.choice(codes, size=n))
    return df, types


_CACHE: dict[str, Planted] = {}


def planted_data(tmp_path_factory: pytest.TempPathFactory) -> Planted:
    """The session's planted catalog (built on first use, then shared; read-only)."""
    if "planted" not in _CACHE:
        _CACHE["planted"] = _build(tmp_path_factory.mktemp("planted"))
    return _CACHE["planted"]


def _build(root: Path) -> Planted:
    df, types = planted_frame()
    csv = write_wvs(df, root / "planted.csv")
    build_catalog(csv, root / "catalog")
    cat = Catalog.load(root / "catalog")
    eval_ids = cat.person_ids[:N_EVAL]
    rows = np.flatnonzero(~np.isin(cat.person_ids, eval_ids))
    return Planted(root / "catalog", cat, eval_ids, TrainingPool(cat, rows), types)
