"""The install contract: every module the project imports comes from a dependency declared in
the extra that needs it.

deptry checks the static imports: ``src/`` may import the core dependencies and the optional
extras but no development tool; ``tests/``, ``benchmarks/`` and ``tools/`` may import the
development extra too, and nothing that only arrives as another package's dependency (the
way ``httpx`` stopped arriving with ``openai`` 3). Optional dependencies imported through
:func:`indievalue.errors.require` are invisible to deptry, so their names are checked here
against the extra their install hint names.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
EXCLUDE = r"(^|/)(\.git|\.venv|venv|build|__pycache__)(/|$)"

pytestmark = pytest.mark.skipif(shutil.which("deptry") is None and not (
    Path(sys.executable).parent / "deptry").exists(), reason="deptry is not installed "
    "(pip install -e '.[dev]')")


def _deptry(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).parent / "deptry"
    cmd = [str(exe) if exe.exists() else "deptry", *args, "--exclude", EXCLUDE,
           "--config", str(ROOT / "pyproject.toml")]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300,
                          check=False)


def _dirs(*tops: str) -> list[str]:
    """Each folder is a root, so test and benchmark helper modules count as local."""
    return [str(d.relative_to(ROOT)) for top in tops for d in [ROOT / top, *(ROOT / top).rglob("*")]
            if d.is_dir() and "__pycache__" not in d.parts and not d.name.startswith(".")]


def test_src_imports_only_declared_non_dev_dependencies() -> None:
    res = _deptry("src")
    assert res.returncode == 0, res.stdout + res.stderr


def test_tests_benchmarks_tools_import_only_declared_dependencies() -> None:
    # DEP004 (a development dependency imported) is what these folders are for.
    res = _deptry(*_dirs("tests", "benchmarks", "tools"), "--ignore", "DEP002,DEP004")
    assert res.returncode == 0, res.stdout + res.stderr


def test_the_check_fails_on_an_undeclared_import(tmp_path: Path) -> None:
    """A package that only arrives as a dependency of a declared one is refused (DEP003), and
    a package that is not installed at all is refused (DEP001)."""
    (tmp_path / "probe.py").write_text("import anyio\nimport not_a_declared_module\n")
    res = _deptry(str(tmp_path), "--ignore", "DEP002")
    out = res.stdout + res.stderr
    assert res.returncode != 0
    assert "DEP001" in out and "not_a_declared_module" in out
    assert "DEP003" in out and "anyio" in out


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _extra_packages(extra: str, seen: frozenset[str] = frozenset()) -> set[str]:
    """Distribution names an extra brings, following ``indievalue[...]`` self-references."""
    extras = PYPROJECT["project"]["optional-dependencies"]
    out: set[str] = set()
    for req in extras[extra]:
        name = re.split(r"[\[<>=!~; ]", req, maxsplit=1)[0]
        if _normalise(name) == "indievalue":
            for sub in re.findall(r"\[(.*?)\]", req)[0].split(","):
                if sub not in seen:
                    out |= _extra_packages(sub.strip(), seen | {extra})
        else:
            out.add(_normalise(name))
    return out


MODULE_TO_DIST = {"llama_cpp": "llama-cpp-python", "yaml": "pyyaml"}


def _require_calls() -> list[tuple[Path, int, list[str], str]]:
    """(file, line, module names, install hint) of every ``require(...)`` call in src/."""
    calls = []
    for path in sorted((ROOT / "src").rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id == "require"):
                mods = [a.value for a in node.args
                        if isinstance(a, ast.Constant) and isinstance(a.value, str)]
                hint = next((k.value.value for k in node.keywords if k.arg == "install"
                             and isinstance(k.value, ast.Constant)), "")
                calls.append((path, node.lineno, mods, str(hint)))
    return calls


def test_optional_imports_name_the_extra_that_declares_them() -> None:
    calls = _require_calls()
    assert len(calls) >= 6  # the check is looking at the real call sites
    for path, line, mods, hint in calls:
        where = f"{path.relative_to(ROOT)}:{line}"
        extras = re.findall(r"indievalue\[([\w,]+)\]", hint)
        assert extras, f"{where}: install hint {hint!r} names no extra"
        declared = set().union(*(_extra_packages(e) for x in extras for e in x.split(",")))
        for mod in mods:
            dist = _normalise(MODULE_TO_DIST.get(mod, mod))
            assert dist in declared, f"{where}: {mod} is not in indievalue[{extras[0]}]"


def test_fast_moving_dependencies_have_an_upper_bound() -> None:
    reqs = list(PYPROJECT["project"]["dependencies"])
    for group in PYPROJECT["project"]["optional-dependencies"].values():
        reqs += [r for r in group if not r.startswith("indievalue")]
    for req in reqs:
        assert "<" in req, f"{req}: no upper bound on the major version"
