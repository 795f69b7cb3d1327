"""``indievalue catalog build|info|show|export``: the command forms users rely on."""

from __future__ import annotations

import csv
import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from indievalue.catalog.spec import StatementSpec
from indievalue.catalog.store import Catalog
from wvs_testdata import (
    CliResult,
    indievalue_command,
    leftovers,
    write_reference_jsonl,
    write_wvs,
)

Cli = Callable[..., CliResult]


# -- build ------------------------------------------------------------------------------------


def test_build(tmp_path: Path, small_csv: Path, small_catalog: Path, cli: Cli) -> None:
    out = tmp_path / "cat"
    result = cli("catalog", "build", "--wvs", small_csv, "--out", out)
    assert result.code == 0, result.stderr
    assert f"catalog of 300 persons written to {out}" in result.stdout
    assert "SYNTHETIC" in result.stderr
    for name in ("polar", "refined", "raw", "persons", "demographics"):
        assert pq.read_table(out / f"{name}.parquet").equals(
            pq.read_table(small_catalog / f"{name}.parquet")), name


def test_build_refuses_an_existing_directory_unless_overwrite(
    tmp_path: Path, small_csv: Path, cli: Cli
) -> None:
    out = tmp_path / "cat"
    out.mkdir()
    result = cli("catalog", "build", "--wvs", small_csv, "--out", out)
    assert result.code == 2
    assert result.stderr.startswith("error: ") and "--overwrite" in result.stderr
    assert list(out.iterdir()) == []
    result = cli("catalog", "build", "--wvs", small_csv, "--out", out, "--overwrite")
    assert result.code == 0 and (out / "manifest.json").is_file()
    assert leftovers(tmp_path) == []


def test_build_notes_dropped_duplicates(tmp_path: Path, small_frame: pd.DataFrame,
                                        cli: Cli) -> None:
    df = pd.concat([small_frame.iloc[:10], small_frame.iloc[[2, 2]]], ignore_index=True)
    result = cli("catalog", "build", "--wvs", write_wvs(df, tmp_path / "d.csv"),
                 "--out", tmp_path / "cat")
    assert result.code == 0
    assert "dropped 2 duplicate D_INTERVIEW row(s)" in result.stderr
    assert "catalog of 10 persons" in result.stdout


def test_build_with_statements_from(tmp_path: Path, small_csv: Path, cli: Cli) -> None:
    meta = write_reference_jsonl(tmp_path / "meta", {
        "Q1": ("Social Values, Attitudes & Stereotypes", [[1, 2], [3, 4]], [[1], [2], [3], [4]]),
        "Q122": ("Migration", [[0], [1], [2]], [[0], [1], [2]]),
    })
    out = tmp_path / "cat"
    result = cli("catalog", "build", "--wvs", small_csv, "--out", out,
                 "--statements-from", meta)
    assert result.code == 0, result.stderr
    cat = Catalog.load(out)
    assert cat.spec.qids == ["Q1", "Q122"]
    info = json.loads(cli("catalog", "info", out, "--json").stdout)
    assert (info["value_questions"], info["polar_statements"], info["refined_statements"]) == (
        2, 5, 7)
    assert info["categories"]["Migration"] == 1 and info["categories"]["Security"] == 0
    shown = cli("catalog", "show", out, str(cat.person_ids[0]), "--form", "refined").stdout
    assert all(line.startswith("# Custom refined statement") for line in shown.splitlines())


def test_statements_from_a_bad_directory(tmp_path: Path, small_csv: Path, cli: Cli) -> None:
    result = cli("catalog", "build", "--wvs", small_csv, "--out", tmp_path / "cat",
                 "--statements-from", tmp_path / "nowhere")
    assert result.code == 2 and result.stderr.startswith("error: --statements-from")
    assert not (tmp_path / "cat").exists()


def test_unwritable_output_places(tmp_path: Path, small_csv: Path, small_catalog: Path,
                                  cli: Cli) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    for args in (("catalog", "build", "--wvs", small_csv, "--out", blocker / "cat"),
                 ("catalog", "export", small_catalog, "--form", "polar", "--out",
                  blocker / "x.csv")):
        result = cli(*args)
        assert result.code == 2, args
        assert result.stderr.strip().splitlines()[-1].startswith("error: "), result.stderr
        assert "cannot write" in result.stderr and "Traceback" not in result.stderr
    assert blocker.read_text() == "" and leftovers(tmp_path) == []


# -- info -------------------------------------------------------------------------------------


def test_info_json(small_catalog: Path, spec: StatementSpec, cli: Cli) -> None:
    result = cli("catalog", "info", small_catalog, "--json")
    assert result.code == 0
    info = json.loads(result.stdout)
    assert info["persons"] == 300
    assert (info["value_questions"], info["polar_statements"], info["refined_statements"],
            info["demographic_entries"]) == (253, 567, 929, 31)
    assert info["categories"] == {c.name: len(spec.questions_in(c.key)) for c in spec.categories}
    assert list(info["categories"]) == [c.name for c in spec.categories]
    assert info["synthetic"] is True


def test_info_table(small_catalog: Path, cli: Cli) -> None:
    result = cli("catalog", "info", small_catalog)
    assert result.code == 0
    assert "persons" in result.stdout and "300" in result.stdout
    assert "Postmaterialist Index" in result.stdout
    assert "SYNTHETIC" in result.stderr


def test_info_on_a_directory_that_is_not_a_catalog(tmp_path: Path, cli: Cli) -> None:
    result = cli("catalog", "info", tmp_path, "--json")
    assert result.code == 2 and result.stdout == ""
    assert result.stderr.strip() == f"error: {tmp_path}: not a catalog directory (no manifest.json)"


# -- show -------------------------------------------------------------------------------------


def test_show(small_catalog: Path, cli: Cli) -> None:
    cat = Catalog.load(small_catalog)
    pid = int(cat.person_ids[7])
    result = cli("catalog", "show", small_catalog, str(pid))
    assert result.code == 0
    lines = result.stdout.splitlines()
    expected = [s for _, s in cat.statements(pid, "polar")]
    assert len(lines) == len(expected)
    for line, statement in zip(lines, expected, strict=True):
        assert line == "# " + statement[0].upper() + statement[1:]


def test_show_refined_with_demographics(small_catalog: Path, cli: Cli) -> None:
    cat = Catalog.load(small_catalog)
    pid = int(cat.person_ids[3])
    result = cli("catalog", "show", small_catalog, str(pid), "--form", "refined",
                 "--demographics")
    assert result.code == 0
    lines = result.stdout.splitlines()
    demo = [s for _, s in cat.demographic_statements(pid)]
    values = [s for _, s in cat.statements(pid, "refined")]
    assert len(lines) == len(demo) + len(values)
    assert [line[2:].lower() for line in lines[: len(demo)]] == [s.lower() for s in demo]
    assert lines[len(demo)][2:].lower() == values[0].lower()
    assert all(line.startswith("# ") and line[2].isupper() for line in lines)


def test_show_unknown_person(small_catalog: Path, cli: Cli) -> None:
    result = cli("catalog", "show", small_catalog, "12345")
    assert result.code == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "error: person 12345 is not in the catalog")


def test_show_rejects_an_unknown_form(small_catalog: Path, cli: Cli) -> None:
    pid = str(Catalog.load(small_catalog).person_ids[0])
    result = cli("catalog", "show", small_catalog, pid, "--form", "fine")
    assert result.code == 2 and result.stdout == ""


# -- export -----------------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["polar", "refined"])
def test_export_csv(tmp_path: Path, small_catalog: Path, spec: StatementSpec, cli: Cli,
                    form: str) -> None:
    out = tmp_path / f"{form}.csv"
    result = cli("catalog", "export", small_catalog, "--form", form, "--format", "csv",
                 "--out", out)
    assert result.code == 0 and out.is_file()
    with out.open(newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["D_INTERVIEW", *spec.qids]
    cat = Catalog.load(small_catalog)
    mat = cat.matrix(form)
    assert [int(r[0]) for r in rows[1:]] == cat.person_ids.tolist()
    for i in (0, 99, 299):
        assert rows[i + 1][1:] == ["" if v < 0 else str(v) for v in mat[i].tolist()]


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_export_other_formats(tmp_path: Path, small_catalog: Path, cli: Cli, fmt: str) -> None:
    out = tmp_path / f"x.{fmt}"
    result = cli("catalog", "export", small_catalog, "--form", "polar", "--format", fmt,
                 "--out", out)
    assert result.code == 0
    if fmt == "jsonl":
        records = [json.loads(line) for line in out.read_text().splitlines()]
        assert len(records) == 300 and records[0]["form"] == "polar"
    else:
        assert pq.read_table(out).num_rows == 300


def test_export_needs_a_form(tmp_path: Path, small_catalog: Path, cli: Cli) -> None:
    result = cli("catalog", "export", small_catalog, "--format", "csv", "--out", tmp_path / "x")
    assert result.code == 2 and not (tmp_path / "x").exists()


# -- the installed executable, end to end -----------------------------------------------------


def test_installed_command_end_to_end(tmp_path: Path, small_frame: pd.DataFrame) -> None:
    exe = indievalue_command()
    src = write_wvs(small_frame.iloc[:50], tmp_path / "wvs.sav")
    out = tmp_path / "cat"

    def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*exe, *map(str, args)], capture_output=True, text=True,
                              timeout=120)

    built = run("catalog", "build", "--wvs", src, "--out", out)
    assert built.returncode == 0, built.stderr
    assert "Traceback" not in built.stderr
    info = json.loads(run("catalog", "info", out, "--json").stdout)
    assert info["persons"] == 50 and info["synthetic"] is True
    assert sum(info["categories"].values()) == 253
    missing = run("catalog", "show", out, "1")
    assert missing.returncode == 2
    assert missing.stderr.splitlines()[-1] == "error: person 1 is not in the catalog"
    assert "Traceback" not in missing.stderr
