"""The main job (``indievalue run``, :mod:`indievalue.analyses.mainjob`): catalog -> eval set ->
every statistical baseline on polar and refined -> the Table-3 comparison."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from _bench_data import BenchData
from indievalue.analyses import mainjob
from indievalue.analyses.mainjob import BASELINES, MainJobResult, planned_runs, run_main_job
from indievalue.catalog.store import Catalog
from indievalue.report.runs import load_runs
from indievalue.report.tables import comparison_rows, comparison_table
from wvs_testdata import CliResult

EVAL_SIZE = 30


REPORTS: list[tuple[Path, list[str]]] = []


def fake_report(out: Path, keys: list[str], status: Any = None, **loaded: Any) -> Path:
    """The HTML report has its own tests (tests/report); here only its inputs are checked."""
    REPORTS.append((out, keys))
    return out / "report" / "report.html"


@pytest.fixture(scope="module")
def job(bench: BenchData, tmp_path_factory: pytest.TempPathFactory
        ) -> tuple[Path, MainJobResult, list[str]]:
    out = tmp_path_factory.mktemp("main")
    labels: list[str] = []

    @contextmanager
    def progress(label: str) -> Any:
        labels.append(label)
        yield None

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(mainjob, "write_report", fake_report)
        return out, run_main_job(wvs=bench.csv, out=out, eval_size=EVAL_SIZE,
                                 progress=progress), labels


def test_every_baseline_on_both_forms(job: tuple[Path, MainJobResult, list[str]]) -> None:
    out, result, labels = job
    cat = Catalog.load(out / "catalog")
    keys = [p.key for p in planned_runs(cat)]
    assert {p.key for p in BASELINES} <= set(keys)
    assert list(result.summaries) == keys
    ids = (out / "eval_ids.txt").read_text().split()
    assert len(ids) == EVAL_SIZE
    for key in keys:
        for form in ("polar", "refined"):
            run = out / "runs" / f"{key}-{form}"
            spec = json.loads((run / "spec.json").read_text())["spec"]
            assert spec["demo_form"] == spec["probe_form"] == form
            assert spec["protocol"] == "A" and spec["demos"] == 200
            assert (run / "eval_ids.txt").read_text().split() == ids
            summary = json.loads((run / "summary.json").read_text())
            assert summary == result.summaries[key][form]
            assert summary["complete"] is True and summary["n_persons"] == EVAL_SIZE
    assert REPORTS[0] == (out, keys)
    assert result.report == out / "report" / "report.html"
    top1 = json.loads((out / "runs" / "resemble-top1-polar" / "spec.json").read_text())
    assert top1["spec"]["predictor_options"]["top_k"] == 1
    top24 = json.loads((out / "runs" / "resemble-top24-refined" / "summary.json").read_text())
    assert len(top24["sweep"]) == 35
    # Resemble top 24 runs first (top 1 then reuses its ranked neighbour lists)
    assert labels[:2] == ["Resemble (all, top 24) (polar)", "Resemble (all, top 24) (refined)"]
    assert len(labels) == 2 * len(keys)


def test_table_is_the_reports_comparison(job: tuple[Path, MainJobResult, list[str]]) -> None:
    out, result, _ = job
    dirs = [out / "runs" / f"{k}-{f}" for k in result.summaries for f in ("polar", "refined")]
    assert result.table == comparison_table(comparison_rows(load_runs(dirs))).table
    header = "| " + " | ".join(result.table.header) + " |"
    text = result.table_file.read_text()
    assert header in text and "σ_INEQUITY polar" in header
    assert "**SYNTHETIC**" in text.splitlines()[2]
    for key, label in result.labels.items():
        row = next(r for r in result.table.rows if r[0] == label)
        p, r = (result.summaries[key][f]["overall"] for f in ("polar", "refined"))
        assert row[1].startswith(f"{p:.2f} [") and row[2].startswith(f"{r:.2f} [")
        assert row[3].startswith(f"{(p + r) / 2:.2f}")
        assert f"| {label} | {row[1]} |" in text


def test_table_without_synthetic_banner(job: tuple[Path, MainJobResult, list[str]]) -> None:
    text = mainjob.table_markdown(job[1].table, synthetic=False)
    assert "SYNTHETIC" not in text and "| Random |" in text


def test_second_call_reuses_catalog_and_runs(job: tuple[Path, MainJobResult, list[str]],
                                             bench: BenchData) -> None:
    out, result, _ = job
    watched = [out / "catalog" / "manifest.json", out / "eval_ids.txt",
               *sorted((out / "runs").glob("*/records.jsonl")),
               *sorted((out / "runs").glob("*/spec.json"))]
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in watched}
    news: list[str] = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(mainjob, "write_report", fake_report)
        again = run_main_job(wvs=bench.csv, out=out, eval_size=EVAL_SIZE, log=news.append)
    assert any(n.startswith("reusing catalog") for n in news)
    assert any(n.startswith("SYNTHETIC") for n in news)
    assert again.summaries == result.summaries and again.table == result.table
    for p, (mtime, data) in before.items():
        assert p.stat().st_mtime_ns == mtime, p
        assert p.read_bytes() == data, p


def test_run_command_prints_the_table(job: tuple[Path, MainJobResult, list[str]],
                                      bench: BenchData, cli: Callable[..., CliResult],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    out, result, _ = job
    monkeypatch.setattr(mainjob, "write_report", fake_report)
    monkeypatch.setattr(mainjob, "select_eval_set", lambda *a: pytest.fail("eval set redrawn"))
    r = cli("run", "--wvs", bench.csv, "--out", out)
    assert r.code == 0, r.stderr
    assert "SYNTHETIC population" in r.stdout
    for key, label in result.labels.items():
        assert label in r.stdout
        assert f"{result.summaries[key]['polar']['overall']:.2f}" in r.stdout
    assert f"results: {out / 'table.md'}" in r.stdout.replace("\n", "")
