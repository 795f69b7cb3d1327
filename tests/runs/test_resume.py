"""Resuming interrupted runs: a SIGKILLed ``indievalue evaluate``, torn and partial records.

Issue acceptance: after a kill and a rerun, records.jsonl is byte-identical to an uninterrupted
run's, with no duplicate (person_id, setup, question).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from _bench_data import BenchData
from indievalue.errors import IndieValueError
from indievalue.runs.config import EvalConfig
from indievalue.runs.evaluate import evaluate
from indievalue.runs.records import RECORDS, recover

N_KILL = 40  # persons; protocol B gives 40 x 117 = 4,680 one-probe episodes
EXPECTED_KILL = N_KILL * 117
KILL_AFTER = 1_000  # lines: a few batches of 256 episodes in
N = 30
CONFIG = EvalConfig(predictor="resemble", predictor_options={"top_k": 3, "sweep": 4},
                    eval_size=N, seed=2)


@pytest.fixture(scope="module")
def reference(bench: BenchData, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An uninterrupted protocol-A resemble run (39-line episodes)."""
    out = tmp_path_factory.mktemp("ref") / "run"
    evaluate(bench.catalog, CONFIG, out)
    return out


def rerun(bench: BenchData, out: Path) -> None:
    evaluate(bench.catalog, CONFIG, out)


def keys(path: Path) -> list[tuple[int, int, str]]:
    recs = [json.loads(x) for x in path.read_text().splitlines()]
    return [(r["person_id"], r["setup"], r["question"]) for r in recs]


def damaged_copy(reference: Path, tmp: Path, cut: int) -> Path:
    out = tmp / "run"
    shutil.copytree(reference, out)
    for name in ("summary.json", "summary.md"):
        (out / name).unlink()
    data = (out / RECORDS).read_bytes()
    (out / RECORDS).write_bytes(data[:cut])
    return out


def test_torn_last_line_is_recovered(reference: Path, bench: BenchData, tmp_path: Path) -> None:
    full = (reference / RECORDS).read_bytes()
    cut = int(len(full) * 0.6)
    while full[cut - 1 : cut] == b"\n":
        cut += 7
    out = damaged_copy(reference, tmp_path, cut)
    rerun(bench, out)
    assert (out / RECORDS).read_bytes() == full
    assert json.loads((out / "summary.json").read_text()) == \
        json.loads((reference / "summary.json").read_text())


def test_partial_episode_is_redone(reference: Path, bench: BenchData, tmp_path: Path) -> None:
    """Cut on a line boundary inside an episode: its 10 written lines are dropped and redone."""
    full = (reference / RECORDS).read_bytes()
    line_ends = [i + 1 for i, b in enumerate(full) if b == 0x0A]
    out = damaged_copy(reference, tmp_path, line_ends[39 * 17 + 10 - 1])
    rerun(bench, out)
    assert (out / RECORDS).read_bytes() == full


def test_empty_records_file_restarts(reference: Path, bench: BenchData, tmp_path: Path) -> None:
    out = damaged_copy(reference, tmp_path, 0)
    rerun(bench, out)
    assert (out / RECORDS).read_bytes() == (reference / RECORDS).read_bytes()


def test_recover_keeps_only_whole_episodes(tmp_path: Path) -> None:
    def line(p: int, q: str) -> str:
        return json.dumps({"person_id": p, "setup": 0, "episode": 0, "question": q})

    body = "\n".join([line(1, "Q1"), line(1, "Q2"), line(2, "Q1")]) + "\n" + line(2, "Q2")[:9]
    (tmp_path / RECORDS).write_text(body)
    done = recover(tmp_path, {(1, 0, 0): 2, (2, 0, 0): 2})
    assert done == {(1, 0, 0)}
    assert (tmp_path / RECORDS).read_text() == line(1, "Q1") + "\n" + line(1, "Q2") + "\n"


def test_corrupt_middle_line_is_an_error(reference: Path, bench: BenchData,
                                         tmp_path: Path) -> None:
    out = damaged_copy(reference, tmp_path, 10**9)
    lines = (out / RECORDS).read_text().splitlines(keepends=True)
    lines[5] = "{not json\n"
    (out / RECORDS).write_text("".join(lines[:100]))
    with pytest.raises(IndieValueError, match=r"records.jsonl:6: corrupt record line"):
        rerun(bench, out)


def cli() -> list[str]:
    """The installed console script next to this interpreter (not a version-manager shim)."""
    exe = Path(sys.executable).parent / "indievalue"
    return [str(exe)] if exe.is_file() else [sys.executable, "-m", "indievalue.cli.main"]


def count_lines(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def test_kill_and_resume_gives_identical_records(bench: BenchData, tmp_path: Path) -> None:
    """Issue acceptance: SIGKILL `indievalue evaluate` mid-run, rerun, compare bytes."""
    args = ["evaluate", "--catalog", str(bench.catalog), "--predictor", "random",
            "--form", "refined", "--protocol", "B", "--demos", "50",
            "--eval-size", str(N_KILL), "--seed", "3"]
    ref = tmp_path / "uninterrupted"
    evaluate(bench.catalog, EvalConfig(
        predictor="random", protocol="B", demos=50, demo_form="refined", probe_form="refined",
        seed=3, eval_size=N_KILL), ref)
    full = (ref / RECORDS).read_bytes()
    assert full.count(b"\n") == EXPECTED_KILL

    env = {**os.environ, "COLUMNS": "120"}
    for attempt in range(4):
        out = tmp_path / f"killed-{attempt}"
        proc = subprocess.Popen([*cli(), *args, "--out", str(out)], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            if count_lines(out / RECORDS) >= KILL_AFTER:
                os.kill(proc.pid, signal.SIGKILL)
                break
            time.sleep(0.002)
        proc.wait(timeout=30)
        written = count_lines(out / RECORDS)
        if proc.returncode == -signal.SIGKILL and 0 < written < EXPECTED_KILL:
            break
    else:
        pytest.fail("could not interrupt the run mid-way in 4 attempts")
    assert not (out / "summary.json").exists()

    done = subprocess.run([*cli(), *args, "--out", str(out)], env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    resumed = (out / RECORDS).read_bytes()
    assert resumed == full
    k = keys(out / RECORDS)
    assert len(k) == len(set(k)) == EXPECTED_KILL
    summary = json.loads((out / "summary.json").read_text())
    assert summary["complete"] is True and summary["n_records"] == EXPECTED_KILL


def test_a_fresh_run_is_scored_without_reading_its_records_back(
        reference: Path, bench: BenchData, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A run written whole in one call is scored from the tables of what it wrote (records.jsonl
    is not parsed again), to the summary that scoring the file gives; a resumed run, which
    did not write every record itself, reads the file."""
    import indievalue.runs.files as files
    from indievalue.runs.summary import score_run

    reads: list[Path] = []
    real = files.read_records_table

    def counted(path: Path):  # type: ignore[no-untyped-def]
        reads.append(path)
        return real(path)

    monkeypatch.setattr(files, "read_records_table", counted)
    fresh = evaluate(bench.catalog, CONFIG, tmp_path / "fresh")
    assert reads == []
    assert fresh == score_run(tmp_path / "fresh") == \
        json.loads((reference / "summary.json").read_text())
    reads.clear()
    full = (reference / RECORDS).read_bytes()
    line_ends = [i + 1 for i, b in enumerate(full) if b == 0x0A]
    out = damaged_copy(reference, tmp_path / "resumed", line_ends[39 - 1])  # one whole episode
    rerun(bench, out)
    assert reads == [out / RECORDS]
    assert (out / RECORDS).read_bytes() == full


@pytest.mark.parametrize("stats", [b"null", b'{"requests": "many"}', b"{not json"])
def test_damaged_counters_are_refused_before_anything_changes(
        reference: Path, bench: BenchData, tmp_path: Path, stats: bytes) -> None:
    """A resumed run whose lm_stats.json is not an object of counters: one error naming the
    file, and the run directory (its cut records included) exactly as it was."""
    full = (reference / RECORDS).read_bytes()
    out = damaged_copy(reference, tmp_path, int(len(full) * 0.5))
    (out / "lm_stats.json").write_bytes(stats)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    with pytest.raises(IndieValueError, match=r"lm_stats\.json"):
        rerun(bench, out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_an_unknown_demo_category_writes_nothing(bench: BenchData, tmp_path: Path) -> None:
    with pytest.raises(IndieValueError, match="unknown category"):
        evaluate(bench.catalog, CONFIG.replace(demo_category="A"), tmp_path / "run")
    assert not (tmp_path / "run").exists()
