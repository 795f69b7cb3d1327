"""Shared pieces of the language-model tests: a plain helper module the test files import
(like ``tests/_bench_data.py``), so no second ``conftest`` module name is needed.

- The model itself (SmolLM2-135M-Instruct) comes from ``tests/smollm2_support.py``.
- :func:`lm_catalog` builds a small catalog whose spec keeps one category (Security: 21
  questions, 2 polar or 2-4 refined options, short lower-case statements), so a setup has 3
  probes: protocol B is 9 episodes per person and protocol A 3. Real models stay cheap while
  the whole evaluate path runs.
- :class:`StubServer` is a loopback OpenAI-compatible chat endpoint that answers from the prompt
  deterministically and injects faults on request.
- :func:`run_cli` runs the installed ``indievalue`` console script as a subprocess.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import re
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from indievalue.catalog.build import build_catalog
from indievalue.catalog.spec import StatementSpec
from indievalue.catalog.spec_io import builtin_spec
from indievalue.catalog.store import Catalog
from wvs_testdata import indievalue_command, make_wvs_frame, write_wvs

LM_CATEGORY = "SE"  # Security: 21 questions, 2 polar / 2-4 refined options, lower-case statements
RECORD_FIELDS = ["person_id", "setup", "episode", "question", "category", "n_options", "gold",
                 "prediction", "probs", "status"]

_CACHE: dict[str, Any] = {}


# -- a small catalog ------------------------------------------------------------------------------
def small_spec() -> StatementSpec:
    """The built-in spec restricted to one category (3 probes per setup)."""
    spec = builtin_spec()
    return dataclasses.replace(
        spec, version=f"{spec.version}+lm-tests",
        categories=tuple(c for c in spec.categories if c.key == LM_CATEGORY),
        questions=tuple(q for q in spec.questions if q.category == LM_CATEGORY),
        _index={})


@dataclasses.dataclass(frozen=True)
class LMWorld:
    catalog: Path
    ids_1: Path  # eval-ids file with one person
    ids_2: Path  # eval-ids file with two persons


def lm_catalog(factory: pytest.TempPathFactory) -> LMWorld:
    """A 60-person synthetic catalog on :func:`small_spec` and eval-ids files of persons
    valid on every question (built once per session)."""
    if "world" not in _CACHE:
        root = factory.mktemp("lm-world")
        csv = write_wvs(make_wvs_frame(60, seed=11, missing_rate=0.02), root / "wvs.csv")
        build_catalog(csv, root / "catalog", spec=small_spec())
        cat = Catalog.load(root / "catalog")
        full = cat.person_ids[(cat.polar >= 0).all(axis=1)]
        ids_1, ids_2 = root / "ids-1.txt", root / "ids-2.txt"
        ids_1.write_text(f"{int(full[0])}\n")
        ids_2.write_text(f"{int(full[1])}\n{int(full[2])}\n")
        _CACHE["world"] = LMWorld(root / "catalog", ids_1, ids_2)
    return _CACHE["world"]  # type: ignore[no-any-return]


# -- run directories -------------------------------------------------------------------------
def read_records(run: Path) -> list[dict[str, Any]]:
    return [json.loads(ln) for ln in (run / "records.jsonl").read_text("utf-8").splitlines()]


def check_run(run: Path, n_records: int) -> list[dict[str, Any]]:
    """Records have the baseline schema, nothing is duplicated, and ``score_run`` reproduces
    ``summary.json`` (without calling any model). Returns the records."""
    from indievalue.runs.summary import score_run

    recs = read_records(run)
    assert len(recs) == n_records
    for r in recs:
        assert list(r)[: len(RECORD_FIELDS)] == RECORD_FIELDS, r
        assert 0 <= r["gold"] < r["n_options"]
        assert r["status"] in ("ok", "parse_failure")
        if r["status"] == "ok":
            assert 0 <= r["prediction"] < r["n_options"]
        else:
            assert r["prediction"] == -1
    keys = [(r["person_id"], r["setup"], r["question"]) for r in recs]
    assert len(set(keys)) == len(keys), "duplicate (person_id, setup, question) records"
    written = json.loads((run / "summary.json").read_text("utf-8"))
    again = score_run(run)
    assert json.loads(json.dumps(again)) == written
    assert written["complete"] is True
    assert written["n_records"] == n_records
    assert written["parse_failures"] == sum(r["status"] == "parse_failure" for r in recs)
    return recs


# -- subprocesses ----------------------------------------------------------------------------------
def run_cli(args: list[str | Path], timeout: float = 600,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``indievalue ARGS`` as a subprocess (a separate interpreter, as a user runs it)."""
    cmd = [*indievalue_command(), *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "COLUMNS": "200", **(env or {})})


# -- an OpenAI-compatible stub with fault injection ------------------------------------------------
_OPTION_LINE = re.compile(r"^Option (\d+): (.*)$", re.M)
_NSG_OPTIONS = re.compile(r'"NSG(\d+)_s(\d+)"')
FAULT_KINDS = ("rate_limit", "server_error", "timeout", "bad_response")


def stub_answer(prompt: str) -> str:
    """A deterministic answer to a protocol A or B prompt (chosen by a hash of the prompt)."""
    digest = int(hashlib.sha256(prompt.encode("utf-8")).hexdigest(), 16)
    options = _OPTION_LINE.findall(prompt)
    if options:
        k, text = options[digest % len(options)]
        return f"Option {k}: {text}"
    n_opt: dict[int, int] = {}
    groups = prompt.rsplit("[New Groups of Statements]:", 1)[-1]  # not the format examples
    for g, s in _NSG_OPTIONS.findall(groups):
        n_opt[int(g)] = max(n_opt.get(int(g), 0), int(s))
    answer = {f"NSG{g}": {"rationale": "stub", "choice": f"NSG{g}_s{1 + (digest >> g) % n}"}
              for g, n in sorted(n_opt.items())}
    return json.dumps(answer)


class StubServer:
    """``POST /v1/chat/completions`` on 127.0.0.1 in a thread.

    ``fault(n, prompt)`` decides the fate of the n-th request (0-based, arrival order): None
    to answer, or one of :data:`FAULT_KINDS` — 429, 500, a hang of ``hang_s`` seconds (longer
    than the client's timeout), or a 200 whose body is not JSON. ``delay_s`` slows every
    answer. With ``gate_after`` set, requests after that many answers are held unanswered
    (``gated`` is set) until :meth:`release` — a quiet point at which to kill a client. Every
    request, every answer (per prompt) and every injected fault is counted.
    """

    def __init__(self, fault: Callable[[int, str], str | None] | None = None,
                 hang_s: float = 3.0, delay_s: float = 0.0):
        self.fault = fault or (lambda n, p: None)
        self.hang_s = hang_s
        self.delay_s = delay_s
        self.requests = 0
        self.answered: Counter[str] = Counter()  # prompt sha -> answers served
        self.injected: Counter[str] = Counter()
        # faults answered with an HTTP status (tests may add kinds, e.g. "http_400": 400)
        self.status_codes = {"rate_limit": 429, "server_error": 500}
        # after ``gate_after`` answers, further requests wait (unanswered) until release()
        self.gate_after: int | None = None
        self.gated = threading.Event()  # set once a request waits at the gate
        self._release = threading.Event()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def _send(self, code: int, body: bytes) -> None:
                with contextlib.suppress(OSError):  # a client that gave up (or was killed)
                    self.send_response(code)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                payload = json.loads(self.rfile.read(length))
                if not self.path.endswith("/chat/completions"):
                    self._send(404, b'{"error": {"message": "not found"}}')
                    return
                prompt = payload["messages"][-1]["content"]
                with stub._lock:
                    n = stub.requests
                    stub.requests += 1
                    kind = stub.fault(n, prompt)
                    if kind is not None:
                        stub.injected[kind] += 1
                if kind in stub.status_codes:
                    self._send(stub.status_codes[kind],
                               json.dumps({"error": {"message": kind}}).encode())
                elif kind == "timeout":
                    stub._stop.wait(stub.hang_s)
                    self._send(504, b'{"error": {"message": "too late"}}')
                elif kind == "bad_response":
                    self._send(200, b"<html>this is not json")
                else:
                    with stub._lock:
                        held = stub.gate_after is not None and \
                            sum(stub.answered.values()) >= stub.gate_after
                    if held:
                        stub.gated.set()
                        stub._release.wait(60)
                        self._send(503, b'{"error": {"message": "released"}}')
                        return
                    if stub.delay_s:
                        time.sleep(stub.delay_s)
                    text = stub_answer(prompt)
                    with stub._lock:
                        stub.answered[hashlib.sha256(prompt.encode()).hexdigest()] += 1
                    self._send(200, json.dumps({
                        "id": f"chatcmpl-{n}", "object": "chat.completion", "created": 0,
                        "model": payload.get("model", "stub"),
                        "choices": [{"index": 0, "finish_reason": "stop",
                                     "message": {"role": "assistant", "content": text}}],
                        "usage": {"prompt_tokens": len(prompt.split()),
                                  "completion_tokens": len(text.split()),
                                  "total_tokens": len(prompt.split()) + len(text.split())},
                    }).encode("utf-8"))

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = int(self.httpd.server_address[1])
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> StubServer:
        self._thread.start()
        return self

    def release(self) -> None:
        """Let requests held at the gate go (they get a 503 and count as unanswered)."""
        self.gate_after = None
        self._release.set()

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()  # release hanging handlers
        self._release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=10)


def every_nth_fault(period: int = 10) -> Callable[[int, str], str | None]:
    """A deterministic fault pattern: of every ``period`` requests, three fail, cycling
    through the kinds (so ~30% of requests fault and each kind appears)."""

    def fault(n: int, prompt: str) -> str | None:
        slot = n % period
        if slot in (1, 4, 7):
            return FAULT_KINDS[(n // period * 3 + (1, 4, 7).index(slot)) % len(FAULT_KINDS)]
        return None

    return fault
