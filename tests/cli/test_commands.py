"""The command tree: ``train data|model|value-model`` (old names hidden but working),
``predictors NAME``, a bad ``--catalog`` failing before any progress bar, and ``cli/`` as a
shell no library module imports."""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path

import pytest

import indievalue
from _bench_data import BenchData
from wvs_testdata import CliResult

Cli = Callable[..., CliResult]
SRC = Path(indievalue.__file__).resolve().parent


def one_error_line(r: CliResult) -> str:
    """Exit code 2 and stderr exactly one ``error:`` line: no traceback, no progress bar."""
    assert r.code == 2, (r.stdout, r.stderr)
    assert r.stderr.startswith("error: ") and r.stderr.count("\n") == 1, r.stderr
    return r.stderr


def test_no_library_module_imports_the_cli() -> None:
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC)
        if rel.parts[0] == "cli":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{rel}: {n}" for n in names
                          if n == "indievalue.cli" or n.startswith("indievalue.cli.")]
    assert offenders == []
    assert any(SRC.rglob("analyses/mainjob.py"))  # the walk sees the package


@pytest.mark.parametrize(
    "args",
    [
        ["evaluate", "--predictor", "random", "--out", "{tmp}/run"],
        ["analyze", "demos", "--predictor", "majority", "--out", "{tmp}/a"],
        ["analyze", "evenness", "--out", "{tmp}/e"],
        ["train", "data", "--units", "p2_p1_n2_probe", "--out", "{tmp}/d"],
        ["train", "value-model", "--out", "{tmp}/m"],
    ],
)
def test_bad_catalog_fails_first(tmp_path: Path, cli: Cli, args: list[str]) -> None:
    not_a_catalog = tmp_path / "nothing"
    not_a_catalog.mkdir()
    r = cli(*[a.format(tmp=tmp_path) for a in args], "--catalog", not_a_catalog)
    assert f"{not_a_catalog}: not a catalog directory" in one_error_line(r)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nothing"]  # nothing written


def test_run_setup_errors_come_before_the_bar(bench: BenchData, tmp_path: Path,
                                              cli: Cli) -> None:
    r = cli("evaluate", "--catalog", bench.catalog, "--predictor", "random",
            "--out", tmp_path / "run", "--eval-size", "2400")
    assert "smaller --eval-size" in one_error_line(r)


def test_train_group_lists_its_commands(cli: Cli) -> None:
    r = cli("train", "--help")
    assert r.code == 0
    for name in ("data", "model", "value-model"):
        assert name in r.stdout
    top = cli("--help")
    assert "train" in top.stdout
    assert "train-data" not in top.stdout and "train-value-model" not in top.stdout


def test_old_training_names_still_work(tmp_path: Path, cli: Cli) -> None:
    new, old = cli("train", "data", "--list-presets"), cli("train-data", "--list-presets")
    assert new.code == old.code == 0 and new.stdout == old.stdout
    # `train --data ...` (the first release's fine-tuning command) is `train model` now;
    # both fail alike on a directory that holds no training set.
    args = ["--data", tmp_path, "--base-model", tmp_path, "--out", tmp_path / "o"]
    legacy, current = cli("train", *args), cli("train", "model", *args)
    assert one_error_line(legacy) == one_error_line(current)
    incomplete = cli("train", "--data", tmp_path)
    assert "give --data, --base-model and --out" in one_error_line(incomplete)
    bare = cli("train")
    assert bare.code == 0 and "value-model" in bare.stdout


def test_predictors_name_shows_types_defaults_descriptions(cli: Cli) -> None:
    r = cli("predictors", "resemble")
    assert r.code == 0
    for text in ("top_k", "int", "24", "Neighbours voting", "visible", "sweep"):
        assert text in r.stdout
    lm = cli("predictors", "openai")
    assert lm.code == 0
    assert "model" in lm.stdout and "required" in lm.stdout
    listing = cli("predictors")
    assert listing.code == 0 and "model=required" in listing.stdout.replace("\n", "")
    for r in (lm, listing):
        assert "PydanticUndefined" not in r.stdout
    assert "unknown predictor 'nope'" in one_error_line(cli("predictors", "nope"))
