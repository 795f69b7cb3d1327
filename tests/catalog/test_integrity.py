"""A catalog directory is checked as it is read back: every damaged copy of a real catalog is
refused with one ``error:`` line naming the damaged file; an intact one (also one written
before manifests carried ``format_version``) loads."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from indievalue.catalog.build import build_catalog
from indievalue.catalog.store import Catalog
from wvs_testdata import CliResult, make_wvs_frame, write_wvs

Cli = Callable[..., CliResult]


@pytest.fixture(scope="module")
def other_catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Another catalog of 300 persons with the same person ids as ``small_catalog``: what a
    file taken from a colleague's build of a different source looks like."""
    root = tmp_path_factory.mktemp("other")
    build_catalog(write_wvs(make_wvs_frame(300, seed=1), root / "w.csv"), root / "catalog")
    return root / "catalog"


def damaged(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest)
    return dest


def one_error(result: CliResult) -> str:
    """The single ``error:`` line of a refused command (exit 2, nothing on stdout, no
    traceback; a progress bar already drawn on stderr may precede it)."""
    assert result.code == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and result.stdout == ""
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith("error: ")]
    assert len(errors) == 1 and result.stderr.rstrip().endswith(errors[0]), result.stderr
    return errors[0]


# -- ways to damage a copy ---------------------------------------------------------------------


def edit_json(path: Path, change: Callable[[dict], object]) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def edit_table(path: Path, change: Callable[[pa.Table], pa.Table]) -> None:
    pq.write_table(change(pq.read_table(path)), path)


def with_cell(table: pa.Table, column: str, row: int, value: object) -> pa.Table:
    i = table.column_names.index(column)
    values = table.column(i).to_pylist()
    values[row] = value
    kind = table.schema.field(i).type
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    return table.set_column(i, column, pa.array(values, type=kind))


def with_type(table: pa.Table, column: str, kind: pa.DataType) -> pa.Table:
    i = table.column_names.index(column)
    return table.set_column(i, column, table.column(i).cast(kind))


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def first_valid_row(cat: Path, qid: str) -> int:
    return int(np.flatnonzero(pq.read_table(cat / "polar.parquet").column(qid).to_numpy() >= 0)[0])


@dataclass(frozen=True)
class Damage:
    name: str
    file: str  # the file the error line must name
    says: str  # and a fragment of what it says is wrong
    apply: Callable[[Path, Path], None]  # (damaged copy, another catalog)


def _swap(name: str) -> Callable[[Path, Path], None]:
    return lambda cat, other: shutil.copyfile(other / name, cat / name)


def _spec_statement(data: dict) -> None:
    data["questions"][0]["polar"][0][1] = "an edited statement"


def _stray_statement(cat: Path, _: Path) -> None:
    entry = json.loads((cat / "spec.json").read_text())["demographics"][1]["id"]
    edit_table(cat / "demographics.parquet", lambda t: with_cell(t, entry, 0, "I am nobody"))


def _raw_code(cat: Path, _: Path) -> None:
    row = first_valid_row(cat, "Q1")  # a valid answer whose raw code now says "no answer"
    edit_table(cat / "raw.parquet", lambda t: with_cell(t, "Q1", row, -2))


DAMAGES = [
    # manifest.json
    Damage("manifest removed", "manifest.json", "not a catalog directory",
           lambda c, _: (c / "manifest.json").unlink()),
    Damage("manifest truncated", "manifest.json", "unreadable JSON",
           lambda c, _: truncate(c / "manifest.json")),
    Damage("manifest not an object", "manifest.json", "not a JSON object",
           lambda c, _: (c / "manifest.json").write_text("[1, 2]")),
    Damage("manifest of another format", "manifest.json", "not an indievalue catalog",
           lambda c, _: edit_json(c / "manifest.json", lambda m: m.update(format="other"))),
    Damage("format version unknown", "manifest.json", "format version 2 is unknown",
           lambda c, _: edit_json(c / "manifest.json", lambda m: m.update(format_version=2))),
    Damage("format version not a number", "manifest.json", "'1' is not a version number",
           lambda c, _: edit_json(c / "manifest.json", lambda m: m.update(format_version="1"))),
    Damage("persons count missing", "manifest.json", "\"persons\" is None",
           lambda c, _: edit_json(c / "manifest.json", lambda m: m.pop("persons"))),
    Damage("persons count edited", "persons.parquet", "300 rows, but the manifest says 299",
           lambda c, _: edit_json(c / "manifest.json", lambda m: m.update(persons=299))),
    # spec.json
    Damage("spec removed", "spec.json", "no such file", lambda c, _: (c / "spec.json").unlink()),
    Damage("spec edited", "spec.json", "not the manifest's spec_hash",
           lambda c, _: edit_json(c / "spec.json", _spec_statement)),
    Damage("spec malformed", "spec.json", "not a valid statement spec",
           lambda c, _: edit_json(c / "spec.json", lambda s: s.pop("questions"))),
    # the matrices
    Damage("polar removed", "polar.parquet", "missing or unreadable",
           lambda c, _: (c / "polar.parquet").unlink()),
    Damage("refined truncated", "refined.parquet", "missing or unreadable",
           lambda c, _: truncate(c / "refined.parquet")),
    Damage("refined column dropped", "refined.parquet", "missing question column(s) Q2",
           lambda c, _: edit_table(c / "refined.parquet", lambda t: t.drop(["Q2"]))),
    Damage("raw columns reordered", "raw.parquet", "not in spec order (Q2 where Q1 belongs)",
           lambda c, _: edit_table(c / "raw.parquet", lambda t: t.select(
               ["Q2", "Q1", *t.column_names[2:]]))),
    Damage("polar extra column", "polar.parquet", "column X is not a question of spec.json",
           lambda c, _: edit_table(c / "polar.parquet", lambda t: t.append_column(
               "X", t.column(0)))),
    Damage("polar row dropped", "polar.parquet", "299 rows, but the manifest says 300",
           lambda c, _: edit_table(c / "polar.parquet", lambda t: t.slice(0, 299))),
    Damage("polar wrong dtype", "polar.parquet", "column Q7 is int16, expected int8",
           lambda c, _: edit_table(c / "polar.parquet", lambda t: with_type(t, "Q7", pa.int16()))),
    Damage("raw wrong dtype", "raw.parquet", "column Q1 is int32, expected int16",
           lambda c, _: edit_table(c / "raw.parquet", lambda t: with_type(t, "Q1", pa.int32()))),
    Damage("polar empty cell", "polar.parquet", "column Q3 has empty cells",
           lambda c, _: edit_table(c / "polar.parquet", lambda t: with_cell(t, "Q3", 4, None))),
    Damage("polar invalid option", "polar.parquet", "column Q1 holds 2 (row 7), but Q1 has 2",
           lambda c, _: edit_table(c / "polar.parquet", lambda t: with_cell(t, "Q1", 7, 2))),
    Damage("refined invalid option", "refined.parquet", "column Q5 holds -3 (row 0)",
           lambda c, _: edit_table(c / "refined.parquet", lambda t: with_cell(t, "Q5", 0, -3))),
    Damage("raw code not the stored option", "raw.parquet", "column Q1 holds code -2",
           _raw_code),
    # persons.parquet and demographics.parquet
    Damage("person id duplicated", "persons.parquet", "appears more than once",
           lambda c, _: edit_table(c / "persons.parquet", lambda t: with_cell(
               t, "person_id", 1, t.column("person_id")[0].as_py()))),
    Damage("persons column dropped", "persons.parquet", "missing column(s) n_valid",
           lambda c, _: edit_table(c / "persons.parquet", lambda t: t.drop(["n_valid"]))),
    Damage("persons reordered", "persons.parquet", "disagree with n_valid",
           lambda c, _: edit_table(c / "persons.parquet", lambda t: t.take(
               np.arange(t.num_rows)[::-1]))),
    Damage("demographics column dropped", "demographics.parquet", "missing column(s) Q260",
           lambda c, _: edit_table(c / "demographics.parquet", lambda t: t.drop(["Q260"]))),
    Damage("demographics stray statement", "demographics.parquet",
           "'I am nobody', not a statement", _stray_statement),
    # another catalog's file swapped in (same person count, same person ids)
    Damage("persons of another catalog", "persons.parquet", "different catalogs",
           _swap("persons.parquet")),
    Damage("polar of another catalog", "polar.parquet", "different catalogs",
           _swap("polar.parquet")),
    Damage("raw of another catalog", "raw.parquet", "not the polar option stored",
           _swap("raw.parquet")),
    Damage("demographics of another catalog", "demographics.parquet", "different catalogs",
           _swap("demographics.parquet")),
    Damage("spec of another spec", "spec.json", "not the manifest's spec_hash",
           lambda c, _: edit_json(c / "manifest.json", lambda m: m.update(
               spec_hash="sha256:" + "0" * 64))),
]


@pytest.mark.parametrize("damage", DAMAGES, ids=[d.name for d in DAMAGES])
def test_a_damaged_catalog_is_refused_naming_the_file(
        damage: Damage, tmp_path: Path, small_catalog: Path, other_catalog: Path,
        cli: Cli) -> None:
    cat = damaged(small_catalog, tmp_path / "cat")
    damage.apply(cat, other_catalog)
    line = one_error(cli("catalog", "info", cat))
    named = str(cat if damage.name == "manifest removed" else cat / damage.file)
    assert named in line and damage.file in line, line
    assert damage.says in line, line


def test_an_intact_catalog_loads(tmp_path: Path, small_catalog: Path, cli: Cli) -> None:
    result = cli("catalog", "info", small_catalog, "--json")
    assert result.code == 0 and json.loads(result.stdout)["persons"] == 300
    # A manifest without format_version (version 1) and with unknown extra keys is accepted.
    cat = damaged(small_catalog, tmp_path / "cat")
    edit_json(cat / "manifest.json", lambda m: (m.pop("format_version"), m.update(note="x")))
    result = cli("catalog", "info", cat, "--json")
    assert result.code == 0, result.stderr
    loaded = Catalog.load(cat)
    loaded.check(raw=True)
    assert loaded.polar.shape == loaded.raw.shape == (300, 253)


def test_replaced_tables_do_not_confuse_the_checks(small_catalog: Path) -> None:
    """Callers may replace a loaded matrix in memory; later checks compare the files."""
    cat = Catalog.load(small_catalog)
    cat.polar = np.zeros_like(cat.polar)  # type: ignore[misc]
    assert cat.raw.dtype == np.int16 and cat.refined.shape == (300, 253)


def test_other_commands_refuse_a_damaged_catalog(tmp_path: Path, small_catalog: Path,
                                                 cli: Cli) -> None:
    """show, export and evaluate refuse with one line and leave no output behind."""
    cat = damaged(small_catalog, tmp_path / "cat")
    edit_table(cat / "refined.parquet", lambda t: with_cell(t, "Q5", 3, 9))
    pid = str(Catalog.load(small_catalog).person_ids[3])
    (tmp_path / "ids.txt").write_text(pid + "\n")
    file = str(cat / "refined.parquet")
    assert file in one_error(cli("catalog", "show", cat, pid, "--form", "refined"))
    assert file in one_error(cli("catalog", "export", cat, "--form", "refined",
                                 "--out", tmp_path / "x.csv"))
    assert file in one_error(cli("evaluate", "--catalog", cat, "--predictor", "random",
                                 "--form", "polar", "--eval-ids", tmp_path / "ids.txt",
                                 "--out", tmp_path / "run"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cat", "ids.txt"]
