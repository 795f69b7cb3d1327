"""Fuzz saved value models as ``embed --model`` and ``evaluate --predictor value-model --option
model_dir=`` read them: ``model.json`` with fields dropped, renamed or retyped (format,
version, options, layout, seed, groups) or damaged as bytes; ``weights.npz`` cut short,
overwritten in places, or rewritten with an array missing, reshaped, retyped or added, or the
person ids changed; either file removed."""

from __future__ import annotations

import io
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
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
from hypothesis import example, given
from hypothesis import strategies as st

PERSONS_KEY = "__person_ids__"


@st.composite
def damaged_weights(draw: st.DrawFn, original: bytes) -> bytes:
    if draw(st.integers(0, 2)) == 0:
        return draw(damaged_bytes(original))
    with np.load(io.BytesIO(original), allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    key = draw(st.sampled_from(sorted(arrays)))
    how = draw(st.sampled_from(["drop", "reshape", "retype", "extra", "persons", "nan"]))
    a = arrays[key]
    if how == "drop":
        del arrays[key]
    elif how == "reshape":
        arrays[key] = np.resize(a, (a.size + draw(st.integers(1, 3)),))
    elif how == "retype":
        arrays[key] = a.astype(draw(st.sampled_from(["int8", "float16", "complex64", "U3",
                                                     "bool"])))
    elif how == "extra":
        arrays["extra.weight"] = np.zeros(3)
    elif how == "persons":
        ids = arrays[PERSONS_KEY]
        arrays[PERSONS_KEY] = draw(st.sampled_from([
            ids[:0], ids.astype(np.float64) + 0.5, np.full(3, -1), ids.reshape(1, -1),
            np.array(["a", "b"]), np.concatenate([ids, ids])]))
    else:
        arrays[key] = np.full(a.shape, np.nan, dtype=a.dtype) if a.dtype.kind == "f" else a
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


@st.composite
def damage(draw: st.DrawFn, model: Path) -> list[tuple[str, bytes | None]]:
    out = []
    for _ in range(draw(st.integers(1, 2))):
        name = draw(st.sampled_from(["model.json", "model.json", "weights.npz"]))
        original = (model / name).read_bytes()
        if draw(st.integers(0, 6)) == 0:
            out.append((name, None))
        elif name == "model.json":
            out.append((name, draw(damaged_json(json.loads(original)))))
        else:
            out.append((name, draw(damaged_weights(original))))
    return out


@pytest.mark.parametrize("which", ["embed", "evaluate"])
def test_damaged_value_model(fuzz_data: FuzzData, value_model_dir: Path, which: str,
                             depth: int, tmp_path: Path) -> None:
    @fuzz_settings(10, depth)
    @given(changes=damage(value_model_dir))
    @example(changes=[("weights.npz", (value_model_dir / "weights.npz").read_bytes()[:-200])])
    @example(changes=[("model.json", b"[]")])
    def case(changes: list[tuple[str, bytes | None]]) -> None:
        work = Path(tempfile.mkdtemp(dir=tmp_path))
        try:
            model = fuzz_data.copy(value_model_dir, work)
            for name, data in changes:
                (model / name).unlink(missing_ok=True)
                if data is not None:
                    (model / name).write_bytes(data)
            if which == "embed":
                out = work / "vectors.parquet"
                args: list[Any] = ["embed", "--catalog", fuzz_data.catalog, "--model", model,
                                   "--out", out, "--no-plot"]
            else:
                out = work / "run"
                args = [*evaluate_args(fuzz_data.catalog, out, fuzz_data.eval_ids_file),
                        "--predictor", "value-model", "--option", f"model_dir={model}"]
            with watching(out, model) as unchanged:
                check(f"value model: {which}", run_cli(*args), unchanged)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    case()
