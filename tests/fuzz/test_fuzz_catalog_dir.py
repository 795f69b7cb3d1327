"""Fuzz catalog directories as ``catalog info|show|export``, ``evaluate`` and ``analyze
evenness`` read them: each file removed, emptied, cut short, overwritten in places, turned into
a directory, exchanged with a sibling, or swapped with the same file of another catalog (other
persons, another spec); JSON files also with fields dropped, renamed or retyped."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest
from _fuzz_support import (
    FuzzData,
    check,
    damaged_bytes,
    damaged_json,
    evaluate_args,
    fuzz_settings,
    run_cli,
    watching,
)
from hypothesis import given
from hypothesis import strategies as st

FILES = ("manifest.json", "spec.json", "persons.parquet", "polar.parquet", "refined.parquet",
         "raw.parquet", "demographics.parquet")


@st.composite
def damage(draw: st.DrawFn, catalog: Path, other: Path) -> list[tuple[str, str, bytes | None]]:
    """One or two (file, how, new bytes or None) changes."""
    out = []
    for _ in range(draw(st.integers(1, 2))):
        name = draw(st.sampled_from(FILES))
        how = draw(st.sampled_from(["remove", "bytes", "bytes", "json", "other", "sibling",
                                    "directory"]))
        original = (catalog / name).read_bytes()
        if how == "bytes":
            out.append((name, how, draw(damaged_bytes(original))))
        elif how == "json" and name.endswith(".json"):
            out.append((name, how, draw(damaged_json(json.loads(original)))))
        elif how == "other":
            out.append((name, how, (other / name).read_bytes()))
        elif how == "sibling":
            kin = [f for f in FILES if f != name and f[-5:] == name[-5:]]
            out.append((name, how, (catalog / draw(st.sampled_from(kin))).read_bytes()))
        else:
            out.append((name, how if how != "json" else "remove", None))
    return out


def _apply(catalog: Path, changes: list[tuple[str, str, bytes | None]]) -> None:
    for name, how, data in changes:
        path = catalog / name
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
        if how == "directory":
            path.mkdir()
        elif data is not None:
            path.write_bytes(data)


COMMANDS = ("info", "info-json", "show", "show-refined", "export-csv", "export-jsonl",
            "export-parquet", "evaluate", "evaluate-resemble", "evenness")


def _command(which: str, catalog: Path, work: Path, fuzz: FuzzData) -> tuple[list[object], Path]:
    person = str(fuzz.eval_ids[0])
    out = work / "out"
    if which.startswith("info"):
        return ["catalog", "info", catalog, *(["--json"] if which == "info-json" else [])], out
    if which.startswith("show"):
        extra = ["--form", "refined", "--demographics"] if which == "show-refined" else []
        return ["catalog", "show", catalog, person, *extra], out
    if which.startswith("export"):
        fmt = which.split("-")[1]
        out = work / f"export.{fmt}"
        return ["catalog", "export", catalog, "--form", "polar", "--format", fmt, "--out",
                out], out
    if which.startswith("evaluate"):
        name = "resemble" if which == "evaluate-resemble" else "majority"
        return [*evaluate_args(catalog, out, fuzz.eval_ids_file), "--predictor", name], out
    return ["analyze", "evenness", "--catalog", catalog, "--out", out], out


@pytest.mark.parametrize("which", COMMANDS)
def test_damaged_catalog(fuzz_data: FuzzData, which: str, depth: int, tmp_path: Path) -> None:
    @fuzz_settings(5, depth)
    @given(changes=damage(fuzz_data.catalog, fuzz_data.other_catalog))
    def case(changes: list[tuple[str, str, bytes | None]]) -> None:
        work = Path(tempfile.mkdtemp(dir=tmp_path))
        try:
            catalog = fuzz_data.copy(fuzz_data.catalog, work)
            _apply(catalog, changes)
            args, out = _command(which, catalog, work, fuzz_data)
            with watching(out, catalog) as unchanged:
                check(f"catalog dir: {which.split('-')[0]}", run_cli(*args), unchanged)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    case()
