"""Batch API files: ``indievalue export batch`` writes the episodes as request lines and
``indievalue import batch`` reads a provider's result file back into a run directory.

Result files are made here the way a provider makes them: each request line's body is
answered (by the loopback stub's answer rule, or — slow — by SmolLM2 behind the llama.cpp
server) and written as a Batch API output line. The imported run must equal the run
``indievalue evaluate --predictor openai`` makes against the same endpoint.
"""

from __future__ import annotations

import json
import shutil
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from _lm_support import LMWorld, StubServer, check_run, lm_catalog, read_records, stub_answer

from indievalue.catalog.store import Catalog
from indievalue.lm.plan import PlanFile
from indievalue.runs.config import EvalConfig
from indievalue.runs.evaluate import evaluate

pytest.importorskip("openai")

SETTINGS = ["--form", "polar", "--demos", "5"]
# The options of a native run that asks what a batch asks: once, greedy.
NATIVE = {"temperature": 0.0, "retries": 0, "cache": "off", "concurrency": 2,
          "max_attempts": 2, "backoff": 0.0}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> LMWorld:
    return lm_catalog(tmp_path_factory)


def result_line(request: dict[str, Any], text: str, n: int) -> dict[str, Any]:
    """A Batch API output line answering ``request`` with ``text``."""
    body = {"id": f"chatcmpl-{n}", "object": "chat.completion", "created": 0,
            "model": request["body"]["model"],
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": 100, "completion_tokens": 7, "total_tokens": 107}}
    return {"id": f"batch_req_{n}", "custom_id": request["custom_id"],
            "response": {"status_code": 200, "request_id": f"req_{n}", "body": body},
            "error": None}


def write_results(requests: Path, out: Path, answer: Callable[[dict[str, Any]], str]) -> int:
    """Answer every request line of ``requests`` (``answer(body)``) into ``out``."""
    lines = [json.loads(ln) for ln in requests.read_text("utf-8").splitlines()]
    out.write_text("".join(json.dumps(result_line(r, answer(r["body"]), n)) + "\n"
                           for n, r in enumerate(lines)), encoding="utf-8")
    return len(lines)


def stub_text(body: dict[str, Any]) -> str:
    return stub_answer(body["messages"][-1]["content"])


def native_run(world: LMWorld, out: Path, base_url: str, protocol: str,
               **options: Any) -> Path:
    config = EvalConfig(predictor="openai", protocol=protocol, demos=5, eval_ids_file=world.ids_2,
                        predictor_options={"model": "stub", "base_url": base_url, **NATIVE,
                                           **options})
    evaluate(world.catalog, config, out)
    return out


@pytest.mark.parametrize("protocol", ["A", "B"])
def test_batch_round_trip_equals_the_native_run(world: LMWorld, tmp_path: Path, cli: Any,
                                                protocol: str) -> None:
    requests = tmp_path / "requests.jsonl"
    res = cli("export", "batch", "--catalog", world.catalog, "--out", requests, "--model",
              "stub", "--protocol", protocol, *SETTINGS, "--eval-ids", world.ids_2)
    assert res.code == 0, res.stderr
    lines = [json.loads(ln) for ln in requests.read_text("utf-8").splitlines()]
    n_episodes = 2 * 3 * (1 if protocol == "A" else 3)
    assert len(lines) == n_episodes
    plan = json.loads((tmp_path / "requests.plan.json").read_text("utf-8"))
    digest = PlanFile.model_validate(plan).digest
    ids = [int(x) for x in world.ids_2.read_text().split()]
    for line in lines:
        assert set(line) == {"custom_id", "method", "url", "body"}
        assert line["method"] == "POST" and line["url"] == "/v1/chat/completions"
        prefix, their_digest, person, setup, episode = line["custom_id"].split("-")
        assert (prefix, their_digest) == ("iv", digest)
        assert int(person[1:]) in ids and setup[0] == "s" and episode[0] == "e"
        body = line["body"]
        assert body["model"] == "stub" and body["temperature"] == 0.0
        assert body["max_tokens"] == (4096 if protocol == "A" else 64) and body["seed"] == 0
    assert len({ln["custom_id"] for ln in lines}) == n_episodes
    assert plan["eval_ids"] == ids and plan["settings"]["protocol"] == protocol

    results = tmp_path / "results.jsonl"
    write_results(requests, results, stub_text)
    run = tmp_path / "batch-run"
    res = cli("import", "batch", results, "--plan", tmp_path / "requests.plan.json", "--out", run)
    assert res.code == 0, res.stderr
    assert f"answers: {n_episodes} of {n_episodes} episodes" in res.stdout
    with StubServer() as stub:
        native = native_run(world, tmp_path / "native", stub.base_url, protocol)
    n_records = 2 * 3 * 3
    assert check_run(run, n_records) == check_run(native, n_records)
    spec = json.loads((run / "spec.json").read_text("utf-8"))
    assert spec["spec"]["predictor"] == "replay"
    assert spec["spec"]["predictor_options"]["route"] == "batch"
    assert spec["spec"]["predictor_options"]["source"] == str(results.resolve())
    assert spec["label"] == "stub (batch)"
    source = spec["provenance"]["source"]
    assert source["file"] == str(results.resolve()) and source["model"] == "stub"
    assert source["episodes"] == source["answered"] == n_episodes and source["unused"] == {}
    native_spec = json.loads((native / "spec.json").read_text("utf-8"))["spec"]
    differs = {k for k in native_spec if native_spec[k] != spec["spec"][k]}
    assert differs == {"predictor", "predictor_options"}
    stats = json.loads((run / "lm_stats.json").read_text("utf-8"))
    assert stats["requests"] == n_episodes and stats["tokens_in"] == 100 * n_episodes
    # importing again resumes: nothing to add, the same records
    again = cli("import", "batch", results, "--plan", tmp_path / "requests.plan.json",
                "--out", run)
    assert again.code == 0, again.stderr
    assert read_records(run) == read_records(native)


def test_unusable_result_lines_are_counted_and_their_episodes_are_errors(
        world: LMWorld, tmp_path: Path, cli: Any) -> None:
    requests = tmp_path / "requests.jsonl"
    assert cli("export", "batch", "--catalog", world.catalog, "--out", requests, "--model",
               "m", "--protocol", "B", *SETTINGS, "--eval-ids", world.ids_2).code == 0
    lines = [json.loads(ln) for ln in requests.read_text("utf-8").splitlines()]
    good = [result_line(r, stub_text(r["body"]), n) for n, r in enumerate(lines)]
    failed = {**good[1], "response": None,
              "error": {"code": "server_error", "message": "the model failed"}}
    status_500 = {**good[2], "response": {**good[2]["response"], "status_code": 500}}
    foreign = {**good[3], "custom_id": "iv-000000000000-p1-s0-e0"}
    other = {**good[4], "custom_id": "request-7"}
    no_text = json.loads(json.dumps(good[5]))
    no_text["response"]["body"]["choices"][0]["message"]["content"] = None
    text = "".join(json.dumps(x) + "\n" for x in [
        good[0], failed, status_500, foreign, other, no_text, *good[6:], good[0]])
    text += "{not json\n" + "[1, 2]\n"
    results = tmp_path / "results.jsonl"
    results.write_text(text, encoding="utf-8")
    run = tmp_path / "run"
    res = cli("import", "batch", results, "--plan", tmp_path / "requests.plan.json",
              "--out", run)
    assert res.code == 0, res.stderr
    n_episodes = len(lines)
    answered = n_episodes - 5  # failed, status 500, foreign, other id, no text
    assert f"answers: {answered} of {n_episodes} episodes" in res.stdout
    assert "duplicate 1, failed 2, foreign 2, malformed 3" in res.stdout
    assert "5 episodes without an answer are recorded with status error" in res.stdout
    recs = read_records(run)
    errors = [r for r in recs if r["status"] == "error"]
    missing_ids = {lines[i]["custom_id"].split("-", 2)[2] for i in (1, 2, 3, 4, 5)}
    assert {f"p{r['person_id']}-s{r['setup']}-e{r['episode']}" for r in errors} == missing_ids
    assert all(r["prediction"] == -1 and r["attempts"] == 0 for r in errors)
    summary = json.loads((run / "summary.json").read_text("utf-8"))
    assert summary["errors"] == 5 and summary["complete"] is True
    source = json.loads((run / "spec.json").read_text("utf-8"))["provenance"]["source"]
    assert source["unused"] == {"duplicate": 1, "failed": 2, "foreign": 2, "malformed": 3}
    after = len(lines) + 1  # the duplicate's line; the two bad lines follow it
    assert source["batch"]["unused_lines"]["malformed"] == [6, after + 1, after + 2]
    stats = json.loads((run / "lm_stats.json").read_text("utf-8"))
    assert stats["faults"] == {"no_recorded_answer": 5}


def test_results_of_nothing_usable_and_a_damaged_plan_are_refused(
        world: LMWorld, tmp_path: Path, cli: Any) -> None:
    requests = tmp_path / "requests.jsonl"
    assert cli("export", "batch", "--catalog", world.catalog, "--out", requests, "--model",
               "m", "--protocol", "A", *SETTINGS, "--eval-ids", world.ids_2).code == 0
    plan = tmp_path / "requests.plan.json"
    junk = tmp_path / "junk.jsonl"
    junk.write_text('{"custom_id": "iv-000000000000-p1-s0-e0", "response": {}}\nnope\n')
    run = tmp_path / "run"
    res = cli("import", "batch", junk, "--plan", plan, "--out", run)
    assert res.code == 2 and res.stderr.count("\n") == 1
    assert "no result of the export" in res.stderr and "foreign 1, malformed 1" in res.stderr
    assert not run.exists()
    bad_plan = tmp_path / "bad.plan.json"
    bad_plan.write_text(json.dumps({**json.loads(plan.read_text()), "eval_ids": "all"}))
    res = cli("import", "batch", junk, "--plan", bad_plan, "--out", run)
    assert res.code == 2 and "eval_ids" in res.stderr and res.stderr.count("\n") == 1
    res = cli("import", "batch", junk, "--plan", requests, "--out", run)
    assert res.code == 2 and res.stderr.count("\n") == 1  # a request file is not a plan
    # the catalog found at import time is another one (same files, another source hash)
    results = tmp_path / "results.jsonl"
    write_results(requests, results, stub_text)
    other = tmp_path / "other-catalog"
    shutil.copytree(world.catalog, other)
    manifest = json.loads((other / "manifest.json").read_text())
    (other / "manifest.json").write_text(json.dumps({**manifest, "source_sha256": "0" * 64}))
    res = cli("import", "batch", results, "--plan", plan, "--out", run, "--catalog", other)
    assert res.code == 2 and res.stderr.count("\n") == 1
    assert f"made on catalog {Catalog.load(world.catalog).content_hash}" in res.stderr
    assert not run.exists()
    # options a batch request cannot carry
    res = cli("export", "batch", "--catalog", world.catalog, "--out", tmp_path / "r2.jsonl",
              "--model", "m", "--option", "base_url=http://x", "--eval-ids", world.ids_2)
    assert res.code == 2 and "option base_url does not apply" in res.stderr
    assert not (tmp_path / "r2.jsonl").exists()


def _post(base_url: str, body: dict[str, Any]) -> str:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    req = urllib.request.Request(f"{base_url}/chat/completions", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with opener.open(req, timeout=300) as resp:
        return str(json.loads(resp.read())["choices"][0]["message"]["content"])


@pytest.mark.slow
def test_batch_round_trip_against_llama_cpp_server(world: LMWorld, llama_server: str,
                                                   tmp_path: Path, cli: Any) -> None:
    """Each request body answered by SmolLM2 behind the llama.cpp server: the imported run
    equals ``indievalue evaluate --predictor openai`` against the same server (temperature 0),
    and the report renders both."""
    from llama_server_support import MODEL_ALIAS

    requests = tmp_path / "requests.jsonl"
    res = cli("export", "batch", "--catalog", world.catalog, "--out", requests, "--model",
              MODEL_ALIAS, "--protocol", "B", *SETTINGS, "--eval-ids", world.ids_1,
              "--option", "max_new_tokens=12")
    assert res.code == 0, res.stderr
    results = tmp_path / "results.jsonl"
    assert write_results(requests, results, lambda body: _post(llama_server, body)) == 9
    run = tmp_path / "batch-run"
    res = cli("import", "batch", results, "--plan", tmp_path / "requests.plan.json",
              "--out", run)
    assert res.code == 0, res.stderr
    native = tmp_path / "native"
    res = cli("evaluate", "--catalog", world.catalog, "--out", native, "--protocol", "B",
              *SETTINGS, "--eval-ids", world.ids_1, "--predictor", "openai",
              "--option", f"base_url={llama_server}", "--option", f"model={MODEL_ALIAS}",
              "--option", "max_new_tokens=12", "--option", "retries=0",
              "--option", "cache=off", "--option", "timeout=300")
    assert res.code == 0, res.stderr
    assert check_run(run, 9) == check_run(native, 9)
    assert any(r["response"] for r in read_records(run))  # the model said something
    report = tmp_path / "report"
    res = cli("report", native, run, "--out", report)
    assert res.code == 0, res.stderr
    text = (report / "report.md").read_text("utf-8")
    assert f"{MODEL_ALIAS} (batch)" in text
