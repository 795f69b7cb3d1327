"""Token counts of chat examples, as the trainer will see them, and their statistics."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from indievalue.errors import IndieValueError, require


def load_tokenizer(path: str | Path) -> Any:
    """A tokenizer from a local model directory (or a .gguf file); no hub access."""
    require("transformers", purpose="token statistics", install="'indievalue[train]'")
    from transformers import AutoTokenizer

    from indievalue.lm.backends.hf import resolve_model_path

    folder, gguf = resolve_model_path(str(path))
    kwargs: dict[str, Any] = {"gguf_file": gguf} if gguf else {}
    try:
        return AutoTokenizer.from_pretrained(folder, local_files_only=True, **kwargs)
    except (OSError, ValueError) as exc:
        raise IndieValueError(f"cannot load a tokenizer from {path}: "
                              f"{str(exc).splitlines()[0]}") from None


def conversation_text(tokenizer: Any, messages: list[dict[str, str]]) -> str:
    """The training text of one conversation: the tokenizer's chat template, or (without one)
    the turns joined as the ``hf`` backend joins prompts, each followed by a newline."""
    if getattr(tokenizer, "chat_template", None):
        return str(tokenizer.apply_chat_template(messages, tokenize=False))
    return "".join(m["content"] + "\n" for m in messages)


def count_tokens(tokenizer: Any, records: list[dict[str, Any]]) -> np.ndarray:
    """Tokens of each record's whole conversation (prompt, answer and template tokens)."""
    texts = [conversation_text(tokenizer, r["messages"]) for r in records]
    enc = tokenizer(texts, add_special_tokens=False)["input_ids"]
    return np.array([len(ids) for ids in enc], dtype=np.int64)


@dataclass
class TokenStats:
    """Token counts collected over the examples, per unit."""

    max_length: int
    per_unit: dict[str, list[np.ndarray]] = field(default_factory=dict)

    def add(self, unit: str, counts: np.ndarray) -> None:
        self.per_unit.setdefault(unit, []).append(counts)

    @staticmethod
    def summarise(counts: np.ndarray, max_length: int) -> dict[str, Any]:
        if len(counts) == 0:
            return {"min": None, "mean": None, "max": None, "over_max_length": 0}
        return {
            "min": int(counts.min()),
            "mean": round(float(counts.mean()), 2),
            "max": int(counts.max()),
            "p50": int(np.percentile(counts, 50)),
            "p90": int(np.percentile(counts, 90)),
            "p99": int(np.percentile(counts, 99)),
            "total": int(counts.sum()),
            "over_max_length": int((counts > max_length).sum()),
        }

    def unit(self, name: str) -> dict[str, Any]:
        parts = self.per_unit.get(name, [])
        counts = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
        return self.summarise(counts, self.max_length)

    def overall(self) -> dict[str, Any]:
        parts = [c for chunks in self.per_unit.values() for c in chunks]
        counts = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
        return self.summarise(counts, self.max_length)
