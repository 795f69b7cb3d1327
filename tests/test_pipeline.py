"""The main job: catalog -> eval set -> every statistical baseline on polar and refined -> table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from _bench_data import BenchData
from indievalue import pipeline
from indievalue.catalog.store import Catalog
from indievalue.pipeline import BASELINES, planned_runs, results_table, run_main_job

EVAL_SIZE = 30


REPORTS: list[tuple[Path, list[str]]] = []


def fake_report(out: Path, keys: list[str]) -> None:
    """The HTML report has its own tests (tests/report); here only its inputs are checked."""
    REPORTS.append((out, keys))


@pytest.fixture(scope="module")
def job(bench: BenchData, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("main")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pipeline, "write_report", fake_report)
        return out, run_main_job(wvs=bench.csv, out=out, eval_size=EVAL_SIZE)


def test_every_baseline_on_both_forms(job: tuple[Path, dict]) -> None:
    out, results = job
    cat = Catalog.load(out / "catalog")
    keys = [p.key for p in planned_runs(cat)]
    assert {p.key for p in BASELINES} <= set(keys)
    assert list(results) == keys
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
            assert summary == results[key][form]
            assert summary["complete"] is True and summary["n_persons"] == EVAL_SIZE
    assert REPORTS[0] == (out, keys)
    top1 = json.loads((out / "runs" / "resemble-top1-polar" / "spec.json").read_text())
    assert top1["spec"]["predictor_options"]["top_k"] == 1
    top24 = json.loads((out / "runs" / "resemble-top24-refined" / "summary.json").read_text())
    assert len(top24["sweep"]) == 35


def test_table(job: tuple[Path, dict]) -> None:
    out, results = job
    table = (out / "table.md").read_text()
    assert table.startswith("**SYNTHETIC**")
    for label in ("Random", "Global majority", "Resemble (all, top 1)",
                  "Resemble (all, top 24)"):
        assert f"| {label} |" in table
    r = results["random"]
    assert f"{r['polar']['overall']:.2f}" in table
    assert f"{(r['polar']['overall'] + r['refined']['overall']) / 2:.2f}" in table


def test_table_without_synthetic_banner() -> None:
    s = {"overall": 50.0, "overall_ci95": [49.0, 51.0], "sigma_inequity": 1.5}
    table = results_table({"random": {"polar": s, "refined": s}}, {"random": "Random"}, False)
    assert "SYNTHETIC" not in table
    assert "| Random | 50.00 [49.00, 51.00] | 50.00 [49.00, 51.00] | 50.00 | 1.50 | 1.50 |" \
        in table


def test_second_call_reuses_catalog_and_runs(job: tuple[Path, dict], bench: BenchData,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    out, results = job
    watched = [out / "catalog" / "manifest.json", out / "eval_ids.txt",
               *sorted((out / "runs").glob("*/records.jsonl")),
               *sorted((out / "runs").glob("*/spec.json"))]
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in watched}
    capsys.readouterr()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pipeline, "write_report", fake_report)
        again = run_main_job(wvs=bench.csv, out=out, eval_size=EVAL_SIZE)
    assert "reusing catalog" in capsys.readouterr().err
    assert again == results
    for p, (mtime, data) in before.items():
        assert p.stat().st_mtime_ns == mtime, p
        assert p.read_bytes() == data, p
