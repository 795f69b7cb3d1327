"""The frozen, serialisable description of an evaluation run, and its provenance.

:class:`RunSpec` is :class:`~indievalue.runs.config.EvalSettings` (flat: ``spec.demos``,
``spec.predictor``, ...) plus the resolved identity of the catalog and the eval set.
"""

from __future__ import annotations

import hashlib
import platform
import subprocess
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from pydantic import Field

from indievalue import __version__
from indievalue.runs.config import EvalSettings


class RunSpec(EvalSettings):
    """Everything that determines a run's records: the settings (predictor options validated)
    and what the catalog and eval set resolved to. Two runs with equal specs have equal
    records; ``spec.json`` holds one and a resumed run must match it."""

    catalog: str = Field(description="Path of the catalog directory the run read.")
    catalog_hash: str = Field(description="Content hash of the catalog (source file + spec).")
    synthetic: bool = Field(description="Whether the catalog was built from a synthetic file.")
    eval_ids_sha256: str = Field(description="sha256 of eval_ids.txt (the eval persons, in order).")
    n_persons: int = Field(description="Number of evaluation persons.")
    setups: list[list[str]] = Field(description="Probe question ids of each setup, in order.")


def eval_ids_digest(ids: list[int]) -> str:
    return hashlib.sha256("".join(f"{i}\n" for i in ids).encode()).hexdigest()


def _git_commit() -> str | None:
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True,
                             text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def provenance() -> dict[str, Any]:
    """Package version, git commit, library versions, host and time: recorded, not compared."""
    libs = {}
    for name in ("numpy", "scipy", "pandas", "pyarrow", "pydantic", "torch", "transformers"):
        try:
            libs[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return {
        "indievalue_version": __version__,
        "git_commit": _git_commit(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "libraries": libs,
        "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
