"""``indievalue evaluate``, ``indievalue score``, ``indievalue predictors``: a thin CLI over the
Python API; user mistakes give one ``error:`` line and exit code 2, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from _bench_data import BenchData
from indievalue.benchmark.evalset import select_eval_set
from indievalue.catalog.store import Catalog
from indievalue.cli.main import main


def run_cli(args: list[str], monkeypatch: pytest.MonkeyPatch,
            capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Call the console-script entry point in-process; return (exit code, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["indievalue", *args])
    monkeypatch.setenv("COLUMNS", "200")
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def error_line(stderr: str) -> str:
    """The one ``error:`` line; no traceback anywhere."""
    assert "Traceback" not in stderr
    errors = [ln for ln in stderr.splitlines() if ln.startswith("error: ")]
    assert len(errors) == 1, stderr
    return errors[0]


def spec_of(run: Path) -> dict[str, object]:
    return json.loads((run / "spec.json").read_text())["spec"]


def test_evaluate_random(bench: BenchData, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                         capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    code, stdout, stderr = run_cli(
        ["evaluate", "--catalog", str(bench.catalog), "--predictor", "random",
         "--form", "polar", "--out", str(out), "--eval-size", "20"], monkeypatch, capsys)
    assert code == 0, stderr
    assert "random: overall" in stdout and "per setup" in stdout and str(out) in stdout
    for name in ("spec.json", "eval_ids.txt", "records.jsonl", "summary.json", "summary.md"):
        assert (out / name).is_file()
    spec = spec_of(out)
    assert spec["protocol"] == "A" and spec["demos"] == 200 and spec["seed"] == 0
    assert spec["demo_form"] == spec["probe_form"] == "polar"
    assert (out / "records.jsonl").read_text().count("\n") == 20 * 117


def test_evaluate_all_options(bench: BenchData, tmp_path: Path,
                              monkeypatch: pytest.MonkeyPatch,
                              capsys: pytest.CaptureFixture[str]) -> None:
    cat = Catalog.load(bench.catalog)
    ids = select_eval_set(cat, 20, seed=0).person_ids[:5]
    (tmp_path / "ids.txt").write_text("".join(f"{i}\n" for i in ids))
    (tmp_path / "cfg.yaml").write_text("predictor: resemble\noptions:\n  top_k: 3\n  sweep: 4\n")
    out = tmp_path / "run"
    code, _, stderr = run_cli(
        ["evaluate", "--catalog", str(bench.catalog), "--form", "refined", "--out", str(out),
         "--protocol", "B", "--demos", "25", "--seed", "4", "--eval-ids",
         str(tmp_path / "ids.txt"), "--config", str(tmp_path / "cfg.yaml"),
         "--option", "top_k=5", "--option", "pool=500", "--demo-form", "polar"],
        monkeypatch, capsys)
    assert code == 0, stderr
    spec = spec_of(out)
    assert spec["predictor"] == "resemble"
    # --option overrides the config file, which overrides the defaults
    assert spec["predictor_options"] == {"top_k": 5, "pool": 500, "context": "visible",
                                         "sweep": 4}
    assert spec["protocol"] == "B" and spec["demos"] == 25 and spec["seed"] == 4
    assert spec["demo_form"] == "polar" and spec["probe_form"] == "refined"
    assert spec["n_persons"] == 5
    assert (out / "eval_ids.txt").read_text().split() == [str(i) for i in ids]


def test_score(bench: BenchData, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
               capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    code, _, _ = run_cli(["evaluate", "--catalog", str(bench.catalog), "--predictor",
                          "majority", "--form", "polar", "--out", str(out), "--eval-size", "20"],
                         monkeypatch, capsys)
    assert code == 0
    before = (out / "summary.json").read_text()
    (out / "summary.json").unlink()
    code, stdout, _ = run_cli(["score", str(out)], monkeypatch, capsys)
    assert code == 0 and "majority: overall" in stdout
    assert (out / "summary.json").read_text() == before
    code, stdout, _ = run_cli(["score", str(out), "--json"], monkeypatch, capsys)
    assert code == 0
    assert json.loads(stdout) == json.loads(before)


def test_predictors_lists_registry(monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    code, stdout, _ = run_cli(["predictors"], monkeypatch, capsys)
    assert code == 0
    for name in ("random", "majority", "resemble", "top_k=24"):
        assert name in stdout


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--predictor", "nope"], "error: unknown predictor 'nope'; available:"),
        (["--predictor", "resemble", "--option", "top_k=many"],
         "error: predictor resemble: option top_k:"),
        (["--predictor", "resemble", "--option", "neighbours=3"],
         "error: predictor resemble: option neighbours:"),
        (["--predictor", "random", "--option", "top_k"], "error: --option expects KEY=VALUE"),
        (["--predictor", "random", "--eval-size", "2400"], "smaller --eval-size"),
        ([], "error: give --predictor"),
    ],
)
def test_user_errors_are_one_line(bench: BenchData, tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str], extra: list[str],
                                  message: str) -> None:
    code, _, stderr = run_cli(["evaluate", "--catalog", str(bench.catalog), "--form", "polar",
                               "--out", str(tmp_path / "run"), "--eval-size", "20", *extra],
                              monkeypatch, capsys)
    assert code == 2
    assert message in error_line(stderr)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (None, "no such file"),
        ("predictor: [unclosed\n", "not a readable YAML file"),
        ("predictor: random\nsede: 3\n", "unknown key(s) sede"),
        ("predictor: random\ndemos: 300\n", "cfg.yaml: demos: Input should be less than"),
        ("predictor: random\nprotocol: C\n", "cfg.yaml: protocol:"),
        ("predictor: random\noptions: {}\npredictor_options: {}\n", "not both"),
        ("[1, 2]\n", "expected a mapping of settings"),
        ("options: [1, 2]\n", "expected a mapping"),
        ("predictor: resemble\noptions:\n  top_k: lots\n", "option top_k"),
    ],
)
def test_bad_config_files(bench: BenchData, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                          capsys: pytest.CaptureFixture[str], config: str | None,
                          message: str) -> None:
    path = tmp_path / "cfg.yaml"
    if config is not None:
        path.write_text(config)
    code, _, stderr = run_cli(["evaluate", "--catalog", str(bench.catalog), "--form", "polar",
                               "--out", str(tmp_path / "run"), "--config", str(path)],
                              monkeypatch, capsys)
    assert code == 2
    assert message in error_line(stderr)
    assert not (tmp_path / "run").exists()


def test_bad_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                   capsys: pytest.CaptureFixture[str]) -> None:
    code, _, stderr = run_cli(["evaluate", "--catalog", str(tmp_path), "--predictor", "random",
                               "--form", "polar", "--out", str(tmp_path / "run")],
                              monkeypatch, capsys)
    assert code == 2 and "not a catalog directory" in error_line(stderr)
    code, _, stderr = run_cli(["score", str(tmp_path)], monkeypatch, capsys)
    assert code == 2 and "spec.json" in error_line(stderr)


def test_bad_eval_ids_file(bench: BenchData, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                           capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "ids.txt").write_text("12\nxyz\n")
    code, _, stderr = run_cli(["evaluate", "--catalog", str(bench.catalog), "--predictor",
                               "random", "--form", "polar", "--out", str(tmp_path / "run"),
                               "--eval-ids", str(tmp_path / "ids.txt")], monkeypatch, capsys)
    assert code == 2 and "not a person id: 'xyz'" in error_line(stderr)


def test_console_script_error_exit_code(bench: BenchData, tmp_path: Path) -> None:
    """The installed entry point, as a user runs it."""
    exe = Path(sys.executable).parent / "indievalue"
    cmd = [str(exe)] if exe.is_file() else [sys.executable, "-m", "indievalue.cli.main"]
    res = subprocess.run([*cmd, "evaluate", "--catalog", str(bench.catalog), "--predictor",
                          "nope", "--form", "polar", "--out", str(tmp_path / "run")],
                         capture_output=True, text=True, timeout=120, check=False)
    assert res.returncode == 2
    assert error_line(res.stderr).startswith("error: unknown predictor 'nope'")


def test_error_output_is_exactly_one_line(bench: BenchData, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    code, _, stderr = run_cli(["evaluate", "--catalog", str(bench.catalog), "--predictor", "nope",
                               "--form", "polar", "--out", str(tmp_path / "run")],
                              monkeypatch, capsys)
    assert code == 2
    assert stderr.count("\n") == 1 and stderr.startswith("error: unknown predictor")


def test_yaml_error_is_one_line(bench: BenchData, tmp_path: Path,
                                monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "cfg.yaml").write_text("predictor: [unclosed\n")
    code, _, stderr = run_cli(["evaluate", "--catalog", str(bench.catalog), "--form", "polar",
                               "--out", str(tmp_path / "run"), "--config",
                               str(tmp_path / "cfg.yaml")], monkeypatch, capsys)
    assert code == 2
    assert stderr.startswith("error: ") and stderr.count("\n") == 1
