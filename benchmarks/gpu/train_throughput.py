"""Training throughput on one GPU: tokens/s and model FLOPs utilisation (never run in CI).

Builds a ~1B-parameter Llama-architecture model (Llama-3.2-1B's shape) from a config
(random weights, nothing downloaded), renders protocol-B training examples exactly as
``indievalue train data`` does (the built-in statement spec, a random person per example,
50-200 demonstrations: the ``mixed`` count), and trains the way ``indievalue train`` does
(fp32 master weights, bf16 autocast, AdamW, loss on the answer only, padded micro-batches,
activation checkpointing) for a fixed wall time. Reports, as JSON:

- tokens/s: non-padding tokens per second (what the data holds) and padded tokens per second;
- MFU = 6 · N · tokens/s / peak bf16 FLOP/s (N = parameters; the peak for H100 SXM / PCIe /
  NVL and H200 is taken from the device name, else ``--peak-tflops``), and the same with the
  attention term 12 · layers · hidden · seq added per token.

No tokenizer ships on the GPU machine, so by default a byte-level BPE (32k) is trained on the
generated prompts in a few seconds; ``--tokenizer DIR`` uses a real one instead.

    python benchmarks/gpu/train_throughput.py [--seconds 60] [--micro-batch 4] \
        [--max-length 4096] [--no-checkpointing] [--out result.json]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))  # run from a checkout

from indievalue.catalog.spec_io import builtin_spec
from indievalue.lm.prompts import (
    PromptTemplates,
    fill,
    known_block,
    option_lines,
    protocol_b_answer,
)

try:
    from indievalue.catalog.store import render_demonstration
except ImportError:  # store needs pandas/pyarrow, which a bare GPU machine may lack

    def render_demonstration(statement: str) -> str:
        return "# " + statement[:1].upper() + statement[1:]

PEAK_BF16_TFLOPS = (("H200", 989.4), ("H100 NVL", 835.0), ("H100 PCIE", 756.0),
                    ("H100", 989.4), ("A100", 312.0))
CHAT = ("<|user|>\n{prompt}<|end|>\n<|assistant|>\n", "{answer}<|end|>\n")


def examples(n: int, seed: int) -> list[tuple[str, str]]:
    """Protocol-B (prompt, answer) pairs: a random person, 50-200 random demonstrations."""
    spec = builtin_spec()
    rng = np.random.default_rng(seed)
    template = PromptTemplates().b
    out = []
    for _ in range(n):
        probe = int(rng.integers(len(spec.questions)))
        form = "polar" if rng.random() < 0.5 else "refined"
        demos = rng.permutation([q for q in range(len(spec.questions)) if q != probe])
        lines = []
        for q in demos[: int(rng.integers(50, 201))]:
            opts = spec.questions[q].options(form)
            lines.append(render_demonstration(opts[int(rng.integers(len(opts)))].text))
        options = [o.text for o in spec.questions[probe].options(form)]
        prompt = fill(template, known_block(lines, "B"), option_lines(options))
        out.append((prompt, protocol_b_answer(int(rng.integers(len(options))), options)))
    return out


def tokenizer_for(texts: list[str], path: str | None) -> Any:
    if path:
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(path, local_files_only=True)
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(texts, trainers.BpeTrainer(
        vocab_size=32000, special_tokens=["<pad>", "<|user|>", "<|assistant|>", "<|end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>")


def encode(tok: Any, pairs: list[tuple[str, str]], max_length: int) -> list[tuple[list[int],
                                                                                 int]]:
    """(token ids, prompt length) per example; over-long examples are dropped, as in training."""
    prompts = tok([CHAT[0].format(prompt=p) for p, _ in pairs], add_special_tokens=False)
    answers = tok([CHAT[1].format(answer=a) for _, a in pairs], add_special_tokens=False)
    out = []
    for p, a in zip(prompts["input_ids"], answers["input_ids"], strict=True):
        if len(p) + len(a) <= max_length:
            out.append((p + a, len(p)))
    return out


def batches(data: list[tuple[list[int], int]], micro: int, pad: int, seed: int) -> Any:
    rng = np.random.default_rng(seed)
    while True:
        order = rng.permutation(len(data))
        for start in range(0, len(order) - micro + 1, micro):
            rows = [data[i] for i in order[start:start + micro]]
            width = max(len(ids) for ids, _ in rows)
            ids = torch.full((micro, width), pad, dtype=torch.long)
            labels = torch.full((micro, width), -100, dtype=torch.long)
            mask = torch.zeros((micro, width), dtype=torch.long)
            for r, (seq, n_prompt) in enumerate(rows):
                ids[r, : len(seq)] = torch.tensor(seq)
                labels[r, n_prompt: len(seq)] = torch.tensor(seq[n_prompt:])
                mask[r, : len(seq)] = 1
            yield ids, labels, mask


def peak_flops(name: str, override: float | None) -> float | None:
    if override:
        return override * 1e12
    upper = name.upper()
    for key, tflops in PEAK_BF16_TFLOPS:
        if key in upper:
            return tflops * 1e12
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=60.0, help="timed training wall time")
    ap.add_argument("--warmup-steps", type=int, default=3)
    ap.add_argument("--micro-batch", type=int, default=4)
    ap.add_argument("--max-length", type=int, default=4096)
    ap.add_argument("--examples", type=int, default=1500)
    ap.add_argument("--hidden", type=int, default=2048)
    ap.add_argument("--layers", type=int, default=16)
    ap.add_argument("--intermediate", type=int, default=8192)
    ap.add_argument("--heads", type=int, default=32)
    ap.add_argument("--kv-heads", type=int, default=8)
    ap.add_argument("--vocab", type=int, default=128256,
                    help="embedding rows (default: Llama 3's; the defaults are Llama-3.2-1B's "
                    "shape, 1.24B parameters)")
    ap.add_argument("--no-checkpointing", action="store_true")
    ap.add_argument("--attn", default="sdpa", help="attn_implementation")
    ap.add_argument("--tokenizer", default=None, help="local tokenizer dir (default: train BPE)")
    ap.add_argument("--peak-tflops", type=float, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    if not torch.cuda.is_available():
        sys.exit("no GPU: this benchmark needs CUDA")
    from transformers import LlamaConfig, LlamaForCausalLM

    t0 = time.perf_counter()
    pairs = examples(args.examples, args.seed)
    tok = tokenizer_for([p + a for p, a in pairs[:400]], args.tokenizer)
    data = encode(tok, pairs, args.max_length)
    lengths = np.array([len(ids) for ids, _ in data])
    prep_s = time.perf_counter() - t0
    device = torch.device("cuda")
    config = LlamaConfig(vocab_size=max(args.vocab, len(tok)), hidden_size=args.hidden,
                         intermediate_size=args.intermediate, num_hidden_layers=args.layers,
                         num_attention_heads=args.heads, num_key_value_heads=args.kv_heads,
                         max_position_embeddings=max(4096, args.max_length),
                         tie_word_embeddings=True, attn_implementation=args.attn)
    torch.manual_seed(args.seed)
    model = LlamaForCausalLM(config).to(device)  # fp32 master weights, as `indievalue train`
    n_params = sum(p.numel() for p in model.parameters())
    if not args.no_checkpointing:
        model.gradient_checkpointing_enable({"use_reentrant": False})
    model.config.use_cache = False
    opt = torch.optim.AdamW(model.parameters(), lr=5e-6, weight_decay=0.0, fused=True)
    stream = batches(data, args.micro_batch, tok.pad_token_id, args.seed)

    def step() -> tuple[int, int, float]:
        ids, labels, mask = (t.to(device, non_blocking=True) for t in next(stream))
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return int(mask.sum()), int(mask.numel()), float(loss)

    for _ in range(args.warmup_steps):
        step()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    real = padded = steps = 0
    losses = []
    start = time.perf_counter()
    while time.perf_counter() - start < args.seconds:
        r, p, loss = step()
        real, padded, steps = real + r, padded + p, steps + 1
        losses.append(loss)
    torch.cuda.synchronize()
    elapsed = time.perf_counter() - start
    name = torch.cuda.get_device_name(0)
    peak = peak_flops(name, args.peak_tflops)
    tps = real / elapsed
    mean_seq = float(lengths.mean())
    attn_per_token = 12 * args.layers * args.hidden * mean_seq
    result: dict[str, Any] = {
        "device": name, "torch": torch.__version__, "params": n_params,
        "config": {"hidden": args.hidden, "layers": args.layers,
                   "intermediate": args.intermediate, "heads": args.heads,
                   "kv_heads": args.kv_heads, "vocab": config.vocab_size,
                   "tokenizer_vocab": len(tok), "attn": args.attn},
        "micro_batch": args.micro_batch, "max_length": args.max_length,
        "checkpointing": not args.no_checkpointing,
        "examples": len(data), "tokens_per_example": {
            "min": int(lengths.min()), "mean": round(mean_seq, 1), "max": int(lengths.max())},
        "prep_s": round(prep_s, 1), "timed_s": round(elapsed, 1), "steps": steps,
        "seconds_per_step": round(elapsed / max(steps, 1), 3),
        "tokens_per_s": round(tps, 1), "padded_tokens_per_s": round(padded / elapsed, 1),
        "padding_share": round(1 - real / max(padded, 1), 3),
        "peak_bf16_tflops": peak / 1e12 if peak else None,
        "mfu_6N": round(6 * n_params * tps / peak, 4) if peak else None,
        "mfu_with_attention": round((6 * n_params + attn_per_token) * tps / peak, 4)
        if peak else None,
        "peak_memory_gib": round(torch.cuda.max_memory_allocated() / 2**30, 1),
        "loss_first_last": [round(losses[0], 3), round(losses[-1], 3)] if losses else None,
    }
    assert all(math.isfinite(x) for x in losses), "non-finite loss"
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
