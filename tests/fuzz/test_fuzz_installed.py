"""The in-process runner against the installed command: for one damaged input of each kind,
``indievalue`` in a new process gives the same exit code and the same one ``error:`` line as
``run_cli`` (a handful of cases: each new interpreter costs seconds)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from _fuzz_support import FuzzData, check, evaluate_args, run_cli

from wvs_testdata import indievalue_command


def _survey(data: FuzzData, work: Path) -> list[object]:
    path = work / "survey.csv"
    data.frame.head(5).drop(columns=["Q31"]).to_csv(path, index=False)
    return ["catalog", "build", "--wvs", path, "--out", work / "catalog"]


def _config(data: FuzzData, work: Path) -> list[object]:
    (work / "config.yaml").write_bytes(b"predictor: random\noptions: [1, 2]\n")
    return [*evaluate_args(data.catalog, work / "run", data.eval_ids_file), "--config",
            work / "config.yaml"]


def _option(data: FuzzData, work: Path) -> list[object]:
    return [*evaluate_args(data.catalog, work / "run", data.eval_ids_file), "--predictor",
            "resemble", "--option", "top_k=1e309"]


def _eval_ids(data: FuzzData, work: Path) -> list[object]:
    (work / "ids.txt").write_bytes(b"\xff\xfe1\x002\x00")
    return [*evaluate_args(data.catalog, work / "run", work / "ids.txt"), "--predictor",
            "random"]


def _catalog(data: FuzzData, work: Path) -> list[object]:
    catalog = data.copy(data.catalog, work)
    (catalog / "manifest.json").write_bytes(b'{"format": ')
    return ["catalog", "info", catalog]


CASES: dict[str, Callable[[FuzzData, Path], list[object]]] = {
    "survey": _survey, "config": _config, "option": _option, "eval-ids": _eval_ids,
    "catalog": _catalog,
}


@pytest.mark.parametrize("kind", list(CASES))
def test_installed_command_agrees(fuzz_data: FuzzData, kind: str, tmp_path: Path) -> None:
    args = [str(a) for a in CASES[kind](fuzz_data, tmp_path)]
    inside = run_cli(*args)
    line = check(f"installed: {kind}", inside, expect_error=True)
    proc = subprocess.run([*indievalue_command(), *args], capture_output=True, text=True,
                          timeout=300, check=False)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == line
