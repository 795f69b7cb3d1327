"""Reading a WVS-7 respondent file (official CSV, SPSS .sav or Stata .dta).

Only the columns the spec needs are read; codes become integers; duplicate ``D_INTERVIEW``
rows are dropped (first kept). Any problem is a :class:`WVSFormatError` with a one-line message.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from indievalue.catalog.spec import StatementSpec
from indievalue.errors import WVSFormatError

ID_COLUMN = "D_INTERVIEW"
VERSION_COLUMN = "version"
# Files written by `indievalue synth` carry this prefix in the `version` column (the real files
# carry e.g. "5-0-0 (2022-12-14)" there), so every format marks itself the same way.
SYNTHETIC_MARK = "SYNTHETIC"
# Raw code stored for an empty cell (a blank in CSV, a system-missing value in SPSS/Stata).
BLANK_CODE = -99
# No WVS code comes near these; larger numbers mean a broken file (and would not fit the
# catalog's int32 code columns, or an exact float for ids).
MAX_CODE = 2**31 - 1
MAX_ID = 2**53

SUFFIXES = {".csv": "csv", ".sav": "sav", ".zsav": "sav", ".dta": "dta"}
# (path, the file's column names, the needed names) -> needed name -> the file's spelling;
# catalog/survey.py passes its own, with messages about a survey spec instead of WVS-7.
Matcher = Callable[[Path, list[str], list[str]], dict[str, str]]


@dataclass(frozen=True)
class WVSTable:
    """The needed columns of a survey file, one row per unique respondent."""

    person_ids: np.ndarray  # int64
    columns: dict[str, np.ndarray]  # name -> int64 codes (BLANK_CODE for empty cells)
    n_rows_read: int
    n_duplicates: int
    synthetic: bool
    version_label: str


def required_columns(spec: StatementSpec) -> list[str]:
    return [ID_COLUMN, *spec.qids, *spec.demographic_columns]


def read_wvs(path: str | Path, spec: StatementSpec) -> WVSTable:
    """Read ``path`` and return its needed columns; raise :class:`WVSFormatError` if unusable."""
    p = Path(path)
    if not p.exists():
        raise WVSFormatError(f"{p}: no such file")
    if not p.is_file():
        raise WVSFormatError(f"{p}: not a file")
    if p.stat().st_size == 0:
        raise WVSFormatError(f"{p}: the file is empty")
    kind = SUFFIXES.get(p.suffix.lower())
    if kind is None:
        raise WVSFormatError(
            f"{p}: unknown file type {p.suffix!r}; expected a WVS-7 .csv, .sav or .dta file"
        )
    needed = required_columns(spec)
    if kind == "csv":
        raw, version = _read_csv(p, needed)
    else:
        raw, version = _read_stat(p, needed, kind)
    return _finish(p, raw, version)


# -- CSV ---------------------------------------------------------------------------------


def _sniff_header(path: Path) -> tuple[list[str], str, str]:
    """Return (column names, delimiter, encoding) from the first line."""
    with path.open("rb") as fh:
        head = fh.read(1 << 16)
    for bom, name in ((codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"),
                      (codecs.BOM_UTF16_LE, "UTF-16"), (codecs.BOM_UTF16_BE, "UTF-16")):
        if head.startswith(bom):
            raise WVSFormatError(f"{path}: the file is {name}-encoded; save it as UTF-8 and retry")
    if b"\x00" in head:
        raise WVSFormatError(f"{path}: binary data where a CSV header was expected")
    encoding = "utf-8-sig" if head.startswith(codecs.BOM_UTF8) else "utf-8"
    line = re.split(rb"\r\n?|\n", head, maxsplit=1)[0]  # pyarrow also ends lines at a lone \r
    try:
        text = line.decode(encoding)
    except UnicodeDecodeError:
        try:
            text = line.decode("latin-1")
            encoding = "latin-1"
        except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes any byte
            raise WVSFormatError(f"{path}: unreadable header encoding") from None
    counts = {d: text.count(d) for d in (",", ";", "\t")}
    delimiter = max(counts, key=lambda k: counts[k])
    if counts[delimiter] == 0:
        raise WVSFormatError(f"{path}: the first line is not a CSV header")
    try:
        names = next(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as exc:
        raise WVSFormatError(f"{path}: unreadable CSV header ({exc})") from None
    # Exact spellings (pyarrow selects columns by them); matching ignores padding and case.
    return names, delimiter, encoding


def find_columns(present: list[str], needed: list[str]) -> tuple[dict[str, str], list[str],
                                                                  str | None]:
    """Each needed name's spelling in the file (names match case-insensitively): the mapping
    of the names found, the names missing, and a needed name the file holds twice (or None)."""
    by_upper: dict[str, str] = {}
    wanted = {n.upper() for n in needed}
    for name in present:
        key = name.strip().upper()
        if key in by_upper and key in wanted:
            return {}, [], name.strip()
        by_upper.setdefault(key, name)
    missing = [n for n in needed if n.upper() not in by_upper]
    return {n: by_upper[n.upper()] for n in needed if n.upper() in by_upper}, missing, None


def shown_missing(missing: list[str]) -> str:
    """The first few missing column names for an error line."""
    more = f" and {len(missing) - 8} more" if len(missing) > 8 else ""
    return ", ".join(missing[:8]) + more


def _match_columns(path: Path, present: list[str], needed: list[str]) -> dict[str, str]:
    """Map each needed name to the file's spelling (names match case-insensitively)."""
    mapping, missing, twice = find_columns(present, needed)
    if twice is not None:
        raise WVSFormatError(f"{path}: column {twice} appears twice")
    if missing:
        if len(missing) == len(needed):
            raise WVSFormatError(f"{path}: not a WVS-7 file (none of the expected columns, "
                                 f"e.g. {ID_COLUMN}, Q1, B_COUNTRY)")
        raise WVSFormatError(f"{path}: not a WVS-7 file: missing column(s) "
                             f"{shown_missing(missing)}")
    return mapping


def _read_csv(path: Path, needed: list[str],
              match: Matcher | None = None) -> tuple[dict[str, Any], str]:
    present, delimiter, encoding = _sniff_header(path)
    mapping = (match or _match_columns)(path, present, needed)
    version_col = next((n for n in present if n.strip().lower() == VERSION_COLUMN), None)
    include = list(mapping.values()) + ([version_col] if version_col else [])

    def read(number: pa.DataType) -> pa.Table:
        types: dict[str, pa.DataType] = {c: number for c in mapping.values()}
        if version_col:
            # Bytes, decoded leniently below: the label only carries the synthetic marker, and
            # a non-UTF-8 character in it must not make the whole file unreadable.
            types[version_col] = pa.binary()
        return pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(encoding=encoding, block_size=1 << 24),
            parse_options=pacsv.ParseOptions(delimiter=delimiter),
            convert_options=pacsv.ConvertOptions(
                include_columns=include,
                column_types=types,
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
                null_values=["", " ", "NA", "NaN", "nan", "."],
            ),
        )

    try:
        try:
            # Integers parse a third faster than floats. Any other cell (1.5, 1e3, +2, a word)
            # fails this and the file is read again as floats, which _finish checks and names.
            table = read(pa.int64())
        except pa.ArrowInvalid:
            table = read(pa.float64())
    except (pa.ArrowException, UnicodeDecodeError) as exc:
        raise WVSFormatError(f"{path}: {_explain_arrow(str(exc), present)}") from None
    # Arrow columns, not numpy copies: _finish converts and releases them one at a time.
    raw: dict[str, Any] = {need: table.column(actual) for need, actual in mapping.items()}
    version = ""
    if version_col:
        vals = table.column(version_col).drop_null()
        version = vals[0].as_py().decode("utf-8", "replace") if len(vals) else ""
    return raw, version


def _explain_arrow(message: str, present: list[str]) -> str:
    first = message.strip().splitlines()[0]
    if "Empty CSV file" in first:
        return "the file has a header but no respondents"
    if "CSV column #" in first:
        try:
            idx = int(first.split("CSV column #", 1)[1].split(":", 1)[0])
            value = first.split("invalid value", 1)[1].strip() if "invalid value" in first else ""
            col = present[idx] if idx < len(present) else f"#{idx}"
            return f"column {col} holds a non-numeric value {value}".rstrip()
        except (ValueError, IndexError):
            pass
    if "Expected" in first and "columns" in first:
        return f"malformed CSV ({first})"
    if "UTF8" in first or "utf-8" in first.lower() or "decode" in first.lower():
        return "unreadable encoding (expected UTF-8 text)"
    return f"cannot parse the CSV ({first})"


# -- SPSS / Stata ------------------------------------------------------------------------


def _read_stat(path: Path, needed: list[str], kind: str,
               match: Matcher | None = None) -> tuple[dict[str, np.ndarray], str]:
    import pyreadstat  # local: only needed for these formats

    reader = pyreadstat.read_sav if kind == "sav" else pyreadstat.read_dta
    try:
        _, meta = reader(str(path), metadataonly=True)
    except Exception as exc:  # pyreadstat raises its own error types for broken files
        raise WVSFormatError(f"{path}: cannot read as {kind.upper()} ({_short(exc)})") from None
    present = [n if isinstance(n, str) else "" for n in meta.column_names]  # corrupt files: None
    mapping = (match or _match_columns)(path, present, needed)
    version_col = next((n for n in present if n.strip().lower() == VERSION_COLUMN), None)
    use = list(mapping.values()) + ([version_col] if version_col else [])
    try:
        kwargs = {"user_missing": True} if kind == "sav" else {}
        df, _ = reader(str(path), usecols=use, apply_value_formats=False,  # type: ignore[call-overload]
                       output_format="dict", **kwargs)
    except Exception as exc:
        raise WVSFormatError(f"{path}: cannot read as {kind.upper()} ({_short(exc)})") from None
    raw = {}
    for need, actual in mapping.items():
        col = np.asarray(df[actual])
        if col.dtype.kind not in "fiub":
            try:
                col = np.array([np.nan if v is None or v == "" else float(v) for v in col])
            except (TypeError, ValueError):
                bad = next(v for v in col if not _is_number(v))
                raise WVSFormatError(
                    f"{path}: column {actual} holds a non-numeric value {bad!r}"
                ) from None
        raw[need] = col.astype(np.float64)
    version = ""
    if version_col:
        vals = [v for v in df[version_col] if isinstance(v, str) and v]
        version = vals[0] if vals else ""
    return raw, version


def _is_number(v: object) -> bool:
    try:
        float(v)  # type: ignore[arg-type]
        return True
    except (TypeError, ValueError):
        return False


def _short(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]


# -- common ------------------------------------------------------------------------------


def _finish(path: Path, raw: dict[str, Any], version: str,
            id_column: str = ID_COLUMN) -> WVSTable:
    n_rows = len(raw[id_column])
    if n_rows == 0:
        raise WVSFormatError(f"{path}: the file has a header but no respondents")
    if not np.all(np.isfinite(np.asarray(raw[id_column], dtype=np.float64))):
        raise WVSFormatError(f"{path}: column {id_column} has empty cells")
    cols: dict[str, np.ndarray] = {}
    # Column by column, releasing each float column once converted: keeps the peak memory
    # near one copy of the data.
    for name in list(raw):
        column = raw.pop(name)
        limit = MAX_ID if name == id_column else MAX_CODE
        if (isinstance(column, pa.ChunkedArray) and pa.types.is_integer(column.type)
                and name != id_column):  # ids keep the float path: ids past 2**53 round there
            # Read as integers (the CSV reader's first try): only the range is left to check.
            ints = np.asarray(pc.fill_null(column, BLANK_CODE), dtype=np.int64)
            out = (ints > limit) | (ints < -limit)
            if out.any():
                raise WVSFormatError(
                    f"{path}: column {name} holds an out-of-range code {ints[out][0]:g}")
            cols[name] = ints
            continue
        v = np.asarray(column, dtype=np.float64)
        finite = np.isfinite(v)
        bad = finite & (v != np.round(v))
        if bad.any():
            raise WVSFormatError(
                f"{path}: column {name} holds a non-integer code {v[bad][0]:g}"
            )
        too_big = finite & (np.abs(v) > limit)
        if too_big.any():
            raise WVSFormatError(
                f"{path}: column {name} holds an out-of-range code {v[too_big][0]:g}"
            )
        cols[name] = np.where(finite, v, BLANK_CODE).astype(np.int64)
    ids = cols.pop(id_column)
    _, first = np.unique(ids, return_index=True)
    keep = np.sort(first)
    n_dup = n_rows - len(keep)
    if n_dup:
        ids = ids[keep]
        cols = {k: v[keep] for k, v in cols.items()}
    return WVSTable(
        person_ids=ids,
        columns=cols,
        n_rows_read=n_rows,
        n_duplicates=n_dup,
        synthetic=version.strip().upper().startswith(SYNTHETIC_MARK),
        version_label=version.strip(),
    )
