"""The timing benchmarks wrap the library's functions by name (``evaluate_mod.score = ...``,
``mainjob.evaluate = ...``) to time each step; a rename in the library would silently leave a
step untimed or break the script. Every name they wrap must exist in the module they wrap."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
# alias in the scripts -> the module it stands for
ALIASES = {"evaluate_mod": "indievalue.runs.evaluate", "mainjob": "indievalue.analyses.mainjob"}
ASSIGNMENT = re.compile(r"^\s*(\w+)\.(\w+)\s*=", re.M)


def wrapped_names() -> list[tuple[str, str, str]]:
    found = []
    for script in sorted(BENCHMARKS.glob("*.py")):
        for alias, name in ASSIGNMENT.findall(script.read_text(encoding="utf-8")):
            if alias in ALIASES:
                found.append((script.name, ALIASES[alias], name))
    return found


def test_the_benchmarks_wrap_something() -> None:
    scripts = {s for s, _, _ in wrapped_names()}
    assert {"bench_protocol.py", "bench_main.py"} <= scripts


@pytest.mark.parametrize(("script", "module", "name"), wrapped_names())
def test_every_wrapped_name_exists(script: str, module: str, name: str) -> None:
    assert hasattr(importlib.import_module(module), name), \
        f"{script} wraps {module}.{name}, which does not exist"
