"""Fuzz ``indievalue catalog build --wvs FILE``: survey files with structural damage.

tests/catalog/test_bad_input.py feeds random and byte-mutated files to ``build_catalog``; these
cases go through the CLI and damage the table itself: columns dropped or given twice (in
another case or with padding), cells of the wrong type, codes out of range or huge, rows
duplicated, the file emptied or cut short, other delimiters, line ends and text encodings, and
the same damage written as SPSS and Stata files; and ``--statements-from`` metadata with
records dropped, retyped or damaged.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _fuzz_support import (
    JSON_VALUES,
    FuzzData,
    check,
    damaged_bytes,
    fuzz_settings,
    reference_questions,
    run_cli,
    watching,
)
from _survey_damage import csv_bytes, damaged_table, stat_bytes
from hypothesis import example, given
from hypothesis import strategies as st

from indievalue.catalog.spec_io import builtin_spec
from indievalue.catalog.store import Catalog
from wvs_testdata import write_reference_jsonl

ROWS = 12
SPEC = builtin_spec()
NEEDED = ["D_INTERVIEW", *SPEC.qids, *SPEC.demographic_columns]
# Columns whose damage matters most get drawn often; any needed column may be drawn.
KEY_COLUMNS = ["D_INTERVIEW", "B_COUNTRY", "Q1", "Q31", "Q94", "Q260", "Q289", "version"]
COLUMNS = st.sampled_from(KEY_COLUMNS) | st.sampled_from(NEEDED)


def _build(kind: str, data: bytes, suffix: str, root: Path, replace: Path | None) -> None:
    """Build from ``data``; with ``replace``, over a copy of that catalog (``--overwrite``),
    which a failure must leave as it was."""
    case = Path(tempfile.mkdtemp(dir=root))
    try:
        src = case / f"survey{suffix}"
        src.write_bytes(data)
        out = case / "out" / "catalog"
        out.parent.mkdir()
        if replace is not None:
            shutil.copytree(replace, out)
        with watching(out) as unchanged:
            result = check(kind, run_cli("catalog", "build", "--wvs", src, "--out", out,
                                         *(["--overwrite"] if replace else [])), unchanged)
        if result == "ok":
            cat = Catalog.load(out)
            assert 1 <= len(cat.person_ids) <= ROWS * 2
            assert cat.polar.min() >= -1
            assert (cat.polar.max(axis=0) < cat.spec.option_counts("polar")).all()
            assert len(np.unique(cat.person_ids)) == len(cat.person_ids)
    finally:
        shutil.rmtree(case, ignore_errors=True)


@pytest.fixture(scope="module")
def small_frame(fuzz_data: FuzzData) -> pd.DataFrame:
    return fuzz_data.frame.head(ROWS).copy()


def test_damaged_csv(fuzz_data: FuzzData, small_frame: pd.DataFrame, depth: int,
                     tmp_path: Path) -> None:
    @fuzz_settings(35, depth)
    @given(data=st.data(), replace=st.booleans())
    def case(data: st.DataObject, replace: bool) -> None:
        header, rows = data.draw(damaged_table(small_frame, COLUMNS))
        _build("survey: csv", data.draw(csv_bytes(header, rows)), ".csv", tmp_path,
               fuzz_data.catalog if replace else None)

    case()


def test_damaged_spss_and_stata(small_frame: pd.DataFrame, depth: int, tmp_path: Path) -> None:
    @fuzz_settings(12, depth)
    @given(data=st.data(), suffix=st.sampled_from([".sav", ".dta"]))
    def case(data: st.DataObject, suffix: str) -> None:
        header, rows = data.draw(damaged_table(small_frame, COLUMNS))
        raw = stat_bytes(header, rows, suffix, tmp_path)
        if data.draw(st.integers(0, 3)) == 0:  # cut short
            raw = raw[: data.draw(st.integers(0, len(raw)))]
        _build(f"survey: {suffix[1:]}", raw, suffix, tmp_path, None)

    case()


# -- --statements-from: statement metadata in the reference JSONL layout ----------------------

META_FILES = ("statements_meta_data.jsonl", "refined_statements_meta_data.jsonl")
META_FIELDS = ("question_id", "answer_ids", "converted_statements", "question_category",
               "question_type")
CODE_LISTS = st.sampled_from([[], [[]], [[1], [1]], [[-1]], [[10**6]], [[2**63]], [["1"]],
                              [[1.5]], [[1, 2]], [[None]], "1", [1, 2], {"1": [1]}])


@st.composite
def damaged_metadata(draw: st.DrawFn, directory: Path) -> list[tuple[str, bytes | None]]:
    """One or two (file name, new content or None to remove) changes."""
    out: list[tuple[str, bytes | None]] = []
    for _ in range(draw(st.integers(1, 2))):
        name = draw(st.sampled_from([*META_FILES, "demographics_meta_data.jsonl"]))
        path = directory / name
        lines = path.read_text().splitlines() if path.exists() else ['{"question_id": "X"}']
        how = draw(st.sampled_from(["field", "field", "line", "bytes", "remove"]))
        if how == "remove":
            out.append((name, None))
            continue
        if how == "bytes":
            out.append((name, draw(damaged_bytes("\n".join(lines).encode()))))
            continue
        i = draw(st.integers(0, len(lines) - 1))
        if how == "line":
            lines[i] = draw(st.sampled_from(["5", "[]", "null", '"x"', "{}", lines[0]]))
        else:
            rec = json.loads(lines[i])
            key = draw(st.sampled_from(META_FIELDS))
            if draw(st.integers(0, 3)) == 0:
                rec.pop(key, None)
            elif key == "answer_ids":
                rec[key] = draw(CODE_LISTS)
            else:
                rec[key] = draw(JSON_VALUES | st.sampled_from(["Q1", "Q9999", "Migration"]))
            lines[i] = json.dumps(rec)
        out.append((name, ("\n".join(lines) + "\n").encode()))
    return out


def test_damaged_statement_metadata(small_frame: pd.DataFrame, depth: int,
                                    tmp_path: Path) -> None:
    survey = tmp_path / "survey.csv"
    small_frame.to_csv(survey, index=False)
    base = write_reference_jsonl(tmp_path / "meta", reference_questions())

    @fuzz_settings(15, depth)
    @given(changes=damaged_metadata(base))
    @example(changes=[(META_FILES[1], b"5\n")])  # a record that is not a mapping
    def case(changes: list[tuple[str, bytes | None]]) -> None:
        work = Path(tempfile.mkdtemp(dir=tmp_path))
        try:
            meta = work / "meta"
            shutil.copytree(base, meta)
            for name, data in changes:
                (meta / name).unlink(missing_ok=True)
                if data is not None:
                    (meta / name).write_bytes(data)
            out = work / "catalog"
            with watching(out) as unchanged:
                check("survey: --statements-from",
                      run_cli("catalog", "build", "--wvs", survey, "--out", out,
                              "--statements-from", meta), unchanged)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    case()
