"""Kill ``indievalue evaluate`` (openai predictor, loopback stub) with SIGKILL mid-run and run
the same command again: the records equal an uninterrupted run's byte for byte, nothing is
duplicated, and no model call is repeated (answers received before the kill come from the
response cache)."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest
from _lm_support import LMWorld, StubServer, check_run, lm_catalog, read_records, run_cli

from wvs_testdata import indievalue_command

pytest.importorskip("openai")

N_EPISODES = 18  # 2 persons x 3 setups x 3 probes, protocol B: one record per episode
BATCH = 3  # episodes per predict call (records are written per batch)
GATE = 5  # answers before the stub holds requests: batch 1 recorded, 2 of batch 2 cached


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> LMWorld:
    return lm_catalog(tmp_path_factory)


def command(world: LMWorld, out: Path, stub: StubServer, cache: Path) -> list[str]:
    return ["evaluate", "--catalog", str(world.catalog), "--form", "polar", "--out", str(out),
            "--protocol", "B", "--demos", "5", "--eval-ids", str(world.ids_2),
            "--predictor", "openai", "--option", f"base_url={stub.base_url}",
            "--option", "model=stub-model", "--option", f"cache={cache}",
            "--option", "concurrency=1", "--option", f"batch_size={BATCH}",
            "--option", "max_new_tokens=16", "--option", "timeout=60"]


def line_count(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def test_sigkill_then_rerun(world: LMWorld, tmp_path: Path) -> None:
    ref, run = tmp_path / "ref", tmp_path / "run"
    with StubServer() as stub:
        done = run_cli(command(world, ref, stub, tmp_path / "ref-cache.sqlite"))
        assert done.returncode == 0, done.stderr[-2000:]
    with StubServer() as stub:
        stub.gate_after = GATE
        args = command(world, run, stub, tmp_path / "cache.sqlite")
        proc = subprocess.Popen([*indievalue_command(), *args], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        try:
            # wait (bounded) until the client waits on an unanswered request
            deadline = time.monotonic() + 300
            while not stub.gated.is_set():
                assert proc.poll() is None, proc.stderr.read().decode()[-2000:]  # type: ignore[union-attr]
                assert time.monotonic() < deadline, "the run never reached the gate"
                time.sleep(0.05)
            recorded = line_count(run / "records.jsonl")
            answered_before = sum(stub.answered.values())
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            assert proc.stderr is not None
            proc.stderr.close()
        assert proc.returncode == -signal.SIGKILL
        assert answered_before == GATE
        assert 0 < recorded < N_EPISODES and recorded == BATCH
        assert not (run / "summary.json").exists()  # it really died mid-run

        stub.release()
        again = run_cli(args)
        assert again.returncode == 0, again.stderr[-2000:]
        # every prompt was answered exactly once over both sessions
        assert sum(stub.answered.values()) == N_EPISODES
        assert len(stub.answered) == N_EPISODES and max(stub.answered.values()) == 1

    assert (run / "records.jsonl").read_bytes() == (ref / "records.jsonl").read_bytes()
    recs = check_run(run, N_EPISODES)
    assert recs == read_records(ref)
    stats = json.loads((run / "lm_stats.json").read_text())
    # the two answers received after the last write came back from the cache
    assert stats["cache_hits"] == answered_before - recorded == 2
    ref_stats = json.loads((ref / "lm_stats.json").read_text())
    assert ref_stats["cache_hits"] == 0 and ref_stats["requests"] == N_EPISODES
    ref_summary = json.loads((ref / "summary.json").read_text())
    summary = json.loads((run / "summary.json").read_text())
    for key in ("cache", "lm", "label"):  # counters; the label names the port and cache file
        ref_summary.pop(key), summary.pop(key)
    assert summary == ref_summary
