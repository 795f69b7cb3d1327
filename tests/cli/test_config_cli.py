"""One evaluation configuration: ``--config FILE`` holds any setting, flags given on the command
line win, flags not given leave the file alone; ``analyze`` builds the same configuration."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import ValidationError

from _bench_data import BenchData
from indievalue.errors import IndieValueError
from indievalue.runs.config import EvalConfig, EvalSettings, make_config
from indievalue.runs.spec import RunSpec
from wvs_testdata import CliResult

Cli = Callable[..., CliResult]

FULL = """\
predictor: resemble
options: {top_k: 3, sweep: 0}
protocol: B
demos: 25
form: refined
seed: 4
eval_size: 20
"""


def spec_of(run: Path) -> dict[str, object]:
    return json.loads((run / "spec.json").read_text())["spec"]


def test_config_file_alone_sets_every_setting(bench: BenchData, tmp_path: Path, cli: Cli) -> None:
    (tmp_path / "run.yaml").write_text(FULL)
    r = cli("evaluate", "--catalog", bench.catalog, "--out", tmp_path / "run",
                       "--config", tmp_path / "run.yaml")
    assert r.code == 0, r.stderr
    spec = spec_of(tmp_path / "run")
    assert spec["predictor"] == "resemble"
    assert spec["predictor_options"] == {"top_k": 3, "pool": "all", "context": "visible",
                                         "sweep": 0}
    assert (spec["protocol"], spec["demos"], spec["seed"], spec["n_persons"]) == ("B", 25, 4, 20)
    assert spec["demo_form"] == spec["probe_form"] == "refined"


def test_flags_given_win_and_flags_not_given_leave_the_file(bench: BenchData, tmp_path: Path,
                                                           cli: Cli) -> None:
    (tmp_path / "run.yaml").write_text(FULL)
    r = cli("evaluate", "--catalog", bench.catalog, "--out", tmp_path / "run", "--config",
            tmp_path / "run.yaml", "--demos", "10", "--form", "polar", "--probe-form", "refined",
            "--option", "top_k=5", "--predictor", "resemble")
    assert r.code == 0, r.stderr
    spec = spec_of(tmp_path / "run")
    assert spec["demos"] == 10  # flag
    assert spec["protocol"] == "B" and spec["seed"] == 4 and spec["n_persons"] == 20  # file
    assert spec["demo_form"] == "polar" and spec["probe_form"] == "refined"
    assert spec["predictor_options"]["top_k"] == 5 and spec["predictor_options"]["sweep"] == 0


def test_make_config_layers() -> None:
    cfg = make_config({"predictor": "random", "form": "refined", "demo_form": "polar",
                       "seed": None, "demos": None})
    assert cfg == EvalConfig(predictor="random", demo_form="polar", probe_form="refined")
    assert cfg.demos == 200 and cfg.seed == 0  # None = not given: the defaults stand


def test_make_config_file_and_flags(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("predictor: majority\nform: refined\nprobe_form: polar\n"
                    "options: {a: 1, b: 2}\neval_ids_file: ids.txt\ndemographics: on\n")
    cfg = make_config({"predictor_options": {"b": 3}, "seed": 9}, path)
    assert (cfg.demo_form, cfg.probe_form) == ("refined", "polar")
    assert cfg.predictor_options == {"a": 1, "b": 3}
    assert cfg.seed == 9 and cfg.eval_ids_file == Path("ids.txt")
    assert cfg.demographics == "on"  # YAML's boolean `on`, read as the setting means it


@pytest.mark.parametrize(
    ("flags", "text", "message"),
    [
        ({}, "options: {}\n", "give --predictor"),
        ({"demos": 500}, "predictor: random\n", "--demos: Input should be less than or equal"),
        ({}, "predictor: random\neval_size: 0\n", "c.yaml: eval_size: Input should be"),
        ({}, "predictor: random\nform: spherical\n", "c.yaml: demo_form:"),
        ({}, "predictor: random\noptions: 3\n", "options: expected a mapping"),
    ],
)
def test_make_config_errors_are_one_line(tmp_path: Path, flags: dict[str, object], text: str,
                                         message: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(IndieValueError, match=message.replace("(", r"\(")) as info:
        make_config(flags, path)
    assert "\n" not in str(info.value)


def test_one_declaration_of_the_settings() -> None:
    """A setting is declared once, on EvalSettings; the config and the run spec get it."""
    settings = set(EvalSettings.model_fields)
    assert settings <= set(EvalConfig.model_fields)
    assert settings <= set(RunSpec.model_fields)
    assert set(EvalConfig.model_fields) - settings == {"eval_size", "eval_ids_file"}
    for model in (EvalConfig, RunSpec):
        for name, f in model.model_fields.items():
            assert f.description, f"{model.__name__}.{name} has no description"
    cfg = EvalConfig(predictor="random")
    with pytest.raises(ValidationError, match="frozen"):
        cfg.demos = 3  # type: ignore[misc]
    assert cfg.replace(demos=3).demos == 3
    with pytest.raises(ValidationError):
        cfg.replace(demos=-1)


def test_analyze_takes_the_config_file(bench: BenchData, tmp_path: Path, cli: Cli) -> None:
    (tmp_path / "a.yaml").write_text("predictor: majority\nform: refined\nseed: 1\n"
                                     "eval_size: 20\ndemos: 30\n")
    r = cli("analyze", "continents", "--catalog", bench.catalog, "--out", tmp_path / "out",
            "--config", tmp_path / "a.yaml")
    assert r.code == 0, r.stderr
    spec = spec_of(next((tmp_path / "out" / "runs").iterdir()))
    assert spec["predictor"] == "majority" and spec["probe_form"] == "refined"
    assert (spec["seed"], spec["demos"], spec["n_persons"]) == (1, 30, 20)


def test_analyze_refuses_what_it_varies(bench: BenchData, tmp_path: Path, cli: Cli) -> None:
    (tmp_path / "a.yaml").write_text("predictor: majority\ndemographics: on\n")
    r = cli("analyze", "demos", "--catalog", bench.catalog, "--out", tmp_path / "out",
            "--config", tmp_path / "a.yaml")
    assert r.code == 2
    assert r.stderr.startswith("error: ") and r.stderr.count("\n") == 1
    assert "analyze demos does not take demographics" in r.stderr
    assert not (tmp_path / "out").exists()
