"""Exporting a catalog as CSV (statement indices), Parquet and JSONL."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from indievalue.catalog.export import export_catalog
from indievalue.catalog.spec import StatementSpec
from indievalue.catalog.store import Catalog
from indievalue.errors import IndieValueError


@pytest.fixture(scope="module")
def cat(small_catalog: Path) -> Catalog:
    return Catalog.load(small_catalog)


def read_index_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    return rows[0], rows[1:]


@pytest.mark.parametrize("form", ["polar", "refined"])
def test_csv_export(tmp_path: Path, cat: Catalog, spec: StatementSpec, form: str) -> None:
    out = export_catalog(cat, form, "csv", tmp_path / "nested" / f"{form}.csv")
    header, rows = read_index_csv(out)
    assert header == ["D_INTERVIEW", *spec.qids]
    assert out.read_text().split("\n", 1)[0] == ",".join(header)  # plain, unquoted names
    assert len(rows) == 300
    mat = cat.matrix(form)
    for r, row in enumerate(rows):
        assert int(row[0]) == cat.person_ids[r]
        expected = ["" if v < 0 else str(int(v)) for v in mat[r]]
        assert row[1:] == expected, r
    assert any("" in row for row in rows)


def test_csv_cells_index_the_statements(tmp_path: Path, cat: Catalog,
                                        spec: StatementSpec) -> None:
    header, rows = read_index_csv(export_catalog(cat, "refined", "csv", tmp_path / "r.csv"))
    pid = int(rows[0][0])
    from_csv = [(qid, spec.question(qid).refined[int(cell)].text)
                for qid, cell in zip(header[1:], rows[0][1:], strict=True) if cell != ""]
    assert from_csv == cat.statements(pid, "refined")


@pytest.mark.parametrize("form", ["polar", "refined"])
def test_parquet_export(tmp_path: Path, cat: Catalog, spec: StatementSpec, form: str) -> None:
    table = pq.read_table(export_catalog(cat, form, "parquet", tmp_path / "x.parquet"))
    assert table.column_names == ["D_INTERVIEW", *spec.qids]
    assert table.schema.field("D_INTERVIEW").type == pa.int64()
    assert table.schema.field("Q1").type == pa.int8()
    mat = cat.matrix(form)
    for i, qid in enumerate(spec.qids[:40]):
        col = table.column(qid).to_pylist()
        assert col == [None if v < 0 else int(v) for v in mat[:, i]], qid
    assert table.column("D_INTERVIEW").to_pylist() == cat.person_ids.tolist()


def test_jsonl_export(tmp_path: Path, cat: Catalog, spec: StatementSpec) -> None:
    out = export_catalog(cat, "polar", "jsonl", tmp_path / "x.jsonl")
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 300
    for r in (0, 150, 299):
        rec = json.loads(lines[r])
        pid = int(cat.person_ids[r])
        assert rec["D_INTERVIEW"] == pid and rec["form"] == "polar"
        assert list(rec["statements"].items()) == cat.statements(pid, "polar")
        assert rec["answers"] == {
            q: int(v) for q, v in zip(spec.qids, cat.polar[r], strict=True) if v >= 0
        }
        assert list(rec["demographics"].items()) == cat.demographic_statements(pid)


def test_export_replaces_an_existing_file_atomically(tmp_path: Path, cat: Catalog) -> None:
    out = tmp_path / "x.csv"
    out.write_text("old")
    export_catalog(cat, "polar", "csv", out)
    assert out.read_text().startswith("D_INTERVIEW,Q1,Q2,")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.csv"]


def test_unknown_format(tmp_path: Path, cat: Catalog) -> None:
    with pytest.raises(IndieValueError, match="unknown export format"):
        export_catalog(cat, "polar", "xlsx", tmp_path / "x.xlsx")  # type: ignore[arg-type]
    assert not (tmp_path / "x.xlsx").exists()


def test_exports_agree_with_each_other(tmp_path: Path, cat: Catalog) -> None:
    _, rows = read_index_csv(export_catalog(cat, "refined", "csv", tmp_path / "a.csv"))
    table = pq.read_table(export_catalog(cat, "refined", "parquet", tmp_path / "a.parquet"))
    as_csv = np.array([[-1 if c == "" else int(c) for c in row[1:]] for row in rows])
    as_pq = np.column_stack([
        np.asarray(table.column(q).fill_null(-1)) for q in table.column_names[1:]
    ])
    assert np.array_equal(as_csv, as_pq)
