"""Building a catalog directory: recoding, missing codes, demographics, manifest, atomicity,
and the same catalog from every input format."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import indievalue.catalog.build as build_mod
from indievalue.catalog.build import build_catalog
from indievalue.catalog.export import export_catalog
from indievalue.catalog.spec import StatementSpec
from indievalue.catalog.spec_io import load_reference_spec
from indievalue.catalog.store import Catalog
from indievalue.errors import IndieValueError
from wvs_testdata import leftovers, make_wvs_frame, write_reference_jsonl, write_wvs

CATALOG_FILES = ["demographics.parquet", "manifest.json", "persons.parquet", "polar.parquet",
                 "raw.parquet", "refined.parquet", "spec.json"]


def expected_indices(df: pd.DataFrame, spec: StatementSpec, form: str) -> np.ndarray:
    """The labels, computed the slow obvious way: code -> option index, anything else -1."""
    out = np.full((len(df), len(spec.questions)), -1, dtype=np.int64)
    for qi, q in enumerate(spec.questions):
        lookup = {c: oi for oi, o in enumerate(q.options(form)) for c in o.codes}
        out[:, qi] = [lookup.get(int(c), -1) for c in df[q.qid]]
    return out


# -- the shared small catalog -----------------------------------------------------------------


def test_layout_and_dtypes(small_catalog: Path, spec: StatementSpec) -> None:
    assert sorted(p.name for p in small_catalog.iterdir()) == CATALOG_FILES
    for form in ("polar", "refined"):
        schema = pq.read_schema(small_catalog / f"{form}.parquet")
        assert schema.names == spec.qids
        assert all(t == pa.int8() for t in schema.types), form
    assert all(t == pa.int16() for t in pq.read_schema(small_catalog / "raw.parquet").types)


@pytest.mark.parametrize("form", ["polar", "refined"])
def test_matrices_match_the_obvious_recoding(small_catalog: Path, small_frame: pd.DataFrame,
                                             spec: StatementSpec, form: str) -> None:
    mat = Catalog.load(small_catalog).matrix(form)
    assert mat.dtype == np.int8 and mat.shape == (300, 253)
    assert np.array_equal(mat, expected_indices(small_frame, spec, form))
    assert (mat == -1).any() and (mat >= 0).mean() > 0.9


def test_raw_codes_are_kept(small_catalog: Path, small_frame: pd.DataFrame,
                            spec: StatementSpec) -> None:
    raw = Catalog.load(small_catalog).raw
    assert raw.dtype == np.int16
    assert np.array_equal(raw, small_frame[spec.qids].to_numpy())
    assert raw.min() < 0  # the negative missing codes survive as raw codes


def test_persons_table(small_catalog: Path, small_frame: pd.DataFrame,
                       spec: StatementSpec) -> None:
    persons = pq.read_table(small_catalog / "persons.parquet").to_pandas()
    assert list(persons.columns) == ["person_id", "country_code", "country", "continent",
                                     "n_valid", "n_valid_demographics"]
    assert persons["person_id"].tolist() == small_frame["D_INTERVIEW"].tolist()
    assert persons["country_code"].tolist() == small_frame["B_COUNTRY"].tolist()
    nz = persons["country_code"] == 554
    assert nz.any()
    assert set(persons.loc[nz, "continent"]) == {"Oceania"}
    assert all("New Zealand" in c for c in persons.loc[nz, "country"])
    assert persons["n_valid"].tolist() == (
        expected_indices(small_frame, spec, "polar") >= 0).sum(axis=1).tolist()
    demo = Catalog.load(small_catalog).demographics
    assert persons["n_valid_demographics"].tolist() == (
        demo[[d.did for d in spec.demographics]].notna().sum(axis=1).tolist())


def test_demographic_statements_table(small_catalog: Path, small_frame: pd.DataFrame,
                                      spec: StatementSpec) -> None:
    demo = pq.read_table(small_catalog / "demographics.parquet").to_pandas()
    assert list(demo.columns[:31]) == [d.did for d in spec.demographics]
    assert [c for c in demo.columns[31:]] == [f"{c}_code" for c in spec.demographic_columns]
    for entry in spec.demographics:
        table = entry.statement_table()
        expected = [table.get(int(c)) for c in small_frame[entry.column]]
        got = [v if isinstance(v, str) else None for v in demo[entry.did]]
        assert got == expected, entry.did
        assert any(v is None for v in got) or entry.column == "B_COUNTRY"


def test_manifest(small_catalog: Path, small_csv: Path, spec: StatementSpec) -> None:
    m = json.loads((small_catalog / "manifest.json").read_text())
    assert m["format"] == "indievalue-catalog" and m["format_version"] == 1
    assert m["spec_version"] == spec.version
    assert m["spec_hash"] == spec.content_hash
    assert m["source_file"] == small_csv.name
    assert m["source_sha256"] == hashlib.sha256(small_csv.read_bytes()).hexdigest()
    assert m["synthetic"] is True
    assert (m["persons"], m["rows_read"], m["duplicates_dropped"]) == (300, 300, 0)
    assert (m["value_questions"], m["polar_statements"], m["refined_statements"],
            m["demographic_entries"]) == (253, 567, 929, 31)
    created = datetime.fromisoformat(m["created"])
    assert created.tzinfo is not None
    assert abs((datetime.now(timezone.utc) - created).total_seconds()) < 3600
    polar = Catalog.load(small_catalog).polar
    assert m["valid_answers"] == int((polar >= 0).sum())
    assert m["persons_all_valid"] == int((polar >= 0).all(axis=1).sum())
    assert m["valid_per_person_mean"] == pytest.approx((polar >= 0).sum(axis=1).mean(), abs=1e-3)


def test_spec_json_is_the_spec_used(small_catalog: Path, spec: StatementSpec) -> None:
    assert json.loads((small_catalog / "spec.json").read_text()) == spec.to_dict()


# -- codes that are not valid answers ---------------------------------------------------------


def test_invalid_codes_become_missing_and_zero_is_valid_where_it_should_be(
    tmp_path: Path, spec: StatementSpec
) -> None:
    df = make_wvs_frame(12, seed=5, missing_rate=0.0)
    cases = {  # qid: [codes] -> expected polar option (or -1)
        "Q1": ([0, -1, -2, -3, -4, -5, 5, 17, 99, 1000, 1, 4], [-1] * 10 + [0, 1]),
        "Q94": ([0, 1, 2, 3, -1] + [0] * 7, [0, 0, 1, -1, -1] + [0] * 7),
        "Q119": ([0, 1, 2, 3, 4, 5] + [0] * 6, [0, 1, 1, 2, 2, -1] + [0] * 6),
        "Q122": ([0, 1, 2, 3] + [2] * 8, [0, 1, 2, -1] + [2] * 8),
        "Q129": ([0] * 12, [0] * 12),
        "Q48": ([0, 1, 5, 6, 10, 11] + [1] * 6, [-1, 0, 0, 1, 1, -1] + [0] * 6),
        "Q7": ([0, 1, 2, 3] + [1] * 8, [-1, 0, 1, -1] + [0] * 8),
    }
    for qid, (codes, _) in cases.items():
        df[qid] = codes
    df["Q260"] = [0, 1, 2, 3, -2] + [1] * 7
    df["B_COUNTRY"] = [554, 999, -4] + [554] * 9
    build_catalog(write_wvs(df, tmp_path / "w.csv"), tmp_path / "cat")
    cat = Catalog.load(tmp_path / "cat")
    for qid, (codes, expected) in cases.items():
        col = spec.index(qid)
        assert cat.polar[:, col].tolist() == expected, qid
        assert ((cat.refined[:, col] >= 0) == (cat.polar[:, col] >= 0)).all(), qid
        assert cat.raw[:, col].tolist() == codes, qid
    demo = cat.demographics
    assert [isinstance(v, str) for v in demo["Q260"][:5]] == [False, True, True, False, False]
    assert [isinstance(v, str) for v in demo["B_COUNTRY"][:3]] == [True, False, False]
    assert demo["B_COUNTRY_code"][:3].tolist() == [554, 999, -4]


ZERO_VALID = {f"Q{i}" for i in [*range(94, 105), 119, *range(122, 130)]}


def test_zero_negative_and_too_large_codes_across_all_questions(tmp_path: Path,
                                                                spec: StatementSpec) -> None:
    df = make_wvs_frame(5, seed=6, missing_rate=0.0)
    for q in spec.questions:
        df[q.qid] = [0, -1, -5, max(q.valid_codes) + 1, 17]
    build_catalog(write_wvs(df, tmp_path / "w.csv"), tmp_path / "cat")
    cat = Catalog.load(tmp_path / "cat")
    for form in ("polar", "refined"):
        mat = cat.matrix(form)
        assert {spec.qids[i] for i in np.flatnonzero(mat[0] >= 0)} == ZERO_VALID, form
        assert (mat[0][[spec.index(q) for q in ZERO_VALID]] == 0).all()
        assert (mat[1:] == -1).all(), form
    assert cat.persons["n_valid"].tolist() == [len(ZERO_VALID), 0, 0, 0, 0]


def test_out_of_int16_raw_codes_are_clipped_but_missing(tmp_path: Path,
                                                        spec: StatementSpec) -> None:
    df = make_wvs_frame(3, seed=1, missing_rate=0.0)
    df["Q3"] = [100000, -100000, 2]
    build_catalog(write_wvs(df, tmp_path / "w.csv"), tmp_path / "cat")
    cat = Catalog.load(tmp_path / "cat")
    assert cat.raw[:, spec.index("Q3")].tolist() == [32767, -32768, 2]
    assert cat.polar[:, spec.index("Q3")].tolist() == [-1, -1, 0]


def test_duplicates_are_counted_in_the_manifest(tmp_path: Path,
                                                small_frame: pd.DataFrame) -> None:
    df = pd.concat([small_frame.iloc[:20], small_frame.iloc[[3, 3, 7]]], ignore_index=True)
    report = build_catalog(write_wvs(df, tmp_path / "w.csv"), tmp_path / "cat")
    assert (report.persons, report.rows_read, report.duplicates) == (20, 23, 3)
    m = Catalog.load(tmp_path / "cat").manifest
    assert (m["persons"], m["rows_read"], m["duplicates_dropped"]) == (20, 23, 3)


def test_real_version_label_is_not_synthetic(tmp_path: Path) -> None:
    df = make_wvs_frame(10, seed=2, synthetic=False)
    report = build_catalog(write_wvs(df, tmp_path / "w.csv"), tmp_path / "cat")
    assert report.synthetic is False
    m = Catalog.load(tmp_path / "cat").manifest
    assert m["synthetic"] is False and m["source_version_label"] == "5-0-0 (2022-12-14)"


# -- the same catalog from every format and dialect -------------------------------------------


def _tables(cat_dir: Path) -> dict[str, pa.Table]:
    return {name: pq.read_table(cat_dir / f"{name}.parquet")
            for name in ("persons", "polar", "refined", "raw", "demographics")}


@pytest.mark.parametrize("variant", [".sav", ".dta", "semicolon-bom.csv", "float.csv"])
def test_every_format_gives_the_same_catalog(tmp_path: Path, small_frame: pd.DataFrame,
                                             small_catalog: Path, variant: str) -> None:
    path = tmp_path / f"w{variant}"
    if variant == "semicolon-bom.csv":
        path.write_bytes(b"\xef\xbb\xbf" + small_frame.to_csv(index=False, sep=";").encode())
    elif variant == "float.csv":
        df = small_frame.copy()
        df[df.columns[1:]] = df[df.columns[1:]].astype(float)
        write_wvs(df, path)
    else:
        write_wvs(small_frame, path)
    build_catalog(path, tmp_path / "cat")
    ours, base = _tables(tmp_path / "cat"), _tables(small_catalog)
    for name in base:
        assert ours[name].equals(base[name]), name
    for form in ("polar", "refined"):
        a = export_catalog(Catalog.load(tmp_path / "cat"), form, "csv", tmp_path / "a.csv")
        b = export_catalog(Catalog.load(small_catalog), form, "csv", tmp_path / "b.csv")
        assert a.read_bytes() == b.read_bytes(), form
    m = Catalog.load(tmp_path / "cat").manifest
    assert m["source_file"] == path.name and m["synthetic"] is True


# -- writing -----------------------------------------------------------------------------------


def test_existing_output_needs_overwrite(tmp_path: Path, small_csv: Path) -> None:
    out = tmp_path / "cat"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(IndieValueError, match="already exists"):
        build_catalog(small_csv, out)
    assert (out / "keep.txt").read_text() == "mine"
    build_catalog(small_csv, out, overwrite=True)
    assert not (out / "keep.txt").exists() and (out / "manifest.json").is_file()
    assert leftovers(tmp_path) == []


def test_failure_while_writing_leaves_nothing(tmp_path: Path, small_csv: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def failing_write(*args: object, **kwargs: object) -> None:
        calls.append(1)
        if len(calls) == 3:
            raise OSError("disk full")
        pq.write_table(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(build_mod.pq, "write_table", failing_write)
    with pytest.raises(IndieValueError, match=r"cannot write the catalog \(disk full\)"):
        build_catalog(small_csv, tmp_path / "out" / "cat")
    assert not (tmp_path / "out" / "cat").exists()
    assert leftovers(tmp_path / "out") == []


def test_build_is_deterministic_and_reports_progress(tmp_path: Path, small_csv: Path,
                                                     small_catalog: Path) -> None:
    messages: list[str] = []
    report = build_catalog(small_csv, tmp_path / "again", progress=messages.append)
    assert messages[0] == "reading survey file" and len(messages) >= 3
    assert report.out == tmp_path / "again" and report.persons == 300 and report.seconds > 0
    again, base = _tables(tmp_path / "again"), _tables(small_catalog)
    assert all(again[k].equals(base[k]) for k in base)


# -- --statements-from: a spec from reference-layout JSONL files --------------------------------


def test_statements_from_a_small_jsonl_directory(tmp_path: Path,
                                                 small_frame: pd.DataFrame) -> None:
    meta = write_reference_jsonl(tmp_path / "meta", {
        "Q1": ("Social Values, Attitudes & Stereotypes", [[1, 2], [3, 4]], [[1], [2], [3], [4]]),
        "Q94": ("Social Capital, Trust & Organizational Membership", [[0, 1], [2]],
                [[0], [1], [2]]),
        "Q48": ("Happiness and Well-Being", [[1, 2, 3, 4, 5], [6, 7, 8, 9, 10]],
                [[1, 2, 3], [4, 5], [6, 7], [8, 9, 10]]),
    })
    spec = load_reference_spec(meta)
    assert spec.qids == ["Q1", "Q94", "Q48"]
    assert spec.version == "reference-jsonl:meta"
    report = build_catalog(write_wvs(small_frame, tmp_path / "w.csv"), tmp_path / "cat",
                           spec=spec)
    cat = Catalog.load(tmp_path / "cat")
    assert report.persons == 300
    assert pq.read_schema(tmp_path / "cat" / "polar.parquet").names == ["Q1", "Q94", "Q48"]
    assert cat.polar.shape == (300, 3)
    assert np.array_equal(cat.refined, expected_indices(small_frame, spec, "refined"))
    pid = int(cat.person_ids[0])
    assert all(text.startswith("custom polar statement") for _, text in cat.statements(pid))
    assert cat.info()["value_questions"] == 3 and cat.info()["polar_statements"] == 6
    assert cat.info()["refined_statements"] == 11
    assert cat.manifest["spec_hash"] == spec.content_hash
    assert len(cat.spec.demographics) == 31  # no demographics file: the built-in entries


def test_statements_from_needs_only_its_own_columns(tmp_path: Path,
                                                    small_frame: pd.DataFrame) -> None:
    meta = write_reference_jsonl(tmp_path / "meta", {
        "Q7": ("Social Values, Attitudes & Stereotypes", [[1], [2]], [[1], [2]]),
        "Q8": ("Social Values, Attitudes & Stereotypes", [[1], [2]], [[1], [2]]),
    })
    df = small_frame.drop(columns=["Q1", "Q259"])
    build_catalog(write_wvs(df, tmp_path / "w.csv"), tmp_path / "cat",
                  spec=load_reference_spec(meta))
    assert Catalog.load(tmp_path / "cat").polar.shape == (300, 2)
