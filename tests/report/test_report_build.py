"""``build_report`` / ``indievalue report`` on hand-made run directories."""

from __future__ import annotations

import base64
import csv
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from _report_runs import report_runs as make_report_runs
from _report_runs import write_run

from indievalue.errors import IndieValueError
from indievalue.fsutil import read_json
from indievalue.report.build import ReportFiles, build_report
from indievalue.report.runs import load_runs

MakeRun = Callable[..., Path]

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SECTIONS = ("comparison", "categories", "fairness", "lm", "calibration", "sweep", "runs")


@pytest.fixture
def make_run(tmp_path: Path) -> MakeRun:
    def make(name: str, **kwargs: Any) -> Path:
        return write_run(tmp_path / "runs" / name, **kwargs)

    return make


@pytest.fixture(scope="module")
def report_runs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return make_report_runs(tmp_path_factory.mktemp("runs"))


@pytest.fixture(scope="module")
def report(report_runs: list[Path], tmp_path_factory: pytest.TempPathFactory) -> ReportFiles:
    return build_report(report_runs, tmp_path_factory.mktemp("report"),
                        focus=report_runs[2])


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_files_written(report: ReportFiles) -> None:
    out = report.html.parent
    assert report.markdown == out / "report.md"
    assert {p.name for p in report.figures} == {"comparison.png", "categories.png",
                                                 "sigma.png", "groups.png", "reliability.png",
                                                 "sweep.png"}
    for png in report.figures:
        assert png.read_bytes().startswith(PNG_MAGIC)
    assert {p.name for p in report.tables} == {"comparison.csv", "categories.csv", "sigma.csv",
                                                "groups.csv", "lm.csv", "probability.csv",
                                                "sweep.csv", "runs.csv"}


def test_html_is_self_contained_with_every_section_and_image(report: ReportFiles) -> None:
    page = report.html.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    for anchor in SECTIONS:
        assert f'<section id="{anchor}">' in page
        assert f'href="#{anchor}"' in page
    images = re.findall(r'<img alt="[^"]*" src="data:image/png;base64,([^"]+)"', page)
    assert len(images) == len(report.figures)
    embedded = {base64.b64decode(i) for i in images}
    assert embedded == {p.read_bytes() for p in report.figures}
    assert "<script" not in page and "<link" not in page
    assert not re.search(r'(src|href)="(https?:|//)', page)
    assert 'id="synthetic-banner"' in page  # one run is synthetic


def test_markdown_links_figures_and_tables(report: ReportFiles) -> None:
    md = report.markdown.read_text(encoding="utf-8")
    assert md.startswith("# indievalue report\n\n> **SYNTHETIC**")
    for png in report.figures:
        assert f"(figures/{png.name})" in md
    for table in report.tables:
        assert f"(tables/{table.name})" in md
    for title in ("## Comparison (Table 3 style)", "## Accuracy by question category",
                  "## Equity across groups", "## Parse failures and response cache",
                  "## Calibration", "## Cluster-size sweep", "## Runs and provenance"):
        assert title in md


def test_table3_pairs_forms_of_one_label(report: ReportFiles,
                                         report_runs: list[Path]) -> None:
    rows = {r["predictor"]: r for r in read_csv(report.html.parent / "tables/comparison.csv")}
    assert list(rows) == ["Global majority", "Resemble", "Some LM"]
    polar = read_json(report_runs[0] / "summary.json")
    refined = read_json(report_runs[1] / "summary.json")
    maj = rows["Global majority"]
    assert float(maj["polar"]) == pytest.approx(polar["overall"], abs=1e-4)
    assert float(maj["refined"]) == pytest.approx(refined["overall"], abs=1e-4)
    assert float(maj["all"]) == pytest.approx((polar["overall"] + refined["overall"]) / 2,
                                              abs=1e-4)
    # same persons in both runs: a paired interval around the mean
    assert float(maj["all_ci_low"]) < float(maj["all"]) < float(maj["all_ci_high"])
    assert float(maj["polar_ci_low"]) == pytest.approx(polar["overall_ci95"][0], abs=1e-4)
    assert rows["Some LM"]["refined"] == ""  # no refined run: empty cell
    md = report.markdown.read_text(encoding="utf-8")
    lo, hi = polar["overall_ci95"]
    assert f"| Global majority | {polar['overall']:.2f} [{lo:.2f}, {hi:.2f}] |" in md


def test_category_and_sigma_tables(report: ReportFiles, report_runs: list[Path]) -> None:
    out = report.html.parent
    cats = read_csv(out / "tables/categories.csv")
    assert len(cats) == 14 and cats[-1]["category"] == "Overall"
    summary = read_json(report_runs[2] / "summary.json")
    column = "Resemble · polar"
    assert float(cats[0][column]) == pytest.approx(
        summary["per_category"]["Social Values"], abs=1e-4)
    sigma = read_csv(out / "tables/sigma.csv")
    assert [r["dimension"] for r in sigma] == ["Continent", "Sex", "Citizenship",
                                               "σ_INEQUITY (mean)"]
    assert float(sigma[-1][column]) == pytest.approx(summary["sigma_inequity"], abs=1e-4)


def test_lm_statistics_and_provenance(report: ReportFiles) -> None:
    md = report.markdown.read_text(encoding="utf-8")
    (line,) = [ln for ln in md.splitlines() if ln.startswith("| Some LM · polar | 7 |")]
    assert "hits 30, misses 10 (hit rate 75.0%)" in line
    assert "| provenance: git_commit | feedc0de |" in md
    assert "| provenance: indievalue_version | 9.9.9 |" in md
    assert "3 setups of 13, 13, 13 probe questions" in md


def test_focus_run_chooses_the_group_plot(report: ReportFiles) -> None:
    md = report.markdown.read_text(encoding="utf-8")
    assert "Group accuracy per dimension for Resemble · polar" in md
    assert "| Continent |" in md and "Oceania (" in md  # short group names in the table


def test_plain_run_report_replaces_an_earlier_one(report: ReportFiles, make_run: MakeRun,
                                                  tmp_path: Path) -> None:
    """One real, non-synthetic run without probabilities or sweep, written over an earlier
    report, with its summary missing: no banner, no calibration or sweep section, their old
    figures and tables removed, the summary recomputed from the records."""
    out = tmp_path / "rep"
    shutil.copytree(report.html.parent, out)
    run = make_run("a", label="A")
    expected = read_json(run / "summary.json")["overall"]
    (run / "summary.json").unlink()
    files = build_report([run], out)
    assert read_json(run / "summary.json")["overall"] == expected
    md = files.markdown.read_text(encoding="utf-8")
    assert f"| A | {expected:.2f} [" in md
    assert "SYNTHETIC" not in md and "synthetic-banner" not in files.html.read_text("utf-8")
    assert not files.synthetic
    assert {p.name for p in files.figures} == {"comparison.png", "categories.png",
                                                "sigma.png", "groups.png"}
    assert sorted(p.name for p in (out / "figures").iterdir()) == sorted(
        p.name for p in files.figures)
    assert not (out / "tables/probability.csv").exists()
    assert not (out / "tables/lm.csv").exists()
    assert "No run recorded parse failures" in md and "## Calibration" not in md


def test_same_label_and_form_twice_is_told_apart(make_run: MakeRun) -> None:
    a = make_run("first", label="X")
    b = make_run("second", label="X")
    c = make_run("third", label="X", demos=50)
    runs = load_runs([a, b, c])
    assert [r.name for r in runs] == ["X (200 demos) [first] · polar",
                                      "X (200 demos) [second] · polar",
                                      "X (50 demos) · polar"]


def test_mixed_forms_are_not_paired_with_matching_forms(make_run: MakeRun) -> None:
    a = make_run("pp", label="Y", form="polar")
    b = make_run("rp", label="Y", form="polar", demo_form="refined")
    runs = load_runs([a, b])
    assert runs[0].row == "Y" and runs[1].row == "Y (refined demos)"


def test_the_same_directory_twice_counts_once(make_run: MakeRun) -> None:
    run = make_run("a", label="A")
    assert len(load_runs([run, Path(os.path.relpath(run))])) == 1


@pytest.mark.parametrize("problem", ["empty", "missing", "no-spec", "no-records", "focus"])
def test_bad_input_is_one_readable_error(problem: str, make_run: MakeRun,
                                         tmp_path: Path) -> None:
    run = make_run("ok", label="A")
    args: dict[str, list[Path] | Path | None] = {"dirs": [run], "focus": None}
    if problem == "empty":
        args["dirs"] = []
    elif problem == "missing":
        args["dirs"] = [tmp_path / "nope"]
    elif problem == "no-spec":
        (tmp_path / "plain").mkdir()
        args["dirs"] = [tmp_path / "plain"]
    elif problem == "no-records":
        (run / "records.jsonl").unlink()
    else:
        args["focus"] = tmp_path / "elsewhere"
    with pytest.raises(IndieValueError):
        build_report(args["dirs"], tmp_path / "rep", focus=args["focus"])  # type: ignore[arg-type]


def test_cli_report_calls_the_library(cli: Callable[..., Any], make_run: MakeRun,
                                      tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import indievalue.report.build as build

    seen: dict[str, Any] = {}

    def fake(run_dirs: list[Path], out: Path, focus: Path | None = None,
             title: str = "") -> ReportFiles:
        seen.update(run_dirs=run_dirs, out=out, focus=focus, title=title)
        return ReportFiles(out / "report.md", out / "report.html", [], [], True)

    monkeypatch.setattr(build, "build_report", fake)
    a, b = make_run("a", label="A"), make_run("b", label="B")
    res = cli("report", a, b, "--out", tmp_path / "rep", "--focus", b, "--title", "Mine")
    assert res.code == 0, res.stderr
    assert seen == {"run_dirs": [a, b], "out": tmp_path / "rep", "focus": b, "title": "Mine"}
    assert f"report: {tmp_path / 'rep' / 'report.html'}" in res.stdout
    assert "SYNTHETIC" in res.stderr


def test_cli_report_errors(cli: Callable[..., Any], tmp_path: Path) -> None:
    res = cli("report", "--out", tmp_path / "rep")
    assert res.code == 2
    assert res.stderr.startswith("error: give at least one run directory")
    res = cli("report", tmp_path, "--out", tmp_path / "rep")
    assert res.code == 2 and "not a run directory" in res.stderr
