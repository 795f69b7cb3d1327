"""``records.jsonl``: one line per person x probe, appended as soon as known.

Lines of one episode are written in a single append followed by fsync, so a killed run leaves
whole episodes plus at most one torn tail. :func:`recover` drops the torn tail and any episode
whose lines are incomplete, so a rerun redoes exactly the missing episodes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.json as pajson

from indievalue.errors import IndieValueError
from indievalue.fsutil import atomic_write_bytes

RECORDS = "records.jsonl"
EPISODE_FIELDS = ("person_id", "setup", "episode")


def episode_id(rec: dict[str, Any]) -> tuple[int, int, int]:
    return (int(rec["person_id"]), int(rec["setup"]), int(rec["episode"]))


def recover(run_dir: Path, expected: dict[tuple[int, int, int], int]) -> set[tuple[int, int, int]]:
    """Make ``records.jsonl`` hold only complete episodes; return their ids.

    ``expected`` maps each episode id to its number of probe lines.
    """
    path = run_dir / RECORDS
    if not path.exists():
        return set()
    raw = path.read_bytes()
    if raw.endswith(b"\n") and raw.count(b"\n") == sum(expected.values()):
        return set(expected)  # a finished run: every episode is whole
    complete = raw if raw.endswith(b"\n") or not raw else raw[: raw.rfind(b"\n") + 1]
    lines = complete.decode("utf-8").splitlines()
    by_episode: dict[tuple[int, int, int], list[str]] = {}
    for n, line in enumerate(lines, 1):
        try:
            rec = json.loads(line)
            key = episode_id(rec)
        except (json.JSONDecodeError, KeyError, TypeError, ValueError):
            raise IndieValueError(f"{path}:{n}: corrupt record line; remove the run directory "
                                  "or the line to continue") from None
        by_episode.setdefault(key, []).append(line)
    done = {k for k, v in by_episode.items() if expected.get(k) == len(v)}
    kept = [ln for k, v in by_episode.items() if k in done for ln in v]
    if len(kept) != len(lines) or complete != raw:
        atomic_write_bytes(path, "".join(ln + "\n" for ln in kept).encode("utf-8"))
    return done


class RecordWriter:
    """Appends episodes' record lines durably."""

    def __init__(self, run_dir: Path):
        self.path = run_dir / RECORDS
        self._fh = self.path.open("ab")

    def write_episodes(self, episodes: Iterable[list[dict[str, Any]]]) -> None:
        """Append episodes given as record dicts."""
        self.write_lines(
            [json.dumps(rec, ensure_ascii=False, separators=(",", ":")) for rec in lines]
            for lines in episodes
        )

    def write_lines(self, episodes: Iterable[list[str]]) -> None:
        """Append episodes given as JSON lines (no newlines), in one write and one fsync."""
        blob = "".join(line + "\n" for lines in episodes for line in lines).encode("utf-8")
        if blob:
            self._fh.write(blob)
            self._fh.flush()
            os.fsync(self._fh.fileno())

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> RecordWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def load_records(run_dir: str | Path) -> pd.DataFrame:
    """All records of a run as a DataFrame (with a boolean ``correct`` column)."""
    path = Path(run_dir) / RECORDS
    if not path.exists():
        raise IndieValueError(f"{run_dir}: no {RECORDS} (not a run directory?)")
    if path.stat().st_size == 0:
        raise IndieValueError(f"{path}: no records yet")
    try:
        table = pajson.read_json(path, read_options=pajson.ReadOptions(block_size=1 << 24))
    except (pa.ArrowInvalid, OSError) as exc:
        raise IndieValueError(f"{path}: unreadable records ({exc})") from None
    df = table.to_pandas()
    df["correct"] = (df["prediction"] == df["gold"]) & (df["status"] == "ok")
    return df
