"""Fuzz run directories as ``score``, ``report`` and a resumed ``evaluate`` read them:
``spec.json`` with fields dropped, retyped or renamed, or damaged as bytes; ``records.jsonl``
with lines dropped, repeated, torn, corrupted or given wrong field types; the other files
(eval_ids.txt, groups.json, summary.json, lm_stats.json) removed or damaged."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from _fuzz_support import (
    JSON_VALUES,
    FuzzData,
    check,
    damaged_bytes,
    damaged_json,
    evaluate_args,
    fuzz_settings,
    run_cli,
    watching,
)
from hypothesis import example, given
from hypothesis import strategies as st

RECORD_FIELDS = ("person_id", "setup", "episode", "question", "category", "n_options", "gold",
                 "prediction", "probs", "status")


@st.composite
def damaged_records(draw: st.DrawFn, original: bytes) -> bytes:
    lines = original.decode().splitlines()
    how = draw(st.sampled_from(["drop", "repeat", "torn", "field", "bytes", "swap", "blank"]))
    i = draw(st.integers(0, len(lines) - 1))
    if how == "drop":
        del lines[i: i + draw(st.integers(1, 40))]
    elif how == "repeat":
        lines.insert(i, lines[draw(st.integers(0, len(lines) - 1))])
    elif how == "torn":
        cut = draw(st.integers(0, len(lines[i]) - 1))
        return ("\n".join(lines[:i]) + ("\n" if i else "") + lines[i][:cut]).encode()
    elif how == "field":
        rec: Any = json.loads(lines[i])
        key = draw(st.sampled_from(RECORD_FIELDS))
        if draw(st.booleans()):
            rec[key] = draw(JSON_VALUES | st.sampled_from([-1, 99, 2**63, 1.5, "ok", None]))
        else:
            rec.pop(key)
        lines[i] = json.dumps(rec)
    elif how == "bytes":
        return draw(damaged_bytes(original))
    elif how == "swap":
        j = draw(st.integers(0, len(lines) - 1))
        lines[i], lines[j] = lines[j], lines[i]
    else:
        lines.insert(i, draw(st.sampled_from(["", " ", "{}", "[]", "null", "1", "{"])))
    return ("\n".join(lines) + "\n").encode()


OTHER_FILES = ("eval_ids.txt", "groups.json", "summary.json", "summary.md")


@st.composite
def damage(draw: st.DrawFn, run: Path) -> list[tuple[str, bytes | None]]:
    """One or two (file, new bytes or None to remove) changes."""
    out = []
    for _ in range(draw(st.integers(1, 2))):
        name = draw(st.sampled_from(["spec.json", "spec.json", "records.jsonl",
                                     "records.jsonl", *OTHER_FILES, "lm_stats.json"]))
        path = run / name
        original = path.read_bytes() if path.exists() else b"{}"
        if draw(st.integers(0, 5)) == 0:
            out.append((name, None))
        elif name == "records.jsonl":
            out.append((name, draw(damaged_records(original))))
        elif name.endswith(".json"):
            out.append((name, draw(damaged_json(json.loads(original)))))
        else:
            out.append((name, draw(damaged_bytes(original))))
    return out


def _apply(run: Path, changes: list[tuple[str, bytes | None]]) -> None:
    for name, data in changes:
        (run / name).unlink(missing_ok=True)
        if data is not None:
            (run / name).write_bytes(data)


# (command, examples in the default suite): a report draws figures, so it gets few.
COMMANDS = [
    pytest.param("score", 15, id="score"),
    pytest.param("score-json", 6, id="score-json"),
    pytest.param("resume", 10, id="resume"),
    pytest.param("report", 3, id="report"),
]


@pytest.mark.parametrize(("which", "examples"), COMMANDS)
def test_damaged_run_directory(fuzz_data: FuzzData, which: str, examples: int, depth: int,
                               tmp_path: Path) -> None:
    @fuzz_settings(examples, depth)
    @given(changes=damage(fuzz_data.run))
    @example(changes=[("spec.json", b"[]")])
    @example(changes=[("records.jsonl", b'{"person_id": 1}\n')])
    @example(changes=[("records.jsonl", None), ("eval_ids.txt", None)])
    def case(changes: list[tuple[str, bytes | None]]) -> None:
        work = Path(tempfile.mkdtemp(dir=tmp_path))
        try:
            run = fuzz_data.copy(fuzz_data.run, work)
            _apply(run, changes)
            out = work / "report"
            if which.startswith("score"):
                args: list[Any] = ["score", run, *(["--json"] if which == "score-json" else [])]
            elif which == "report":
                args = ["report", run, "--out", out]
            else:  # the same command that made the run: resumes it
                args = [*evaluate_args(fuzz_data.catalog, run, fuzz_data.eval_ids_file),
                        "--predictor", "random"]
            with watching(out, run) as unchanged:
                check(f"run dir: {which.split('-')[0]}", run_cli(*args), unchanged)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    case()
