"""The ``indievalue synth`` command and the cached default population."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from indievalue.cli import synth_cmd
from indievalue.errors import IndieValueError
from indievalue.synth.generate.default import default_population_path


def _app() -> typer.Typer:
    app = typer.Typer()
    synth_cmd.register(app)

    @app.callback()
    def _root() -> None:  # keep "synth" a sub-command
        pass

    return app


def test_synth_writes_file(tmp_path: Path) -> None:
    out = tmp_path / "s.csv"
    res = CliRunner().invoke(_app(), ["synth", "--persons", "40", "--seed", "3", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert out.read_text().splitlines()[1].startswith("SYNTHETIC")


def test_help_mentions_formats() -> None:
    res = CliRunner().invoke(_app(), ["synth", "--help"])
    assert res.exit_code == 0 and ".sav" in res.output


def test_bad_extension_is_one_line_error(tmp_path: Path) -> None:
    from indievalue.synth.generate.default import synth

    with pytest.raises(IndieValueError) as exc:
        synth(10, 0, tmp_path / "x.parquet")
    assert "\n" not in str(exc.value)


@pytest.mark.slow
def test_default_population_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("platformdirs.user_cache_dir", lambda name: str(tmp_path / name))
    path = default_population_path(seed=1)
    stamp = path.stat().st_mtime_ns
    assert path.is_file() and default_population_path(seed=1) == path
    assert path.stat().st_mtime_ns == stamp
