"""Fuzz ``indievalue catalog build --survey SPEC --data FILE``: a person-level survey a spec
describes. The data file gets the table damage of the WVS cases (as CSV, Parquet, SPSS or
Stata) for the two shipped specs; the spec file (a copy of the shipped bfi spec) gets keys
dropped or retyped at every depth, sections replaced, and its text damaged as bytes."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from _fuzz_support import (
    JSON_VALUES,
    check,
    damaged_bytes,
    fuzz_settings,
    run_cli,
    watching,
)
from _survey_damage import csv_bytes, damaged_table, parquet_bytes, stat_bytes
from hypothesis import example, given
from hypothesis import strategies as st

from indievalue import datasets
from indievalue.catalog.spec import StatementSpec
from indievalue.catalog.store import Catalog
from indievalue.datasets import get_dataset, shipped_spec

ROWS = 12
SURVEYS = ("bfi", "gss_spending")


def survey_frame(spec: StatementSpec, n: int, seed: int) -> pd.DataFrame:
    """``n`` respondents with valid survey values for every column ``spec`` reads."""
    assert spec.survey is not None
    rng = np.random.default_rng(seed)
    cols: dict[str, Any] = {spec.survey.id_column: np.arange(1, n + 1) * 7}
    for q in spec.questions:
        values = [v for v, _ in q.recode] if q.recode else sorted(q.valid_codes)
        cols[q.qid] = rng.choice(np.asarray(values), size=n)
    for column in spec.demographic_columns:
        cols[column] = rng.choice(np.asarray(spec.demographic_codes(column)), size=n)
    return pd.DataFrame(cols)


def _catalog_ok(out: Path) -> None:
    cat = Catalog.load(out)
    assert 1 <= len(cat.person_ids) <= 2 * ROWS
    assert len(np.unique(cat.person_ids)) == len(cat.person_ids)
    assert cat.polar.min() >= -1
    assert (cat.polar.max(axis=0) < cat.spec.option_counts("polar")).all()


@pytest.mark.parametrize("survey", SURVEYS)
def test_damaged_survey_data(survey: str, depth: int, tmp_path: Path) -> None:
    spec = shipped_spec(survey)
    assert spec.survey is not None
    frame = survey_frame(spec, ROWS, seed=5)
    needed = [spec.survey.id_column, *spec.qids, *spec.demographic_columns]
    columns = st.sampled_from([spec.survey.id_column, spec.qids[0], spec.demographic_columns[0]])
    columns = columns | st.sampled_from(needed)

    @fuzz_settings(10, depth)
    @given(data=st.data(), suffix=st.sampled_from([".csv", ".csv", ".parquet", ".sav", ".dta"]))
    def case(data: st.DataObject, suffix: str) -> None:
        header, rows = data.draw(damaged_table(frame, columns))
        if suffix == ".csv":
            raw = data.draw(csv_bytes(header, rows))
        elif suffix == ".parquet":
            raw = parquet_bytes(header, rows)
        else:
            raw = stat_bytes(header, rows, suffix, tmp_path)
        if suffix != ".csv" and data.draw(st.integers(0, 3)) == 0:  # cut short
            raw = raw[: data.draw(st.integers(0, len(raw)))]
        work = Path(tempfile.mkdtemp(dir=tmp_path))
        try:
            src = work / f"data{suffix}"
            src.write_bytes(raw)
            out = work / "catalog"
            with watching(out) as unchanged:
                result = check(f"survey spec data: {suffix[1:]}",
                               run_cli("catalog", "build", "--survey", survey, "--data", src,
                                       "--out", out), unchanged)
            if result == "ok":
                _catalog_ok(out)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    case()


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path into ``doc`` (mappings and lists)."""
    out = [prefix] if prefix else []
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, (*prefix, i))
    return out


SPEC_VALUES = st.sampled_from([None, 0, -1, 1, 2**63, "", "x", "1..0", "0..1", [], {}, [[1], "a"],
                               [[[1]], "a"], "A", "scale_6", True, 1.5]) | JSON_VALUES


@st.composite
def damaged_spec(draw: st.DrawFn, text: str) -> bytes:
    """The spec's YAML with one to three changes at drawn key paths, or damaged bytes."""
    if draw(st.integers(0, 4)) == 0:
        return draw(damaged_bytes(text.encode()))
    doc = yaml.safe_load(text)
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(doc)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        if draw(st.integers(0, 2)) == 0:
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(SPEC_VALUES)
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True).encode()


def test_damaged_survey_spec(depth: int, tmp_path: Path) -> None:
    spec = shipped_spec("bfi")
    text = (Path(datasets.__file__).parent / get_dataset("bfi").spec_file).read_text("utf-8")
    data = tmp_path / "bfi.csv"
    survey_frame(spec, ROWS, seed=6).to_csv(data, index=False)

    @fuzz_settings(20, depth)
    @given(raw=damaged_spec(text))
    @example(raw=text.encode())  # the shipped spec itself builds
    @example(raw=b"- 1\n- 2\n")  # not a mapping
    def case(raw: bytes) -> None:
        work = Path(tempfile.mkdtemp(dir=tmp_path))
        try:
            spec_file = work / "spec.yaml"
            spec_file.write_bytes(raw)
            out = work / "catalog"
            with watching(out) as unchanged:
                result = check("survey spec: yaml",
                               run_cli("catalog", "build", "--survey", spec_file, "--data",
                                       data, "--out", out), unchanged)
            if raw == text.encode():
                assert result == "ok"
        finally:
            shutil.rmtree(work, ignore_errors=True)

    case()
