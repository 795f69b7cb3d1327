"""``demos_analysis``: the demonstration-count sweep and its t-tests (PROTOCOL §4.4)."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _analysis_catalog import EVAL_SIZE, analysis_catalog
from scipy import stats

from indievalue.analyses.common import AnalysisResult, parse_int_list
from indievalue.analyses.demos import demos_analysis, demos_only, stars, ttest
from indievalue.errors import IndieValueError
from indievalue.runs.config import EvalConfig
from indievalue.runs.evaluate import evaluate
from indievalue.runs.files import read_run

OPTIONS = {"top_k": 5, "sweep": 0, "context": "demos"}


@pytest.fixture(scope="module")
def demos(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, AnalysisResult]:
    cat = analysis_catalog(tmp_path_factory)
    out = tmp_path_factory.mktemp("demos")
    return cat, out, demos_analysis(cat, "resemble", out, options=OPTIONS, demos=[0, 50],
                                    eval_size=EVAL_SIZE)


def person_accuracy_from_records(run: Path) -> pd.Series:
    """acc(i) x 100, computed here without the package's metrics."""
    rows = [json.loads(ln) for ln in (run / "records.jsonl").read_text().splitlines()]
    df = pd.DataFrame(rows)
    df["ok"] = (df["prediction"] == df["gold"]) & (df["status"] == "ok")
    return df.groupby(["person_id", "setup"])["ok"].mean().groupby("person_id").mean() * 100


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_runs_made(demos: tuple[Path, Path, AnalysisResult]) -> None:
    _, out, result = demos
    assert [p.name for p in result.runs] == ["demographics-only", "d000-off", "d050-off",
                                             "d050-on"]
    ids = (out / "eval_ids.txt").read_text().split()
    assert len(ids) == EVAL_SIZE
    expected = {"demographics-only": (0, "only"), "d000-off": (0, "off"),
                "d050-off": (50, "off"), "d050-on": (50, "on")}
    for run in result.runs:
        spec = json.loads((run / "spec.json").read_text())["spec"]
        assert (spec["demos"], spec["demographics"]) == expected[run.name]
        assert spec["predictor"] == "resemble" and spec["predictor_options"]["top_k"] == 5
        assert (run / "eval_ids.txt").read_text().split() == ids


def test_ttests_match_scipy_on_per_person_accuracy(
        demos: tuple[Path, Path, AnalysisResult]) -> None:
    _, out, result = demos
    acc = {run.name: person_accuracy_from_records(run).to_numpy() for run in result.runs}
    rows = read_csv(out / "demos_ttests.csv")
    pairs = [(r["a"], r["b"]) for r in rows]
    assert pairs == [("0 demos, demographics off", "demographics only"),
                     ("50 demos, demographics off", "50 demos, demographics on"),
                     ("50 demos, demographics off", "demographics only")]
    runs = [("d000-off", "demographics-only"), ("d050-off", "d050-on"),
            ("d050-off", "demographics-only")]
    for row, (a, b) in zip(rows, runs, strict=True):
        want = stats.ttest_ind(acc[a], acc[b])
        if math.isnan(want.statistic):
            assert row["t"] == ""
        else:
            assert float(row["t"]) == pytest.approx(want.statistic, abs=1e-4)
            assert float(row["p"]) == pytest.approx(want.pvalue, abs=1e-4)
        assert float(row["mean_a"]) == pytest.approx(acc[a].mean(), abs=1e-4)
        assert int(row["n_a"]) == int(row["n_b"]) == EVAL_SIZE


def test_table_figure_and_markdown(demos: tuple[Path, Path, AnalysisResult]) -> None:
    _, out, result = demos
    assert result.figure == out / "demos.png"
    assert result.figure.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    table = read_csv(out / "demos.csv")
    assert [r["setting"] for r in table] == ["demographics only", "0 demos, demographics off",
                                             "50 demos, demographics off",
                                             "50 demos, demographics on"]
    for row, run in zip(table, result.runs, strict=True):
        summary = json.loads((run / "summary.json").read_text())
        assert float(row["mean"]) == pytest.approx(summary["overall"], abs=1e-4)
    md = result.markdown.read_text(encoding="utf-8")
    assert "![" in md and "(./demos.png)" in md
    assert "> **SYNTHETIC**" in md  # the test catalog is synthetic
    assert "| 50 demos, demographics off vs 50 demos, demographics on |" in md
    assert result.synthetic


def test_second_call_reuses_the_runs(demos: tuple[Path, Path, AnalysisResult]) -> None:
    cat, out, result = demos
    before = {p: p.stat().st_mtime_ns for p in out.glob("runs/*/records.jsonl")}
    again = demos_analysis(cat, "resemble", out, options=OPTIONS, demos=[0, 50],
                           eval_size=EVAL_SIZE)
    assert again.runs == result.runs
    assert {p: p.stat().st_mtime_ns for p in out.glob("runs/*/records.jsonl")} == before


def test_another_predictor_in_the_same_out_is_refused(
        demos: tuple[Path, Path, AnalysisResult]) -> None:
    cat, out, _ = demos
    with pytest.raises(IndieValueError, match="holds a different run"):
        demos_analysis(cat, "majority", out, demos=[0], eval_size=EVAL_SIZE)


def test_ttest_undefined_cases() -> None:
    few = ttest("a", np.array([50.0]), "b", np.array([40.0, 60.0]))
    assert math.isnan(few.t) and math.isnan(few.p)
    flat = ttest("a", np.full(5, 50.0), "b", np.full(5, 50.0))
    assert math.isnan(flat.p) and stars(flat.p) == ""
    assert [stars(p) for p in (0.0001, 0.005, 0.03, 0.2)] == ["***", "**", "*", "n.s."]


@pytest.mark.parametrize("text", ["", "0,x", "0,300", "50,50"])
def test_bad_demo_lists(text: str) -> None:
    with pytest.raises(IndieValueError):
        parse_int_list(text, "--demos", 0, 200)


def test_demo_list() -> None:
    assert parse_int_list(" 0, 50,200 ", "--demos", 0, 200) == [0, 50, 200]


def test_resemble_reads_only_the_demonstrations(tmp_path_factory: pytest.TempPathFactory,
                                                tmp_path: Path) -> None:
    """Resemble compares on every visible answer by default, which does not change with d;
    the sweep makes it compare on the demonstrations, so d = 10 and d = 200 differ."""
    cat = analysis_catalog(tmp_path_factory)
    for d in (10, 200):  # the premise: with context=visible the number does not matter
        evaluate(cat, EvalConfig(predictor="resemble", predictor_options={"sweep": 0},
                                 demos=d, eval_size=EVAL_SIZE), tmp_path / f"visible-{d}")
    assert read_run(tmp_path / "visible-10").summary.overall == \
        read_run(tmp_path / "visible-200").summary.overall
    out = tmp_path / "sweep"
    result = demos_analysis(cat, "resemble", out, options={"sweep": 0}, demos=[10, 200],
                            eval_size=EVAL_SIZE)
    means = {r["setting"]: float(r["mean"]) for r in read_csv(out / "demos.csv")}
    assert means["10 demos, demographics off"] != means["200 demos, demographics off"]
    for run in result.runs:
        assert read_run(run).spec.predictor_options["context"] == "demos"
    assert "(`context=demos`)" in result.markdown.read_text(encoding="utf-8")
    with pytest.raises(IndieValueError, match=r"context=visible .* would be flat; use "
                       r"context=demos"):
        demos_analysis(cat, "resemble", tmp_path / "visible", options={"context": "visible"},
                       demos=[10], eval_size=EVAL_SIZE)
    # a predictor without the option is run as given
    assert demos_only("majority", {}) == {}
