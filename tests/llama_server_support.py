"""SmolLM2-135M-Instruct served by llama-cpp-python's OpenAI-compatible server
(``python -m llama_cpp.server``), for every test that drives the ``openai`` predictor against a
real endpoint: the LM tests, the predictor conformance suite (both through the session fixture
``llama_server`` in ``tests/conftest.py``) and the no-network tests (which start it inside a
network namespace through :func:`serve`, from a driver script run there).

A plain helper module: it imports neither pytest nor indievalue, so a script outside pytest
can use it. The GGUF comes from ``tests/smollm2_support.py``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

MODEL_ALIAS = "smollm2"
SERVER_MODULES = ("llama_cpp", "uvicorn", "sse_starlette", "starlette_context")
READY_TIMEOUT_S = 180.0  # loading is ~2 s; the shared CI machine can be very slow
# No proxy for the readiness probe: the server is on loopback, whatever *_proxy says.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class ServerFailed(RuntimeError):
    """The server exited or never answered; the message ends with its log."""


def missing_server_module() -> str | None:
    """The first module of ``llama-cpp-python[server]`` that is not installed, or None."""
    return next((m for m in SERVER_MODULES if importlib.util.find_spec(m) is None), None)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_command(gguf: Path, port: int) -> list[str]:
    """The server's command line: greedy-reproducible (fixed seed) and on one thread. On a
    loaded 2-core machine llama.cpp's two batch threads spin against other jobs (a 340-token
    request took 14-20 s with two threads and 0.4 s with one)."""
    return [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf),
            "--model_alias", MODEL_ALIAS, "--host", "127.0.0.1", "--port", str(port),
            "--n_ctx", "4096", "--seed", "0", "--n_threads", "1", "--n_threads_batch", "1"]


def _log_tail(path: Path) -> str:
    return path.read_text(errors="replace")[-2000:]


def wait_ready(proc: subprocess.Popen[bytes], base_url: str, log_path: Path,
               timeout_s: float = READY_TIMEOUT_S) -> None:
    """Poll ``GET /models`` until the server lists the model; :class:`ServerFailed` when it
    exits or stays silent past ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        if proc.poll() is not None:
            raise ServerFailed(f"llama_cpp.server exited: {_log_tail(log_path)}")
        try:
            with _DIRECT.open(f"{base_url}/models", timeout=2) as resp:
                models = json.loads(resp.read())
            break
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            raise ServerFailed(f"llama_cpp.server not ready after {timeout_s:.0f} s: "
                               f"{_log_tail(log_path)}")
        time.sleep(0.5)
    served = [m["id"] for m in models["data"]]
    if served != [MODEL_ALIAS]:
        raise ServerFailed(f"llama_cpp.server serves {served}, expected [{MODEL_ALIAS!r}]")


@contextlib.contextmanager
def serve(gguf: Path, log_path: Path) -> Iterator[str]:
    """Run the server on a free loopback port while the block runs; yields its base URL
    (``http://127.0.0.1:PORT/v1``). The server's output goes to ``log_path``."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}/v1"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(server_command(gguf, port), stdout=log,
                                stderr=subprocess.STDOUT)
        try:
            wait_ready(proc, base_url, log_path)
            yield base_url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
