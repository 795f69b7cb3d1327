"""Fuzz ``indievalue import batch RESULTS --plan PLAN`` and ``indievalue import inspect LOG``:
a Batch API result file with lines dropped, repeated, torn, foreign or given wrong field types;
a plan file with fields dropped, renamed or retyped; and files that are no Inspect eval log at
all. The result file is made from ``export batch``'s requests for the fuzz eval persons, the
way a provider answers them."""

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
    fuzz_settings,
    run_cli,
    watching,
)
from hypothesis import example, given, settings
from hypothesis import strategies as st


def _result_line(request: dict[str, Any], n: int) -> dict[str, Any]:
    body = {"id": f"chatcmpl-{n}", "object": "chat.completion", "created": 0, "model": "stub",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": "1"}}],
            "usage": {"prompt_tokens": 100, "completion_tokens": 1, "total_tokens": 101}}
    return {"id": f"batch_req_{n}", "custom_id": request["custom_id"],
            "response": {"status_code": 200, "request_id": f"req_{n}", "body": body},
            "error": None}


@pytest.fixture(scope="module")
def batch(fuzz_data: FuzzData, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(result file, plan file) of a batch for the fuzz eval persons."""
    pytest.importorskip("openai")
    root = tmp_path_factory.mktemp("batch")
    requests = root / "requests.jsonl"
    made = run_cli("export", "batch", "--catalog", fuzz_data.catalog, "--out", requests,
                   "--model", "stub", "--form", "polar", "--demos", "5", "--eval-ids",
                   fuzz_data.eval_ids_file)
    assert made.ok, made
    lines = [json.loads(ln) for ln in requests.read_text("utf-8").splitlines()]
    results = root / "results.jsonl"
    results.write_text("".join(json.dumps(_result_line(r, n)) + "\n"
                               for n, r in enumerate(lines)), encoding="utf-8")
    return results, root / "requests.plan.json"


FIELD_VALUES = st.sampled_from([None, 500, "200", [], {}, "iv-000000000000-p1-s0-e0", "x",
                                -1, 2**63]) | JSON_VALUES
PATHS = [("custom_id",), ("response",), ("response", "status_code"), ("response", "body"),
         ("response", "body", "choices"), ("response", "body", "usage"), ("error",),
         ("response", "body", "choices", 0, "message", "content")]


@st.composite
def damaged_results(draw: st.DrawFn, original: bytes) -> bytes:
    lines = original.decode().splitlines()
    how = draw(st.sampled_from(["field", "field", "drop", "repeat", "torn", "junk", "bytes"]))
    i = draw(st.integers(0, len(lines) - 1))
    if how == "bytes":
        return draw(damaged_bytes(original))
    if how == "drop":
        del lines[i]
    elif how == "repeat":
        lines.insert(i, lines[draw(st.integers(0, len(lines) - 1))])
    elif how == "torn":
        cut = draw(st.integers(0, len(lines[i]) - 1))
        return "\n".join([*lines[:i], lines[i][:cut]]).encode()
    elif how == "junk":
        lines.insert(i, draw(st.sampled_from(["", "{}", "[]", "null", "7", "{", '"x"'])))
    else:
        rec = json.loads(lines[i])
        path = draw(st.sampled_from(PATHS))
        target: Any = rec
        for key in path[:-1]:
            target = target[key]
        if draw(st.integers(0, 3)) == 0 and isinstance(target, dict):
            target.pop(path[-1], None)
        else:
            target[path[-1]] = draw(FIELD_VALUES)
        lines[i] = json.dumps(rec)
    return ("\n".join(lines) + "\n").encode()


def test_damaged_batch_import(batch: tuple[Path, Path], depth: int, tmp_path: Path) -> None:
    results, plan = batch

    @fuzz_settings(15, depth)
    @given(data=st.data(), target=st.sampled_from(["results", "results", "plan", "both"]))
    @example(data=None, target="none")  # the undamaged pair imports
    def case(data: st.DataObject | None, target: str) -> None:
        work = Path(tempfile.mkdtemp(dir=tmp_path))
        try:
            res, pln = work / "results.jsonl", work / "requests.plan.json"
            shutil.copy(results, res)
            shutil.copy(plan, pln)
            if data is not None and target in ("results", "both"):
                res.write_bytes(data.draw(damaged_results(results.read_bytes())))
            if data is not None and target in ("plan", "both"):
                pln.write_bytes(data.draw(damaged_json(json.loads(plan.read_bytes()))))
            out = work / "run"
            with watching(out) as unchanged:
                outcome = check("import: batch",
                                run_cli("import", "batch", res, "--plan", pln, "--out", out),
                                unchanged)
            if target == "none":
                assert outcome == "ok"
        finally:
            shutil.rmtree(work, ignore_errors=True)

    case()


@pytest.mark.slow  # the first read of an Inspect log imports inspect_ai (seconds)
@pytest.mark.filterwarnings("ignore:The recursion limit will not be reset")
def test_not_an_inspect_log(fuzz_data: FuzzData, tmp_path: Path) -> None:
    pytest.importorskip("inspect_ai")

    @settings(parent=fuzz_settings(20, 1))
    @given(raw=st.binary(max_size=300) | JSON_VALUES.map(lambda v: json.dumps(v).encode()),
           suffix=st.sampled_from([".eval", ".json"]))
    @example(raw=b'{"version": 2, "status": "success", "samples": [{}]}', suffix=".json")
    @example(raw=b"PK\x03\x04" + b"\x00" * 40, suffix=".eval")
    def case(raw: bytes, suffix: str) -> None:
        work = Path(tempfile.mkdtemp(dir=tmp_path))
        try:
            log = work / f"log{suffix}"
            log.write_bytes(raw)
            out = work / "run"
            with watching(out) as unchanged:
                check("import: inspect", run_cli("import", "inspect", log, "--out", out,
                                                 "--catalog", fuzz_data.catalog), unchanged)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    case()
