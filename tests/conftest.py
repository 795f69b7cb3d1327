"""Session fixtures shared by every test folder; the data helpers are in wvs_testdata.py."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest

from _bench_data import BenchData, bench_data
from indievalue.catalog.build import build_catalog
from indievalue.catalog.spec import StatementSpec
from indievalue.catalog.spec_io import builtin_spec
from wvs_testdata import (
    REFERENCE_DIR,
    CliResult,
    make_wvs_frame,
    write_wvs,
)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> Callable[..., CliResult]:
    """Run ``indievalue ARGS...`` in-process through the console-script entry point (so user
    errors go through the same ``error: ...`` / exit 2 path as the installed command)."""
    from indievalue.cli.main import main

    def run(*args: str | Path) -> CliResult:
        monkeypatch.setattr(sys, "argv", ["indievalue", *map(str, args)])
        capsys.readouterr()
        code = 0
        try:
            main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        out, err = capsys.readouterr()
        return CliResult(code, out, err)

    return run


@pytest.fixture(scope="session")
def bench(tmp_path_factory: pytest.TempPathFactory) -> BenchData:
    """The shared synthetic benchmark catalog of ``_bench_data.py`` (built once)."""
    return bench_data(tmp_path_factory)


@pytest.fixture(scope="session")
def spec() -> StatementSpec:
    return builtin_spec()


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """The reference implementation's JSONL metadata: ``$INDIEVALUE_REFERENCE_DIR``, else
    ``shared/reference/wvs7`` beside the checkout. Skips when absent (it is not shipped)."""
    if not (REFERENCE_DIR / "statements_meta_data.jsonl").is_file():
        pytest.skip(f"reference metadata not present at {REFERENCE_DIR}")
    return REFERENCE_DIR


@pytest.fixture(scope="session")
def small_frame() -> pd.DataFrame:
    """300 synthetic respondents (seed 0); do not mutate, take a ``.copy()``."""
    return make_wvs_frame(300, seed=0)


@pytest.fixture(scope="session")
def small_csv(tmp_path_factory: pytest.TempPathFactory, small_frame: pd.DataFrame) -> Path:
    return write_wvs(small_frame, tmp_path_factory.mktemp("wvs") / "wvs7_small.csv")


@pytest.fixture(scope="session")
def small_catalog(tmp_path_factory: pytest.TempPathFactory, small_csv: Path) -> Path:
    """A catalog built from ``small_csv`` with the built-in spec; read-only for tests."""
    out = tmp_path_factory.mktemp("catalog") / "small"
    build_catalog(small_csv, out)
    return out


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """SmolLM2 behind ``python -m llama_cpp.server`` on a loopback port, started once per
    session (``llama_server_support.py``); yields the base URL. Skips without the server extra
    or the model."""
    from llama_server_support import ServerFailed, missing_server_module, serve
    from smollm2_support import smollm2_gguf

    missing = missing_server_module()
    if missing is not None:
        pytest.skip(f"llama-cpp-python[server] is not installed (no {missing})")
    gguf = smollm2_gguf()
    with contextlib.ExitStack() as stack:
        try:
            base_url = stack.enter_context(
                serve(gguf, tmp_path_factory.mktemp("llama-server") / "server.log"))
        except ServerFailed as exc:
            pytest.fail(str(exc))
        yield base_url
