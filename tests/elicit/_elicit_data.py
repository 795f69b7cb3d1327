"""Test data for elicitation: a catalog where only some questions tell anything about a person.

Every person has one of three latent types. On the *informative* questions (even question
index) a type has a preferred answer its members give 90 % of the time; the other questions
are answered uniformly at random, whoever answers. A good elicitation asks informative
questions first: a noise question's answer says nothing about the rest. A small value model
is trained once per session on everyone but the first ``N_EVAL`` persons and saved.

A plain helper module (not a conftest.py), built once per session.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from indievalue.catalog.build import build_catalog
from indievalue.catalog.spec_io import builtin_spec
from indievalue.catalog.store import Catalog
from indievalue.predictors import TrainingPool, make_predictor
from wvs_testdata import make_wvs_frame, write_wvs

N_PERSONS = 500
N_EVAL = 40
N_TYPES = 3
ADHERENCE = 0.9
# Small and fast (a few seconds); enough to learn the types.
OPTIONS = {"epochs": 20, "hidden": 48, "dim": 6, "batch_size": 64, "lr": 1e-2, "threads": 1}


def informative(n_questions: int) -> np.ndarray:
    return np.arange(n_questions) % 2 == 0


@dataclass(frozen=True)
class ElicitData:
    catalog: Path
    cat: Catalog
    model_dir: Path
    predictor: Any  # the fitted value-model predictor
    eval_ids: np.ndarray
    types: np.ndarray  # latent type of every catalog row
    informative: np.ndarray  # (Q,) bool


def _frame(seed: int = 5) -> tuple[Any, np.ndarray]:
    spec = builtin_spec()
    df = make_wvs_frame(N_PERSONS, seed=seed, missing_rate=0.0)
    rng = np.random.default_rng([seed, 7])
    types = rng.integers(0, N_TYPES, size=N_PERSONS)
    useful = informative(len(spec.questions))
    for i, q in enumerate(spec.questions):
        codes = np.array(sorted(q.valid_codes))
        noise = rng.choice(codes, size=N_PERSONS)
        if useful[i]:
            preferred = rng.choice(codes, size=N_TYPES)
            keep = rng.random(N_PERSONS) < ADHERENCE
            df[q.qid] = np.where(keep, preferred[types], noise)
        else:
            df[q.qid] = noise
    return df, types


_CACHE: dict[str, ElicitData] = {}


def elicit_data(factory: pytest.TempPathFactory) -> ElicitData:
    """The session's catalog and trained model (built on first use; read-only)."""
    if "data" not in _CACHE:
        root = factory.mktemp("elicit")
        df, types = _frame()
        build_catalog(write_wvs(df, root / "planted.csv"), root / "catalog")
        cat = Catalog.load(root / "catalog")
        eval_ids = cat.person_ids[:N_EVAL]
        rows = np.flatnonzero(~np.isin(cat.person_ids, eval_ids))
        pred = make_predictor("value-model", OPTIONS, seed=1).fit(TrainingPool(cat, rows))
        pred.save(str(root / "model"))  # type: ignore[attr-defined]
        _CACHE["data"] = ElicitData(root / "catalog", cat, root / "model", pred, eval_ids,
                                    types, informative(len(cat.spec.questions)))
    return _CACHE["data"]
