"""Damage to a survey table, shared by the WVS and the survey-spec fuzz cases: a table
(header and rows) with columns dropped, given twice, renamed or shuffled, cells or whole
columns of the wrong type, rows repeated or gone; written as CSV with a drawn delimiter,
quoting, line end and encoding (and maybe cut short), or as SPSS, Stata or Parquet."""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import reject
from hypothesis import strategies as st

ODD_CELLS: st.SearchStrategy[Any] = st.one_of(
    st.sampled_from(["", " ", "NA", "nan", ".", "-", "agree", "1,5", "0x10", "1e3", "١", "∞",
                     "TRUE", "2021-01-01", "-0", "+3", " 2 ", "1_000", "9" * 5000, "x" * 5000]),
    st.integers(-(10**20), 10**20),
    st.sampled_from([2**31, 2**31 - 1, -(2**31), 2**53, 2**53 + 1, 2**63, 10**400]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(max_size=6),
)


@st.composite
def damaged_table(draw: st.DrawFn, frame: pd.DataFrame, columns: st.SearchStrategy[str],
                  ) -> tuple[list[str], list[list[Any]]]:
    """Header and rows of ``frame`` after up to four kinds of damage; ``columns`` draws the
    names whose damage matters (the ones the reader needs)."""
    header = [str(c) for c in frame.columns]
    rows = frame.astype(object).values.tolist()
    for _ in range(draw(st.integers(0, 4))):  # none: only the file's form varies
        how = draw(st.sampled_from(["drop", "twice", "cells", "column", "dup_rows", "no_rows",
                                    "rename", "shuffle"]))
        if how == "drop":
            col = draw(columns)
            if col in header:
                i = header.index(col)
                header.pop(i)
                for r in rows:
                    r.pop(i)
        elif how == "twice":
            col = draw(columns)
            if col in header:
                i = header.index(col)
                spelled = draw(st.sampled_from([col, col.lower(), f" {col}", f"{col} "]))
                header.append(spelled)
                for r in rows:
                    r.append(draw(st.sampled_from([r[i], 1, "x"])))
        elif how == "cells" and rows:
            for _ in range(draw(st.integers(1, 6))):
                r = draw(st.integers(0, len(rows) - 1))
                c = draw(st.integers(0, len(header) - 1))
                col = draw(columns)
                if draw(st.booleans()) and col in header:
                    c = header.index(col)
                rows[r][c] = draw(ODD_CELLS)
        elif how == "column" and rows:
            col = draw(columns)
            if col in header:
                c = header.index(col)
                value = draw(ODD_CELLS)
                for r in rows:
                    r[c] = value
        elif how == "dup_rows" and rows:
            picks = draw(st.lists(st.integers(0, len(rows) - 1), min_size=1, max_size=4))
            rows += [list(rows[i]) for i in picks]
        elif how == "no_rows":
            rows = []
        elif how == "rename":
            i = draw(st.integers(0, len(header) - 1))
            header[i] = draw(st.sampled_from(["", " ", "Q1", "d_interview", "Unnamed: 0"])
                             | st.text(max_size=5))
        else:
            order = draw(st.permutations(range(len(header))))
            header = [header[i] for i in order]
            rows = [[r[i] for i in order] for r in rows]
    return header, rows


def _cell(value: Any) -> str:
    if isinstance(value, float) and math.isfinite(value) and value == int(value):
        return str(int(value))
    return str(value)


@st.composite
def csv_bytes(draw: st.DrawFn, header: list[str], rows: list[list[Any]]) -> bytes:
    """The table as CSV text with a drawn delimiter, quoting, line end and encoding."""
    delim = draw(st.sampled_from([",", ",", ";", "\t", "|"]))
    newline = draw(st.sampled_from(["\n", "\n", "\r\n", "\r"]))
    quote_all = draw(st.booleans())

    def field(v: Any) -> str:
        text = _cell(v)
        if quote_all or any(ch in text for ch in (delim, '"', "\n", "\r")):
            return '"' + text.replace('"', '""') + '"'
        return text

    lines = [delim.join(field(h) for h in header)]
    lines += [delim.join(field(v) for v in r) for r in rows]
    text = newline.join(lines) + draw(st.sampled_from([newline, ""]))
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "latin-1", "cp1252",
                                     "utf-16", "utf-16-le", "utf-32"]))
    data = text.encode(encoding, errors="replace")
    if draw(st.integers(0, 4)) == 0:  # cut short anywhere
        data = data[: draw(st.integers(0, len(data)))]
    return data


def stat_bytes(header: list[str], rows: list[list[Any]], suffix: str, where: Path) -> bytes:
    import pyreadstat

    if len(set(header)) != len(header) or any(not h.isidentifier() for h in header):
        reject()  # SPSS and Stata files cannot carry such names
    columns = {}
    for i, name in enumerate(header):
        values = [r[i] for r in rows]
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
        if numeric and all(abs(v) <= 1e300 for v in values if v == v and abs(v) != math.inf):
            columns[name] = np.array(values, dtype=np.float64)  # SPSS and Stata numbers
        else:
            columns[name] = np.array([_cell(v) for v in values], dtype=object)
    frame = pd.DataFrame(columns, index=range(len(rows)))
    path = where / f"write{suffix}"
    try:
        (pyreadstat.write_sav if suffix == ".sav" else pyreadstat.write_dta)(frame, str(path))
    except Exception:
        reject()  # a table the writer refuses is not a file a user could have
    return path.read_bytes()


def parquet_bytes(header: list[str], rows: list[list[Any]]) -> bytes:
    """The table as Parquet: numeric columns as float64, the others as text."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrays, names = [], []
    for i, name in enumerate(header):
        values = [r[i] for r in rows]
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
        if numeric and all(abs(v) <= 1e300 for v in values if v == v and abs(v) != math.inf):
            arrays.append(pa.array(np.array(values, dtype=np.float64)))
        else:
            arrays.append(pa.array([_cell(v) for v in values], type=pa.string()))
        names.append(name)
    buf = io.BytesIO()
    try:
        pq.write_table(pa.Table.from_arrays(arrays, names=names), buf)
    except (pa.ArrowException, ValueError):
        reject()
    return buf.getvalue()
