"""The ``openai`` predictor against a loopback stub: fault classification and backoff, a run
that survives injected faults (each one counted) with records identical to a fault-free run,
and errors that retrying cannot fix stopping the run with one line."""

from __future__ import annotations

import json
import socket
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from _lm_support import (
    FAULT_KINDS,
    LMWorld,
    StubServer,
    check_run,
    every_nth_fault,
    lm_catalog,
    stub_answer,
)

from indievalue.errors import IndieValueError
from indievalue.lm.backends import openai_http
from indievalue.lm.backends.base import GenParams
from indievalue.lm.backends.openai_http import OpenAIBackend
from indievalue.runs.config import EvalConfig
from indievalue.runs.evaluate import evaluate

openai = pytest.importorskip("openai")

MESSAGES = [{"role": "user", "content": "Pick.\nOption 1: yes\nOption 2: no\n"}]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> LMWorld:
    return lm_catalog(tmp_path_factory)


def _raised(backend: OpenAIBackend) -> Exception:
    """The exception the real client raises for one request (its own retries are off)."""
    try:
        backend._load().chat.completions.create(model="m", messages=MESSAGES, max_tokens=4)
    except Exception as exc:
        return exc
    raise AssertionError("the request did not fail")


def _answering(code: int) -> Exception:
    """What the client raises when the endpoint answers with HTTP ``code``."""
    with StubServer(lambda n, p: f"http_{code}") as stub:
        stub.status_codes[f"http_{code}"] = code
        return _raised(OpenAIBackend("m", stub.base_url, timeout=5.0))


@pytest.mark.parametrize(("code", "cls", "kind"), [
    (429, "RateLimitError", "rate_limit"),
    (500, "InternalServerError", "server_error"),
    (502, "APIStatusError", "server_error"),
    (503, "InternalServerError", "server_error"),
    (400, "BadRequestError", None),
    (401, "AuthenticationError", None),
    (404, "NotFoundError", None),
])
def test_classification_of_http_status(code: int, cls: str, kind: str | None) -> None:
    """Exceptions as the installed client raises them for real responses (no hand-made
    request objects: the client's HTTP library changed between major versions)."""
    exc = _answering(code)
    assert isinstance(exc, getattr(openai, cls)), type(exc)
    assert exc.status_code == code  # type: ignore[attr-defined]
    assert OpenAIBackend("m", None)._classify(exc) == kind


def test_classification_of_transport_faults() -> None:
    backend = OpenAIBackend("m", None)
    with StubServer(lambda n, p: "timeout", hang_s=3.0) as stub:
        timeout = _raised(OpenAIBackend("m", stub.base_url, timeout=0.5))
    assert isinstance(timeout, openai.APITimeoutError), type(timeout)
    assert backend._classify(timeout) == "timeout"
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    refused = _raised(OpenAIBackend("m", f"http://127.0.0.1:{port}/v1", timeout=5.0))
    assert isinstance(refused, openai.APIConnectionError), type(refused)
    assert backend._classify(refused) == "connection"
    with StubServer(lambda n, p: "bad_response") as stub:
        garbled = _raised(OpenAIBackend("m", stub.base_url, timeout=5.0))
    assert backend._classify(garbled) == "bad_response", type(garbled)
    for exc, kind in [(ValueError("response without text"), "bad_response"),
                      (KeyError("choices"), "bad_response"),
                      (RuntimeError("a bug"), None)]:
        assert backend._classify(exc) == kind, exc


def test_backoff_doubles_with_jitter_and_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    delays: list[float] = []
    monkeypatch.setattr(openai_http.time, "sleep", delays.append)
    with StubServer(lambda n, p: "server_error") as stub:
        backend = OpenAIBackend("m", stub.base_url, max_attempts=9, backoff=1.0,
                                max_backoff=20.0, timeout=5.0, concurrency=1)
        with pytest.raises(IndieValueError, match="giving up after 9 attempts"):
            backend.generate([MESSAGES], GenParams())
        assert stub.requests == 9
    assert backend.stats.faults == {"server_error": 9}
    assert backend.stats.requests == 0
    assert len(delays) == 8  # a wait between attempts, none after the last
    for attempt, d in enumerate(delays):
        base = min(20.0, 2.0**attempt)
        assert 0.5 * base <= d < 1.5 * base, (attempt, d)
    assert len(set(delays)) == len(delays)  # jittered


@pytest.mark.parametrize("code", [400, 401, 404])
def test_unretryable_errors_stop_at_once(code: int) -> None:
    def fault(n: int, prompt: str) -> str:
        return f"http_{code}"

    with StubServer(fault) as stub:
        stub.status_codes[f"http_{code}"] = code
        backend = OpenAIBackend("m", stub.base_url, backoff=0.01, timeout=5.0)
        with pytest.raises(IndieValueError, match=f"refused the request \\(HTTP {code}\\)"):
            backend.generate([MESSAGES], GenParams())
        assert stub.requests == 1


def test_each_fault_kind_is_survived_and_counted() -> None:
    script = iter(["bad_response", "rate_limit", "server_error", "timeout", None])
    with StubServer(lambda n, p: next(script), hang_s=5.0) as stub:
        backend = OpenAIBackend("m", stub.base_url, timeout=1.0, backoff=0.01)
        (comp,) = backend.generate([MESSAGES], GenParams(max_new_tokens=8))
        assert stub.requests == 5
    assert comp.text == stub_answer(MESSAGES[0]["content"])
    assert backend.stats.faults == {k: 1 for k in FAULT_KINDS}
    assert backend.stats.requests == 1


def _run(world: LMWorld, out: Path, stub: StubServer, protocol: str, cache: str) -> Any:
    options = {"base_url": stub.base_url, "model": "stub-model", "timeout": 1.0,
               "backoff": 0.01, "max_attempts": 8, "concurrency": 4, "batch_size": 6,
               "max_new_tokens": 16, "cache": cache}
    config = EvalConfig(predictor="openai", predictor_options=options,
                        protocol=protocol, demos=5, eval_ids_file=world.ids_2)  # type: ignore[arg-type]
    return evaluate(world.catalog, config, out)


@pytest.mark.parametrize("protocol", ["B", "A"])
def test_run_survives_injected_faults(world: LMWorld, tmp_path: Path, protocol: str) -> None:
    """~30% of requests fail (429, 500, a hang past the client timeout, a 200 with a body
    that is not JSON); the run completes, every fault is counted by kind, and the records
    are byte-identical to a fault-free run's."""
    n_records = 18  # 2 persons x 3 setups x 3 probes
    with StubServer() as clean:
        _run(world, tmp_path / "clean", clean, protocol, "off")
    with StubServer(every_nth_fault(), hang_s=3.0) as faulty:
        summary = _run(world, tmp_path / "faulty", faulty, protocol, "off")
        injected = dict(faulty.injected)
        total = faulty.requests
    clean_recs = check_run(tmp_path / "clean", n_records)
    check_run(tmp_path / "faulty", n_records)
    assert (tmp_path / "faulty" / "records.jsonl").read_bytes() == \
        (tmp_path / "clean" / "records.jsonl").read_bytes()
    n_faults = sum(injected.values())
    if protocol == "B":  # 18 episodes: enough requests for every kind of fault
        assert set(injected) == set(FAULT_KINDS)
        assert 0.2 <= n_faults / total <= 0.4
    else:  # 6 episodes (~9 requests): the first three kinds
        assert set(injected) == set(FAULT_KINDS[:3])
    stats = json.loads((tmp_path / "faulty" / "lm_stats.json").read_text())
    assert stats["faults"] == injected
    assert summary["lm"]["faults"] == injected
    episodes = 18 if protocol == "B" else 6
    assert stats["requests"] == episodes == total - n_faults
    assert json.loads((tmp_path / "clean" / "lm_stats.json").read_text())["faults"] == {}
    # the stub's answers went through the parser into the records
    assert all(r["status"] == "ok" for r in clean_recs)
    assert Counter(r["prediction"] for r in clean_recs).keys() <= {0, 1}
