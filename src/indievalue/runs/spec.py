"""The frozen, serialisable description of an evaluation run, and its provenance."""

from __future__ import annotations

import hashlib
import platform
import subprocess
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from indievalue import __version__


class RunSpec(BaseModel):
    """Everything that determines a run's records. Two runs with equal specs have equal records."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    catalog: str = Field(description="Path of the catalog directory the run read.")
    catalog_hash: str = Field(description="Content hash of the catalog (source file + spec).")
    synthetic: bool = Field(description="Whether the catalog was built from a synthetic file.")
    eval_ids_sha256: str = Field(description="sha256 of eval_ids.txt (the eval persons, in order).")
    n_persons: int = Field(description="Number of evaluation persons.")
    setups: list[list[str]] = Field(description="Probe question ids of each setup, in order.")
    protocol: Literal["A", "B"] = Field(description="A: all probes of a setup in one episode; "
                                        "B: one probe per episode.")
    demos: int = Field(description="Demonstrations per episode (0-200).")
    demo_form: Literal["polar", "refined"] = Field(description="Form of the demonstrations.")
    probe_form: Literal["polar", "refined"] = Field(description="Form of the probe options.")
    demographics: Literal["off", "on", "only"] = Field(
        description="Demographic statements: none, before the demonstrations, or instead of them.")
    demo_category: str | None = Field(
        default=None, description="Category key restricting demonstrations, or None for all.")
    train_continent: str | None = Field(
        default=None, description="Continent the training pool is restricted to, or None.")
    predictor: str = Field(description="Registered predictor name.")
    predictor_options: dict[str, Any] = Field(description="Validated predictor options.")
    seed: int = Field(description="Seed of the eval-set draw, demonstrations and predictor.")


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
