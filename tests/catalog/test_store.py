"""The Catalog API: loading, matrices, per-person statements, rendering, summary."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from indievalue.catalog.spec import StatementSpec
from indievalue.catalog.store import Catalog, render_demonstration
from indievalue.errors import IndieValueError


@pytest.fixture(scope="module")
def cat(small_catalog: Path) -> Catalog:
    return Catalog.load(small_catalog)


def expected_statements(row: pd.Series, spec: StatementSpec, form: str) -> list[tuple[str, str]]:
    out = []
    for q in spec.questions:
        for o in q.options(form):
            if int(row[q.qid]) in o.codes:
                out.append((q.qid, o.text))
    return out


def test_load_reads_only_the_manifest(tmp_path: Path, small_catalog: Path) -> None:
    copy = tmp_path / "cat"
    shutil.copytree(small_catalog, copy)
    (copy / "polar.parquet").unlink()
    (copy / "refined.parquet").write_bytes(b"not parquet")
    c = Catalog.load(copy)
    assert c.manifest["persons"] == 300
    assert c.persons.shape[0] == 300
    with pytest.raises(IndieValueError, match=r"polar\.parquet: missing or unreadable"):
        _ = c.polar
    with pytest.raises(IndieValueError, match=r"refined\.parquet: missing or unreadable"):
        _ = c.refined


def test_not_a_catalog(tmp_path: Path) -> None:
    with pytest.raises(IndieValueError, match="not a catalog directory"):
        Catalog.load(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(IndieValueError, match="not an indievalue catalog"):
        Catalog.load(tmp_path)
    (tmp_path / "manifest.json").write_text("{broken")
    with pytest.raises(IndieValueError, match="unreadable JSON"):
        Catalog.load(tmp_path)


def test_matrices(cat: Catalog, small_frame: pd.DataFrame) -> None:
    assert cat.polar.dtype == np.int8 and cat.refined.dtype == np.int8
    assert cat.polar.shape == cat.refined.shape == (300, 253)
    assert cat.matrix("polar") is cat.polar and cat.matrix("refined") is cat.refined
    assert cat.raw.dtype == np.int16
    assert cat.person_ids.tolist() == small_frame["D_INTERVIEW"].tolist()
    assert ((cat.polar < 0) == (cat.refined < 0)).all()
    assert cat.polar.min() == -1


def test_to_pandas(cat: Catalog, spec: StatementSpec) -> None:
    df = cat.to_pandas("refined")
    assert list(df.columns) == spec.qids
    assert df.index.name == "person_id" and df.index.tolist() == cat.person_ids.tolist()
    assert np.array_equal(df.to_numpy(), cat.refined)


@pytest.mark.parametrize("form", ["polar", "refined"])
def test_statements_of_a_person(cat: Catalog, small_frame: pd.DataFrame, spec: StatementSpec,
                                form: str) -> None:
    for r in (0, 17, 299):
        pid = int(small_frame["D_INTERVIEW"][r])
        got = cat.statements(pid, form)
        assert got == expected_statements(small_frame.iloc[r], spec, form)
        assert len(got) == int((cat.matrix(form)[r] >= 0).sum())


def test_polar_and_refined_statements_differ(cat: Catalog) -> None:
    pid = int(cat.person_ids[0])
    assert cat.statements(pid, "polar") != cat.statements(pid, "refined")
    assert [q for q, _ in cat.statements(pid, "polar")] == [
        q for q, _ in cat.statements(pid, "refined")
    ]


def test_demographic_statements(cat: Catalog, small_frame: pd.DataFrame,
                                spec: StatementSpec) -> None:
    for r in range(20):
        row = small_frame.iloc[r]
        expected = [(d.did, d.statement(int(row[d.column]))) for d in spec.demographics]
        expected = [(did, s) for did, s in expected if s is not None]
        assert cat.demographic_statements(int(row["D_INTERVIEW"])) == expected


def test_unknown_person(cat: Catalog) -> None:
    with pytest.raises(IndieValueError, match="person 1 is not in the catalog"):
        cat.statements(1)
    with pytest.raises(IndieValueError):
        cat.demographic_statements(1)
    assert cat.rows(cat.person_ids[[5, 2]]).tolist() == [5, 2]


@pytest.mark.parametrize(
    ("statement", "shown"),
    [("family is important in my life", "# Family is important in my life"),
     ("I live in New Zealand", "# I live in New Zealand"),
     ("in my view, it's fine", "# In my view, it's fine"),
     ("x", "# X")],
)
def test_render_demonstration(statement: str, shown: str) -> None:
    assert render_demonstration(statement) == shown


def test_some_builtin_statements_start_lower_case(spec: StatementSpec) -> None:
    lower = [q.qid for q in spec.questions if q.polar[0].text[:1].islower()]
    assert lower  # rendering must capitalise them
    text = spec.question(lower[0]).polar[0].text
    assert render_demonstration(text)[2].isupper() and render_demonstration(text)[3:] == text[1:]


def test_info(cat: Catalog, spec: StatementSpec, small_catalog: Path) -> None:
    info = cat.info()
    assert info["persons"] == 300
    assert (info["value_questions"], info["polar_statements"], info["refined_statements"],
            info["demographic_entries"]) == (253, 567, 929, 31)
    assert info["categories"] == {c.name: len(spec.questions_in(c.key)) for c in spec.categories}
    assert sum(info["categories"].values()) == 253
    assert info["synthetic"] is True
    assert info["spec_hash"] == spec.content_hash
    assert json.loads(json.dumps(info)) == info


def test_identity(cat: Catalog, spec: StatementSpec) -> None:
    assert cat.synthetic is True
    assert cat.spec.to_dict() == spec.to_dict()
    assert cat.spec.content_hash == spec.content_hash
    h = cat.content_hash
    assert h == f"{cat.manifest['source_sha256'][:16]}-{spec.content_hash[7:23]}"


def test_person_records(cat: Catalog) -> None:
    first = next(iter(cat.iter_person_records("polar")))
    pid = int(cat.person_ids[0])
    assert first["person_id"] == pid
    assert first["statements"] == [s for _, s in cat.statements(pid)]
    assert first["demographics"] == [s for _, s in cat.demographic_statements(pid)]
