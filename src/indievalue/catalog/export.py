"""Exporting a catalog's statements as CSV, JSONL or Parquet (written atomically)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from indievalue.catalog.spec import Form
from indievalue.catalog.store import Catalog
from indievalue.errors import IndieValueError
from indievalue.fsutil import atomic_open, atomic_write_bytes

ExportFormat = Literal["csv", "jsonl", "parquet"]


def _index_table(cat: Catalog, form: Form) -> pa.Table:
    """``D_INTERVIEW`` then one column per question: 0-based statement index, null if missing."""
    mat = cat.matrix(form)
    cols: dict[str, pa.Array] = {"D_INTERVIEW": pa.array(cat.person_ids, type=pa.int64())}
    for i, qid in enumerate(cat.spec.qids):
        col = mat[:, i]
        cols[qid] = pa.array(col, type=pa.int8(), mask=col < 0)
    return pa.table(cols)


def export_catalog(cat: Catalog, form: Form, fmt: ExportFormat, out: str | Path) -> Path:
    out = Path(out)
    try:
        return _export(cat, form, fmt, out)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if exc.filename:
            reason += f": {exc.filename}"
        raise IndieValueError(f"{out}: cannot write the export ({reason})") from None


def _export(cat: Catalog, form: Form, fmt: ExportFormat, out: Path) -> Path:
    if fmt == "csv":
        table = _index_table(cat, form)
        # Header written here: pyarrow quotes every column name, and users read this header
        # with `head`/`cut` as much as with CSV parsers.
        head = io.StringIO()
        csv.writer(head, lineterminator="\n").writerow(table.column_names)
        buf = io.BytesIO(head.getvalue().encode("utf-8"))
        buf.seek(0, io.SEEK_END)
        pacsv.write_csv(table, buf, write_options=pacsv.WriteOptions(
            include_header=False, quoting_style="needed"))
        atomic_write_bytes(out, buf.getvalue())
    elif fmt == "parquet":
        buf = io.BytesIO()
        pq.write_table(_index_table(cat, form), buf)
        atomic_write_bytes(out, buf.getvalue())
    elif fmt == "jsonl":
        with atomic_open(out) as fh:
            for chunk in _jsonl_chunks(cat, form):
                fh.write(chunk.encode("utf-8"))
    else:
        raise IndieValueError(f"unknown export format {fmt!r} (csv, jsonl or parquet)")
    return out


def _jsonl_chunks(cat: Catalog, form: Form, chunk: int = 2000) -> Iterator[str]:
    """One JSON line per person, yielded in chunks so memory stays flat."""
    spec = cat.spec
    mat = cat.matrix(form)
    texts = [[o.text for o in q.options(form)] for q in spec.questions]
    qids = spec.qids  # a property that builds a new list: not inside the per-person loop
    demo = cat.demographics
    demo_cols = [(e.did, demo[e.did].to_numpy(dtype=object)) for e in spec.demographics]
    lines = []
    for r, pid in enumerate(cat.person_ids):
        row = mat[r]
        valid = np.flatnonzero(row >= 0)
        rec = {
            "D_INTERVIEW": int(pid),
            "form": form,
            "answers": {qids[i]: int(row[i]) for i in valid},
            "statements": {qids[i]: texts[i][row[i]] for i in valid},
            "demographics": {did: col[r] for did, col in demo_cols if isinstance(col[r], str)},
        }
        lines.append(json.dumps(rec, ensure_ascii=False) + "\n")
        if len(lines) >= chunk:
            yield "".join(lines)
            lines = []
    yield "".join(lines)
