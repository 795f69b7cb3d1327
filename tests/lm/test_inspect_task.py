"""The Inspect task ``indievalue/indievalue`` and ``indievalue import inspect``.

- The task's samples are the episodes ``indievalue evaluate`` asks (same prompts, same gold),
  checked against a native run without running Inspect.
- Inspect runs the task through its OpenAI-compatible provider against the loopback stub; the
  log imports into a run directory whose records equal the native run's against the same stub.
- Through Inspect's mock model: the solver's retries, the scorer (indievalue's parser), its
  accuracy and parse-failure metrics, and that the import replays every attempt.
- Logs that are damaged, of another task, of edited prompts, or short of samples.
- Slow: the task against SmolLM2 behind the llama.cpp server, as a user runs it (``inspect
  eval`` on the command line), imported and compared with ``indievalue evaluate``.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from _lm_support import LMWorld, StubServer, check_run, lm_catalog, read_records, stub_answer

from indievalue.runs.config import EvalConfig
from indievalue.runs.evaluate import evaluate

pytest.importorskip("openai")
inspect_ai = pytest.importorskip("inspect_ai")

from inspect_ai import eval as inspect_eval  # noqa: E402
from inspect_ai.log import EvalLog, read_eval_log, write_eval_log  # noqa: E402
from inspect_ai.model import ModelOutput, ModelUsage, get_model  # noqa: E402

from indievalue.lm.inspect_task import ATTEMPTS_KEY, indievalue  # noqa: E402

TASK = "indievalue/indievalue"
# Inspect's own retry setup calls a deprecated tenacity parameter; not ours to fix.
pytestmark = pytest.mark.filterwarnings(
    "ignore:The 'initial' parameter is deprecated:DeprecationWarning")
N_RECORDS = 2 * 3 * 3  # two persons, three setups of three probes


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> LMWorld:
    return lm_catalog(tmp_path_factory)


def task_args(world: LMWorld, protocol: str, **more: Any) -> dict[str, Any]:
    return {"catalog": str(world.catalog), "protocol": protocol, "demos": 5,
            "eval_ids": str(world.ids_2), **more}


def native_run(world: LMWorld, out: Path, base_url: str, protocol: str) -> Path:
    options = {"model": "stub", "base_url": base_url, "cache": "off", "concurrency": 2,
               "max_attempts": 2, "backoff": 0.0}
    evaluate(world.catalog, EvalConfig(predictor="openai", protocol=protocol, demos=5,
                                       eval_ids_file=world.ids_2, predictor_options=options),
             out)
    return out


def run_inspect(task_args: dict[str, Any], log_dir: Path, **kwargs: Any) -> EvalLog:
    logs = inspect_eval(TASK, task_args=task_args, log_dir=str(log_dir), display="none",
                        **kwargs)
    assert len(logs) == 1 and logs[0].status == "success", logs[0].error
    return logs[0]


@pytest.fixture(scope="module")
def stub_runs(world: LMWorld, tmp_path_factory: pytest.TempPathFactory
              ) -> dict[str, Any]:
    """A native protocol B run and the Inspect log of the same evaluation, both against the
    loopback stub; and the prompt digests the stub answered for the native run."""
    root = tmp_path_factory.mktemp("inspect-stub")
    with StubServer() as stub:
        native = native_run(world, root / "native", stub.base_url, "B")
        native_prompts = set(stub.answered)
    with StubServer() as stub:
        os.environ["STUB_API_KEY"] = "not-needed"
        log = run_inspect(task_args(world, "B"), root / "logs",
                          model="openai-api/stub/stub", model_base_url=stub.base_url)
    return {"native": native, "native_prompts": native_prompts, "log": Path(log.location),
            "root": root}


def test_samples_are_the_episodes_evaluate_asks(world: LMWorld,
                                                stub_runs: dict[str, Any]) -> None:
    samples = list(indievalue(**task_args(world, "B")).dataset)
    assert len(samples) == N_RECORDS  # protocol B: one episode per probe
    digests = {hashlib.sha256(s.input[-1].text.encode()).hexdigest() for s in samples}
    assert digests == stub_runs["native_prompts"]  # the very prompts the native run sent
    gold = {(r["person_id"], r["setup"], r["episode"]): r for r in
            read_records(stub_runs["native"])}
    for s in samples:
        meta = s.metadata
        rec = gold[(meta["person_id"], meta["setup"], meta["episode"])]
        assert s.id == f"p{meta['person_id']}-s{meta['setup']}-e{meta['episode']}"
        assert meta["questions"] == [rec["question"]] and meta["protocol"] == "B"
        assert len(meta["options"][0]) == rec["n_options"]
        assert s.target == [f"Option {rec['gold'] + 1}"]
        assert f"Option 1: {meta['options'][0][0]}\n" in s.input[-1].text
    a_samples = list(indievalue(**task_args(world, "A")).dataset)
    assert len(a_samples) == 6
    assert [len(s.target) for s in a_samples] == [3] * 6
    assert all(t.startswith(f"NSG{j}_s") for s in a_samples for j, t in enumerate(s.target, 1))


def test_task_arguments_are_checked(world: LMWorld) -> None:
    from indievalue.errors import IndieValueError

    with pytest.raises(IndieValueError, match="demos"):
        indievalue(**task_args(world, "B", demos=500))
    with pytest.raises(IndieValueError, match="protocol"):
        indievalue(**task_args(world, "C"))
    # -T values as Inspect parses them: YAML booleans for on/off, text split at commas
    off = next(iter(indievalue(**task_args(world, "A", demographics=False)).dataset))
    on = next(iter(indievalue(**task_args(world, "A", demographics=True,
                                          system_prompt=["Be brief", " please."])).dataset))
    assert [(m.role, m.text) for m in on.input[:1]] == [("system", "Be brief, please.")]
    assert len(on.input[-1].text) > len(off.input[-1].text)  # demographic statements first


def test_inspect_log_imports_to_the_native_run(stub_runs: dict[str, Any], cli: Any) -> None:
    log = read_eval_log(str(stub_runs["log"]))
    assert log.eval.task == TASK and log.results is not None
    run = stub_runs["root"] / "imported"
    res = cli("import", "inspect", stub_runs["log"], "--out", run)
    assert res.code == 0, res.stderr
    assert f"answers: {N_RECORDS} of {N_RECORDS} episodes" in res.stdout
    native = stub_runs["native"]
    assert check_run(run, N_RECORDS) == check_run(native, N_RECORDS)
    metrics = log.results.scores[0].metrics
    summary = json.loads((run / "summary.json").read_text("utf-8"))
    assert metrics["accuracy"].value * 100 == pytest.approx(summary["overall"])
    assert metrics["parse_failures"].value == summary["parse_failures"]
    spec = json.loads((run / "spec.json").read_text("utf-8"))
    assert spec["label"] == "openai-api/stub/stub (inspect)"
    options = spec["spec"]["predictor_options"]
    assert (options["route"], options["model"]) == ("inspect", "openai-api/stub/stub")
    source = spec["provenance"]["source"]
    assert source["file"] == str(stub_runs["log"].resolve())
    assert source["inspect"]["eval_id"] == log.eval.eval_id
    assert source["inspect"]["task"] == TASK
    scored = cli("score", run, "--json")
    assert scored.code == 0 and json.loads(scored.stdout) == summary


def _mutated(log_path: Path, out: Path, change: Any) -> Path:
    log = read_eval_log(str(log_path))
    change(log)
    write_eval_log(log, str(out))
    return out


def test_logs_that_are_not_this_evaluation_are_refused(stub_runs: dict[str, Any],
                                                       tmp_path: Path, cli: Any) -> None:
    log_path: Path = stub_runs["log"]
    run = tmp_path / "run"

    def refused(path: Path, *why: str, out: Path = run) -> None:
        res = cli("import", "inspect", path, "--out", out)
        assert res.code == 2 and res.stderr.startswith("error: ") \
            and res.stderr.count("\n") == 1, res.stderr
        for text in why:
            assert text in res.stderr
        assert not run.exists()

    garbage = tmp_path / "garbage.eval"
    garbage.write_bytes(b"PK\x03\x04 not really a zip")
    refused(garbage, "not a readable Inspect eval log")
    truncated = tmp_path / "truncated.eval"
    truncated.write_bytes(log_path.read_bytes()[: log_path.stat().st_size // 2])
    refused(truncated, "not a readable Inspect eval log")

    def rename(log: EvalLog) -> None:
        log.eval.task = "other/task"

    refused(_mutated(log_path, tmp_path / "other.eval", rename), "a log of the task 'other/task'")

    def edit_prompt(log: EvalLog) -> None:
        assert log.samples
        log.samples[3].input[-1].content += " (edited)"  # type: ignore[union-attr]

    refused(_mutated(log_path, tmp_path / "edited.eval", edit_prompt), "the prompt of sample",
            "differs")

    def drop_plan(log: EvalLog) -> None:
        log.eval.metadata = {}

    refused(_mutated(log_path, tmp_path / "noplan.eval", drop_plan), "not an indievalue LM plan")
    # a run directory that holds another run
    refused(log_path, "holds a different run", out=stub_runs["native"])


def test_missing_and_failed_samples_become_counted_errors(stub_runs: dict[str, Any],
                                                          tmp_path: Path, cli: Any) -> None:
    from inspect_ai.log import EvalError

    def cut(log: EvalLog) -> None:
        assert log.samples
        log.samples[2].error = EvalError(message="the provider failed", traceback="",
                                         traceback_ansi="")
        del log.samples[5]

    short = _mutated(stub_runs["log"], tmp_path / "short.eval", cut)
    run = tmp_path / "run"
    res = cli("import", "inspect", short, "--out", run)
    assert res.code == 0, res.stderr
    assert f"answers: {N_RECORDS - 2} of {N_RECORDS} episodes; not used: sample_error 1" \
        in res.stdout
    recs = read_records(run)
    assert len(recs) == N_RECORDS
    native = {(r["person_id"], r["setup"], r["episode"]): r
              for r in read_records(stub_runs["native"])}
    errors = [r for r in recs if r["status"] == "error"]
    assert len(errors) == 2 and all(r["prediction"] == -1 for r in errors)
    assert all(r == native[(r["person_id"], r["setup"], r["episode"])]
               for r in recs if r["status"] != "error")
    summary = json.loads((run / "summary.json").read_text("utf-8"))
    assert summary["errors"] == 2 and summary["complete"] is True


def test_retries_scorer_and_metrics_through_the_mock_model(world: LMWorld, tmp_path: Path,
                                                           cli: Any) -> None:
    """A model that never answers readably at temperature 0 and, at the retry temperature,
    answers some episodes (chosen by the prompt) and mumbles on others."""
    asked: list[tuple[float | None, int | None]] = []

    def answer(input: list[Any], tools: Any, tool_choice: Any, config: Any) -> ModelOutput:
        prompt = input[-1].text
        asked.append((config.temperature, config.seed))
        readable = config.temperature == 0.6 and hashlib.sha256(
            f"{config.seed}{prompt}".encode()).digest()[0] % 2 == 0
        text = stub_answer(prompt) if readable else "Hmm, hard to say."
        out = ModelOutput.from_content(model="mockllm", content=text)
        # usage given: the mock model would otherwise count tokens with a downloaded encoding
        out.usage = ModelUsage(input_tokens=len(prompt.split()),
                               output_tokens=len(text.split()))
        return out

    model = get_model("mockllm/model", custom_outputs=answer)
    log = run_inspect(task_args(world, "B", retries=2), tmp_path / "logs", model=model)
    assert log.samples and log.results
    assert {a for a in asked} <= {(0.0, 0), (0.6, 1), (0.6, 2)}
    unreadable = 0
    for s in log.samples:
        attempts = s.store[ATTEMPTS_KEY]
        assert [a["params"]["seed"] for a in attempts] == list(range(len(attempts)))
        assert [a["params"]["temperature"] for a in attempts] == \
            [0.0, 0.6, 0.6][: len(attempts)]
        assert attempts[0]["text"] == "Hmm, hard to say."
        done = attempts[-1]["text"] != "Hmm, hard to say."
        assert len(attempts) == 3 or done  # resampled until readable or out of attempts
        unreadable += not done
        score = s.scores["probe_accuracy"]  # type: ignore[index]
        assert score.metadata["parse_failures"] == (0 if done else 1)
        assert s.output.completion == attempts[-1]["text"]
    assert 0 < unreadable < len(log.samples)
    metrics = log.results.scores[0].metrics
    assert metrics["parse_failures"].value == unreadable

    run = tmp_path / "run"
    res = cli("import", "inspect", log.location, "--out", run)
    assert res.code == 0, res.stderr
    recs = check_run(run, N_RECORDS)
    by_id = {s.id: s for s in log.samples}
    for r in recs:
        s = by_id[f"p{r['person_id']}-s{r['setup']}-e{r['episode']}"]
        assert r["attempts"] == len(s.store[ATTEMPTS_KEY])
        assert r["response"] == s.output.completion
    summary = json.loads((run / "summary.json").read_text("utf-8"))
    assert summary["parse_failures"] == unreadable
    assert metrics["accuracy"].value * 100 == pytest.approx(summary["overall"])
    stats = json.loads((run / "lm_stats.json").read_text("utf-8"))
    assert stats["retries"] == sum(len(s.store[ATTEMPTS_KEY]) - 1 for s in log.samples)


def _inspect_command() -> list[str]:
    here = Path(sys.executable).parent / "inspect"
    return [str(here)] if here.exists() else ["inspect"]


@pytest.mark.slow
def test_inspect_task_against_llama_cpp_server(world: LMWorld, llama_server: str,
                                               tmp_path: Path, cli: Any) -> None:
    """``inspect eval indievalue/indievalue`` on the command line with Inspect's
    OpenAI-compatible provider and SmolLM2 behind the llama.cpp server; the log imports into
    a run equal to ``indievalue evaluate --predictor openai`` against the same server."""
    from llama_server_support import MODEL_ALIAS

    env = {**os.environ, "LLAMA_BASE_URL": llama_server, "LLAMA_API_KEY": "not-needed"}
    logs = tmp_path / "logs"
    cmd = [*_inspect_command(), "eval", TASK, "--model", f"openai-api/llama/{MODEL_ALIAS}",
           "-T", f"catalog={world.catalog}", "-T", "protocol=B", "-T", "form=polar",
           "-T", "demos=5", "-T", f"eval_ids={world.ids_1}", "-T", "max_new_tokens=12",
           "-T", "retries=1", "--log-dir", str(logs), "--display", "none"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    (log_file,) = logs.glob("*.eval")
    run = tmp_path / "inspect-run"
    res = cli("import", "inspect", log_file, "--out", run)
    assert res.code == 0, res.stderr
    native = tmp_path / "native"
    res = cli("evaluate", "--catalog", world.catalog, "--form", "polar", "--out", native,
              "--protocol", "B", "--demos", "5", "--eval-ids", world.ids_1,
              "--predictor", "openai", "--option", f"base_url={llama_server}",
              "--option", f"model={MODEL_ALIAS}", "--option", "max_new_tokens=12",
              "--option", "retries=1", "--option", "cache=off", "--option", "timeout=300")
    assert res.code == 0, res.stderr
    recs = check_run(run, 9)
    assert recs == check_run(native, 9)
    assert any(r["response"] for r in recs)  # the model said something
    stats = [json.loads((d / "lm_stats.json").read_text()) for d in (run, native)]
    assert stats[0]["retries"] == stats[1]["retries"]  # resampled alike (retries=1, seeded)
    report = tmp_path / "report"
    res = cli("report", native, run, "--out", report)
    assert res.code == 0, res.stderr
    assert f"openai-api/llama/{MODEL_ALIAS} (inspect)" in (report / "report.md").read_text()
