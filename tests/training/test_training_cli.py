"""``indievalue train-data`` and ``indievalue train`` on the command line."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from _training_catalog import EVAL_SIZE, training_catalog

from indievalue.training.presets import PRESETS


def test_list_presets(cli: Callable[..., Any]) -> None:
    r = cli("train-data", "--list-presets")
    assert r.code == 0
    for name in PRESETS:
        assert name in r.stdout
    assert "[probe=p+r, demo=mixed+200, N=1600]" in r.stdout  # not eaten as markup
    listed = json.loads(cli("train-data", "--list-presets", "--json").stdout)
    assert {p["name"] for p in listed} == set(PRESETS)


def test_train_data_writes_a_directory(cli: Callable[..., Any], tmp_path: Path,
                                       tmp_path_factory: pytest.TempPathFactory) -> None:
    cat = training_catalog(tmp_path_factory)
    out = tmp_path / "data"
    r = cli("train-data", "--catalog", cat, "--units", "p2_p1_n2_probe,demo_r1_n1_probe",
            "--out", out, "--eval-size", EVAL_SIZE, "--format", "jsonl", "--seed", 3)
    assert r.code == 0, r.stderr
    assert "324 examples (3 per question)" in r.stdout
    stats = json.loads((out / "stats.json").read_text())
    assert stats["examples"] == 324 == len((out / "train.jsonl").read_text().splitlines())
    assert not (out / "hf").exists()
    again = cli("train-data", "--catalog", cat, "--units", "p2_p1_n2_probe", "--out", out,
                "--eval-size", EVAL_SIZE)
    assert again.code == 2 and again.stderr.startswith("error:") and "overwrite" in again.stderr


@pytest.mark.parametrize("args,match", [
    (["--preset", "nope"], "unknown preset"),
    (["--units", "p2_x1_n2_full"], "not a unit name"),
    (["--preset", "pr-200-n800", "--units", "p2_p1_n2_full"], "exactly one"),
    ([], "exactly one"),
])
def test_train_data_user_errors(cli: Callable[..., Any], tmp_path: Path, args: list[str],
                                match: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    cat = training_catalog(tmp_path_factory)
    r = cli("train-data", "--catalog", cat, "--out", tmp_path / "d", *args)
    assert r.code == 2 and match in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "d").exists()


def test_train_data_needs_catalog_and_out(cli: Callable[..., Any]) -> None:
    r = cli("train-data", "--preset", "pr-200-n800")
    assert r.code == 2 and "--catalog" in r.stderr


def test_train_user_errors(cli: Callable[..., Any], tmp_path: Path) -> None:
    pytest.importorskip("trl")
    r = cli("train", "--data", tmp_path, "--base-model", tmp_path, "--out", tmp_path / "o")
    assert r.code == 2 and "config.json" in r.stderr
    (tmp_path / "config.json").write_text("{}")
    r = cli("train", "--data", tmp_path, "--base-model", tmp_path, "--out", tmp_path / "o")
    assert r.code == 2 and "not a training-data directory" in r.stderr
    r = cli("train", "--data", tmp_path, "--base-model", tmp_path, "--out", tmp_path / "o",
            "--set", "epochs=-1")
    assert r.code == 2 and "epochs" in r.stderr
    assert not (tmp_path / "o").exists()
