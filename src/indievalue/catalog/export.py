"""Exporting a catalog's statements as CSV, JSONL or Parquet (written atomically)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from indievalue.catalog.spec import Form
from indievalue.catalog.store import Catalog
from indievalue.errors import IndieValueError
from indievalue.fsutil import atomic_write_bytes

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
    if fmt == "csv":
        buf = io.BytesIO()
        pacsv.write_csv(_index_table(cat, form), buf,
                        write_options=pacsv.WriteOptions(quoting_style="needed"))
        atomic_write_bytes(out, buf.getvalue())
    elif fmt == "parquet":
        buf = io.BytesIO()
        pq.write_table(_index_table(cat, form), buf)
        atomic_write_bytes(out, buf.getvalue())
    elif fmt == "jsonl":
        atomic_write_bytes(out, _jsonl(cat, form).encode("utf-8"))
    else:
        raise IndieValueError(f"unknown export format {fmt!r} (csv, jsonl or parquet)")
    return out


def _jsonl(cat: Catalog, form: Form) -> str:
    spec = cat.spec
    mat = cat.matrix(form)
    texts = [[o.text for o in q.options(form)] for q in spec.questions]
    demo = cat.demographics
    lines = []
    for r, pid in enumerate(cat.person_ids):
        row = mat[r]
        valid = np.flatnonzero(row >= 0)
        rec = {
            "D_INTERVIEW": int(pid),
            "form": form,
            "answers": {spec.qids[i]: int(row[i]) for i in valid},
            "statements": {spec.qids[i]: texts[i][row[i]] for i in valid},
            "demographics": {
                e.did: demo.iat[r, demo.columns.get_loc(e.did)]
                for e in spec.demographics
                if isinstance(demo.iat[r, demo.columns.get_loc(e.did)], str)
            },
        }
        lines.append(json.dumps(rec, ensure_ascii=False))
    return "\n".join(lines) + "\n"
