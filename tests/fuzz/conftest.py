"""Small inputs the fuzz cases damage: a 240-person survey frame, two catalogs (the second
with another spec, three questions short, and other persons, for swapped files), a finished
run directory and a saved value model. Built once per session, read-only; every case works on
a copy."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from _fuzz_support import (
    SMALL_VALUE_MODEL,
    THOROUGH,
    FuzzData,
    evaluate_args,
    reference_questions,
    run_cli,
    write_tally,
)

from indievalue.catalog.build import build_catalog
from indievalue.catalog.spec_io import load_reference_spec
from indievalue.catalog.store import Catalog
from wvs_testdata import make_wvs_frame, write_reference_jsonl, write_wvs

PERSONS = 240
EVAL_PERSONS = 3


@pytest.fixture(params=[1, pytest.param(THOROUGH, marks=pytest.mark.slow)],
                ids=["quick", "thorough"])
def depth(request: pytest.FixtureRequest) -> int:
    """Multiplier of each fuzz test's example count (the thorough run is slow-marked)."""
    return int(request.param)


@pytest.fixture(scope="session", autouse=True)
def _tally() -> Iterator[None]:
    yield
    target = os.environ.get("INDIEVALUE_FUZZ_TALLY")
    if target:
        write_tally(target)


@pytest.fixture(scope="session")
def fuzz_data(tmp_path_factory: pytest.TempPathFactory) -> FuzzData:
    root = tmp_path_factory.mktemp("fuzz")
    frame = make_wvs_frame(PERSONS, seed=31, missing_rate=0.004)
    csv = write_wvs(frame, root / "wvs.csv")
    catalog = root / "catalog"
    build_catalog(csv, catalog)
    meta = write_reference_jsonl(root / "meta", reference_questions())
    other_csv = write_wvs(make_wvs_frame(60, seed=32), root / "other.csv")
    other = root / "other" / "catalog"
    build_catalog(other_csv, other, spec=load_reference_spec(meta))
    cat = Catalog.load(catalog)
    complete = np.flatnonzero((cat.polar >= 0).all(axis=1))
    ids = [int(i) for i in cat.person_ids[complete[:EVAL_PERSONS]]]
    assert len(ids) == EVAL_PERSONS
    ids_file = root / "eval_ids.txt"
    ids_file.write_text("".join(f"{i}\n" for i in ids))
    run = root / "run"
    result = run_cli(*evaluate_args(catalog, run, ids_file), "--predictor", "random")
    assert result.ok, result
    return FuzzData(root, frame, catalog, other, ids, ids_file, run)


@pytest.fixture(scope="session")
def value_model_dir(fuzz_data: FuzzData) -> Path:
    """A tiny value model trained outside the fuzz eval persons (skips without torch)."""
    pytest.importorskip("torch")
    out = fuzz_data.root / "value-model"
    result = run_cli("train", "value-model", "--catalog", fuzz_data.catalog, "--out", out,
                     "--eval-ids", fuzz_data.eval_ids_file, *SMALL_VALUE_MODEL)
    assert result.ok, result
    return out
