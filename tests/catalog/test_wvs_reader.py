"""Reading WVS-7 files: CSV dialects, SPSS and Stata, needed columns only, integer coercion,
de-duplication and the synthetic marker."""

from __future__ import annotations

import codecs
import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from indievalue.catalog.spec import StatementSpec
from indievalue.catalog.wvs import BLANK_CODE, WVSTable, read_wvs, required_columns
from indievalue.errors import WVSFormatError
from wvs_testdata import EXTRA_COLUMNS, make_wvs_frame, write_wvs


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return make_wvs_frame(40, seed=3)


def assert_table_matches(table: WVSTable, df: pd.DataFrame, spec: StatementSpec) -> None:
    assert table.person_ids.dtype == np.int64
    assert table.person_ids.tolist() == df["D_INTERVIEW"].tolist()
    assert set(table.columns) == set(required_columns(spec)) - {"D_INTERVIEW"}
    for name, values in table.columns.items():
        assert values.dtype == np.int64, name
        assert values.tolist() == df[name].astype(int).tolist(), name


# -- formats and dialects --------------------------------------------------------------------


def test_plain_csv(tmp_path: Path, frame: pd.DataFrame, spec: StatementSpec) -> None:
    table = read_wvs(write_wvs(frame, tmp_path / "w.csv"), spec)
    assert_table_matches(table, frame, spec)
    assert table.n_rows_read == 40 and table.n_duplicates == 0


def _write_dialect(df: pd.DataFrame, path: Path, dialect: str) -> Path:
    if dialect == "quoted":
        df.to_csv(path, index=False, quoting=csv.QUOTE_ALL)
    elif dialect == "bom":
        path.write_bytes(codecs.BOM_UTF8 + df.to_csv(index=False).encode("utf-8"))
    elif dialect == "semicolon":
        df.to_csv(path, index=False, sep=";")
    elif dialect == "quoted-semicolon-bom-crlf":
        text = df.to_csv(index=False, sep=";", quoting=csv.QUOTE_NONNUMERIC, lineterminator="\r\n")
        path.write_bytes(codecs.BOM_UTF8 + text.encode("utf-8"))
    elif dialect == "tab":
        df.to_csv(path, index=False, sep="\t")
    elif dialect == "lower-case-names":
        df.rename(columns=str.lower).to_csv(path, index=False)
    elif dialect == "shuffled-columns":
        cols = list(df.columns)
        np.random.default_rng(0).shuffle(cols)
        df[cols].to_csv(path, index=False)
    return path


@pytest.mark.parametrize("dialect", ["quoted", "bom", "semicolon", "quoted-semicolon-bom-crlf",
                                     "tab", "lower-case-names", "shuffled-columns"])
def test_csv_dialects_read_the_same(tmp_path: Path, frame: pd.DataFrame, spec: StatementSpec,
                                    dialect: str) -> None:
    table = read_wvs(_write_dialect(frame, tmp_path / "w.csv", dialect), spec)
    assert_table_matches(table, frame, spec)
    assert table.synthetic


@pytest.mark.parametrize("suffix", [".sav", ".dta", ".CSV"])
def test_spss_stata_and_upper_case_suffix(tmp_path: Path, frame: pd.DataFrame,
                                          spec: StatementSpec, suffix: str) -> None:
    path = tmp_path / f"w{suffix}"
    if suffix == ".CSV":
        frame.to_csv(path, index=False)
    else:
        write_wvs(frame, path)
    table = read_wvs(path, spec)
    assert_table_matches(table, frame, spec)
    assert table.synthetic and table.version_label.startswith("SYNTHETIC")


def test_only_needed_columns_are_kept(tmp_path: Path, frame: pd.DataFrame,
                                      spec: StatementSpec) -> None:
    df = frame.copy()
    df["NOTES"] = "free text, with a comma"  # a text column the reader must not parse
    df["Y_FLOAT"] = 0.5
    table = read_wvs(write_wvs(df, tmp_path / "w.csv"), spec)
    assert "NOTES" not in table.columns and "Y_FLOAT" not in table.columns
    assert all(c in frame.columns and c not in table.columns for c in EXTRA_COLUMNS)
    assert_table_matches(table, frame, spec)


# -- codes -----------------------------------------------------------------------------------


def test_float_codes_are_coerced(tmp_path: Path, frame: pd.DataFrame, spec: StatementSpec) -> None:
    df = frame.copy()
    numeric = [c for c in df.columns if c != "version"]
    df[numeric] = df[numeric].astype(float)
    path = write_wvs(df, tmp_path / "w.csv")
    assert ",3.0," in path.read_text() or ",1.0," in path.read_text()
    assert_table_matches(read_wvs(path, spec), frame, spec)


def test_blank_cells_become_the_blank_code(tmp_path: Path, frame: pd.DataFrame,
                                           spec: StatementSpec) -> None:
    df = frame.copy().astype({"Q1": "Float64", "Q260": "Float64"})
    df.loc[[2, 5], "Q1"] = pd.NA
    df.loc[7, "Q260"] = pd.NA
    for suffix in (".csv", ".sav", ".dta"):
        table = read_wvs(write_wvs(df, tmp_path / f"w{suffix}"), spec)
        assert table.columns["Q1"][[2, 5]].tolist() == [BLANK_CODE] * 2, suffix
        assert table.columns["Q260"][7] == BLANK_CODE, suffix
        assert table.columns["Q1"][0] == frame["Q1"][0], suffix


def test_non_integer_code_is_an_error(tmp_path: Path, frame: pd.DataFrame,
                                      spec: StatementSpec) -> None:
    df = frame.copy().astype({"Q17": float})
    df.loc[3, "Q17"] = 1.5
    with pytest.raises(WVSFormatError, match=r"column Q17 .*non-integer code 1\.5"):
        read_wvs(write_wvs(df, tmp_path / "w.csv"), spec)


def test_huge_code_is_an_error(tmp_path: Path, frame: pd.DataFrame, spec: StatementSpec) -> None:
    df = frame.copy().astype({"Q266": float})
    df.loc[3, "Q266"] = 5e12
    with pytest.raises(WVSFormatError, match=r"column Q266 .*out-of-range"):
        read_wvs(write_wvs(df, tmp_path / "w.csv"), spec)


# -- rows ------------------------------------------------------------------------------------


def test_duplicate_interviews_keep_the_first(tmp_path: Path, frame: pd.DataFrame,
                                             spec: StatementSpec) -> None:
    dupes = frame.iloc[[4, 10, 4]].copy()
    dupes["Q1"] = 99  # differs from the first occurrences
    df = pd.concat([frame, dupes], ignore_index=True)
    table = read_wvs(write_wvs(df, tmp_path / "w.csv"), spec)
    assert table.n_rows_read == 43
    assert table.n_duplicates == 3
    assert_table_matches(table, frame, spec)


def test_duplicates_are_dropped_in_file_order(tmp_path: Path, frame: pd.DataFrame,
                                              spec: StatementSpec) -> None:
    df = frame.iloc[[5, 1, 5, 3, 1]].copy()
    df["Q2"] = [1, 2, 3, 4, 1]
    table = read_wvs(write_wvs(df, tmp_path / "w.csv"), spec)
    assert table.person_ids.tolist() == frame["D_INTERVIEW"].iloc[[5, 1, 3]].tolist()
    assert table.columns["Q2"].tolist() == [1, 2, 4]


# -- synthetic marker ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "synthetic"),
    [("SYNTHETIC indievalue 0.1", True), ("  synthetic population", True),
     ("5-0-0 (2022-12-14)", False), ("not SYNTHETIC", False), (None, False)],
)
def test_synthetic_marker(tmp_path: Path, frame: pd.DataFrame, spec: StatementSpec,
                          label: str | None, synthetic: bool) -> None:
    df = frame.copy()
    if label is None:
        df = df.drop(columns="version")
    else:
        df["version"] = label
    for suffix in (".csv", ".sav"):
        table = read_wvs(write_wvs(df, tmp_path / f"w{suffix}"), spec)
        assert table.synthetic is synthetic, (label, suffix)
