"""Files that are not usable WVS-7 data: one readable error, exit code 2, no traceback, and
nothing left on disk. Hypothesis feeds random and mutated files to the reader and the builder."""

from __future__ import annotations

import codecs
import re
import struct
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from indievalue.catalog.build import build_catalog
from indievalue.catalog.store import Catalog
from indievalue.errors import IndieValueError, WVSFormatError
from wvs_testdata import CliResult, indievalue_command, leftovers, make_wvs_frame, write_wvs

PNG_HEAD = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + struct.pack(">II", 64, 64)


def _frame() -> pd.DataFrame:
    return make_wvs_frame(6, seed=11)


def _png(p: Path) -> None:
    p.write_bytes(PNG_HEAD + bytes(range(256)) * 4)


def _random_bytes(p: Path) -> None:
    p.write_bytes(np.random.default_rng(0).bytes(4096))


def _missing_columns(p: Path) -> None:
    _frame().drop(columns=["Q5", "Q260", "X003R"]).to_csv(p, index=False)


def _other_table(p: Path) -> None:
    p.write_text("name,height,weight\nann,170,60\n")


def _non_numeric(p: Path) -> None:
    df = _frame().astype({"Q31": object})
    df.loc[2, "Q31"] = "agree"
    df.to_csv(p, index=False)


def _non_integer(p: Path) -> None:
    df = _frame().astype({"Q31": float})
    df.loc[2, "Q31"] = 2.5
    df.to_csv(p, index=False)


def _empty(p: Path) -> None:
    p.write_bytes(b"")


def _header_only(p: Path) -> None:
    _frame().iloc[:0].to_csv(p, index=False)


def _header_only_no_newline(p: Path) -> None:
    p.write_text(",".join(_frame().columns))


def _utf16(p: Path) -> None:
    p.write_bytes(_frame().to_csv(index=False).encode("utf-16"))  # with a BOM


def _utf16_le_no_bom(p: Path) -> None:
    p.write_bytes(_frame().to_csv(index=False).encode("utf-16-le"))


def _utf32(p: Path) -> None:
    p.write_bytes(codecs.BOM_UTF32_LE + _frame().to_csv(index=False).encode("utf-32-le"))


def _ragged(p: Path) -> None:
    lines = _frame().to_csv(index=False).splitlines()
    lines[3] += ",1,2"
    p.write_text("\n".join(lines) + "\n")


def _blank_id(p: Path) -> None:
    df = _frame().astype({"D_INTERVIEW": float})
    df.loc[1, "D_INTERVIEW"] = np.nan
    df.to_csv(p, index=False)


def _directory(p: Path) -> None:
    p.mkdir()


def _random_sav(p: Path) -> None:
    p.write_bytes(b"$FL2" + np.random.default_rng(1).bytes(600))


def _csv_named_dta(p: Path) -> None:
    _frame().to_csv(p, index=False)


def _sav_missing_column(p: Path) -> None:
    write_wvs(_frame().drop(columns=["Q100"]), p)


# name -> (file name, writer or None for "no file", expected message)
CASES: dict[str, tuple[str, Callable[[Path], None] | None, str]] = {
    "missing file": ("absent.csv", None, "no such file"),
    "png renamed csv": ("picture.csv", _png, "binary data"),
    "random bytes": ("noise.csv", _random_bytes, "binary data|not a WVS-7|cannot parse"),
    "missing columns": ("cols.csv", _missing_columns, r"missing column\(s\) Q5, Q260, X003R"),
    "not a survey": ("people.csv", _other_table, "not a WVS-7 file"),
    "non-numeric code": ("text.csv", _non_numeric, "column Q31 holds a non-numeric value"),
    "non-integer code": ("half.csv", _non_integer, "column Q31 holds a non-integer code 2.5"),
    "empty file": ("empty.csv", _empty, "the file is empty"),
    "header only": ("head.csv", _header_only, "header but no respondents"),
    "header only, no newline": ("head2.csv", _header_only_no_newline,
                                "header but no respondents"),
    "utf-16": ("wide.csv", _utf16, "UTF-16"),
    "utf-16 without bom": ("wide2.csv", _utf16_le_no_bom, "binary data"),
    "utf-32": ("wider.csv", _utf32, "UTF-32"),
    "ragged rows": ("ragged.csv", _ragged, "malformed CSV"),
    "blank person id": ("noid.csv", _blank_id, "D_INTERVIEW has empty cells"),
    "a directory": ("folder.csv", _directory, "not a file"),
    "unknown suffix": ("survey.xlsx", _other_table, "unknown file type '.xlsx'"),
    "broken sav": ("broken.sav", _random_sav, "cannot read as SAV"),
    "csv named dta": ("fake.dta", _csv_named_dta, "cannot read as DTA"),
    "sav missing a column": ("short.sav", _sav_missing_column, r"missing column\(s\) Q100"),
}


def _make(case: str, where: Path) -> tuple[Path, str]:
    name, writer, message = CASES[case]
    path = where / name
    if writer is not None:
        writer(path)
    return path, message


@pytest.mark.parametrize("case", list(CASES))
def test_build_rejects(tmp_path: Path, case: str) -> None:
    path, message = _make(case, tmp_path)
    out = tmp_path / "out" / "cat"
    with pytest.raises(WVSFormatError, match=message):
        build_catalog(path, out)
    assert not out.exists()
    if out.parent.exists():
        assert leftovers(out.parent) == []
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("case", list(CASES))
def test_cli_reports_one_line(tmp_path: Path, case: str,
                              cli: Callable[..., CliResult]) -> None:
    path, message = _make(case, tmp_path)
    out = tmp_path / "cat"
    result = cli("catalog", "build", "--wvs", path, "--out", out)
    assert result.code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert re.search(message, lines[0]), lines[0]
    assert not out.exists() and leftovers(tmp_path) == []


def test_installed_command_reports_one_line(tmp_path: Path) -> None:
    path, _ = _make("png renamed csv", tmp_path)
    out = tmp_path / "cat"
    proc = subprocess.run([*indievalue_command(), "catalog", "build", "--wvs", str(path),
                           "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1, proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert not out.exists() and leftovers(tmp_path) == []


def test_latin1_text_in_the_version_column_is_tolerated(tmp_path: Path) -> None:
    df = _frame()
    df["version"] = "SYNTHETIC versión"
    path = tmp_path / "latin.csv"
    path.write_bytes(df.to_csv(index=False).encode("latin-1"))
    report = build_catalog(path, tmp_path / "cat")
    assert report.persons == 6 and report.synthetic


# -- hypothesis: whatever the bytes, a catalog or one of our errors ----------------------------


def _build_or_reject(data: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / f"input{suffix}"
        src.write_bytes(data)
        parent = Path(tmp) / "out"
        parent.mkdir()
        out = parent / "cat"
        try:
            report = build_catalog(src, out)
        except IndieValueError:
            assert not out.exists()
        else:
            cat = Catalog.load(out)
            assert cat.polar.dtype == np.int8 and len(cat.person_ids) == report.persons
            assert cat.polar.min() >= -1
            assert (cat.polar.max(axis=0) < cat.spec.option_counts("polar")).all()
        assert leftovers(parent) == []


FUZZ = settings(max_examples=25, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(data=st.binary(max_size=3000), suffix=st.sampled_from([".csv", ".sav", ".dta"]))
def test_random_bytes_never_crash(data: bytes, suffix: str) -> None:
    _build_or_reject(data, suffix)


_VALID = make_wvs_frame(4, seed=21).to_csv(index=False).encode()
_TOKENS = [b",", b";", b"\n", b"\r\n", b'"', b"-", b".", b"x", b"\x00", b"\xff\xfe", b"1e30",
           b"nan", b"3.5", b"-0", b" ", b"D_INTERVIEW", b"\xef\xbb\xbf", b"99999999999999999999"]


_HEADER_END = _VALID.index(b"\n") + 1


@st.composite
def mutated_csv(draw: st.DrawFn) -> bytes:
    data = bytearray(_VALID)
    # Mostly the rows: a damaged header is rejected early, damaged cells go deeper.
    start = 0 if draw(st.integers(0, 3)) == 0 else _HEADER_END
    for _ in range(draw(st.integers(1, 3))):
        pos = draw(st.integers(min(start, len(data)), len(data)))
        cut = draw(st.integers(0, 12))
        insert = draw(st.sampled_from(_TOKENS) | st.binary(max_size=6))
        data[pos:pos + cut] = insert
    if draw(st.integers(0, 4)) == 0:
        data = data[: draw(st.integers(0, len(data)))]
    return bytes(data)


@FUZZ
@given(data=mutated_csv())
def test_mutated_csv_never_crashes(data: bytes) -> None:
    _build_or_reject(data, ".csv")


@st.composite
def mutated_stat_file(draw: st.DrawFn) -> tuple[bytes, str]:
    suffix = draw(st.sampled_from([".sav", ".dta"]))
    data = bytearray(_VALID_STAT[suffix])
    for _ in range(draw(st.integers(1, 4))):
        pos = draw(st.integers(0, len(data) - 1))
        patch = draw(st.binary(min_size=1, max_size=4))
        data[pos:pos + len(patch)] = patch
    return bytes(data), suffix


def _valid_stat_files() -> dict[str, bytes]:
    with tempfile.TemporaryDirectory() as tmp:
        df = make_wvs_frame(4, seed=21)
        return {s: write_wvs(df, Path(tmp) / f"w{s}").read_bytes() for s in (".sav", ".dta")}


_VALID_STAT = _valid_stat_files()


@pytest.mark.filterwarnings("ignore:column .* is duplicated:UserWarning")
@FUZZ
@given(file=mutated_stat_file())
def test_mutated_spss_and_stata_files_never_crash(file: tuple[bytes, str]) -> None:
    _build_or_reject(*file)


@pytest.mark.parametrize("prefix", [b"\t", b"\r", b" ", b"\r\n"])
def test_stray_bytes_before_the_header(tmp_path: Path, prefix: bytes) -> None:
    path = tmp_path / "w.csv"
    path.write_bytes(prefix + _VALID)
    try:
        report = build_catalog(path, tmp_path / "cat")
    except WVSFormatError as exc:
        assert prefix in (b"\r", b"\r\n"), exc  # an empty first line is not a header
        assert "not a CSV header" in str(exc)
    else:
        assert report.persons == 4


@settings(max_examples=15, deadline=None)
@given(cells=st.lists(
    st.tuples(st.integers(0, 3),
              st.sampled_from(["D_INTERVIEW", "Q1", "Q94", "Q260", "B_COUNTRY", "Q290"]),
              st.one_of(st.integers(-(10**12), 10**12),
                        st.floats(allow_nan=True, allow_infinity=True),
                        st.text(max_size=4))),
    min_size=1, max_size=5))
def test_odd_cell_values_never_crash(cells: list[tuple[int, str, object]]) -> None:
    df = make_wvs_frame(4, seed=22).astype(object)
    for row, col, value in cells:
        df.loc[row, col] = value
    _build_or_reject(df.to_csv(index=False).encode(), ".csv")
