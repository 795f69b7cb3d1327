"""A saved value model is checked as it is read back: a damaged, edited or swapped copy is
refused with one ``error:`` line naming the file (``indievalue embed`` loads the model before
it computes anything, so it is the cheap way through the CLI), and nothing is written."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from indievalue.catalog.build import build_catalog
from indievalue.catalog.spec import StatementSpec
from indievalue.catalog.store import Catalog
from indievalue.errors import IndieValueError
from indievalue.predictors.base import TrainingPool, make_predictor
from indievalue.valuemodel.model import MODEL_FILE, WEIGHTS_FILE, ValueModel

pytest.importorskip("torch")

# Small enough to train in about a second (see CONFORMANCE_OPTIONS in test_conformance.py).
TINY = {"epochs": 1, "dim": 4, "hidden": 16, "pool_size": 200, "calibrate": False,
        "threads": 1}


def _train(catalog: Path, out: Path, seed: int = 0, **options: Any) -> Path:
    cat = Catalog.load(catalog)
    pred = make_predictor("value-model", {**TINY, **options}, seed=seed)
    pred.fit(TrainingPool(cat, np.arange(len(cat.person_ids))))
    pred.save(str(out))
    return out


@pytest.fixture(scope="module")
def models(small_catalog: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Read-only: the model, one of another seed (same shapes), one of another size."""
    root = tmp_path_factory.mktemp("models")
    return {"model": _train(small_catalog, root / "model"),
            "seed1": _train(small_catalog, root / "seed1", seed=1),
            "wide": _train(small_catalog, root / "wide", hidden=24)}


@pytest.fixture
def model(models: dict[str, Path], tmp_path: Path) -> Path:
    """A private copy of the model, to damage."""
    return Path(shutil.copytree(models["model"], tmp_path / "copy"))


def _meta(model: Path) -> dict[str, Any]:
    meta: dict[str, Any] = json.loads((model / MODEL_FILE).read_text())
    return meta


def _set_meta(model: Path, meta: dict[str, Any]) -> None:
    (model / MODEL_FILE).write_text(json.dumps(meta))


def _weights(model: Path) -> dict[str, np.ndarray]:
    with np.load(model / WEIGHTS_FILE) as data:
        return {k: data[k] for k in data.files}


def _set_weights(model: Path, arrays: dict[str, Any]) -> None:
    """Rewrite the weights and record their hash, as a consistent (but wrong) save would."""
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    (model / WEIGHTS_FILE).write_bytes(buf.getvalue())
    meta = _meta(model)
    meta["weights_sha256"] = hashlib.sha256(buf.getvalue()).hexdigest()
    _set_meta(model, meta)


def _as_version_2(model: Path) -> None:
    """What the previous release wrote: no weights hash, no precision option (trained in
    float32)."""
    meta = _meta(model)
    meta["version"] = 2
    del meta["weights_sha256"]
    del meta["options"]["precision"]
    _set_meta(model, meta)


def _edit(key: str, value: Any) -> Callable[[Path], None]:
    def run(model: Path) -> None:
        meta = _meta(model)
        *parents, last = key.split(".")
        target = meta
        for p in parents:
            target = target[int(p)] if isinstance(target, list) else target[p]
        if value is KeyError:
            del target[last]
        else:
            target[int(last) if isinstance(target, list) else last] = value
        _set_meta(model, meta)
    return run


def _truncate(model: Path) -> None:
    blob = (model / WEIGHTS_FILE).read_bytes()
    (model / WEIGHTS_FILE).write_bytes(blob[: len(blob) // 2])


def _truncate_v2(model: Path) -> None:
    _as_version_2(model)
    _truncate(model)


def _not_a_zip_v2(model: Path) -> None:
    _as_version_2(model)
    (model / WEIGHTS_FILE).write_bytes(b"\x93NUMPY garbage")


def _reshape(model: Path) -> None:
    arrays = _weights(model)
    arrays["enc1.weight"] = arrays["enc1.weight"][:, :8].copy()
    _set_weights(model, arrays)


def _drop_tensor(model: Path) -> None:
    arrays = _weights(model)
    del arrays["dec2.bias"]
    _set_weights(model, arrays)


def _extra_tensor(model: Path) -> None:
    _set_weights(model, {**_weights(model), "dec3.weight": np.zeros((2, 2), np.float32)})


def _as_float64(model: Path) -> None:
    arrays = _weights(model)
    arrays["count"] = arrays["count"].astype(np.float64)
    _set_weights(model, arrays)


def _nan(model: Path) -> None:
    arrays = _weights(model)
    arrays["out.bias"][3] = np.nan
    _set_weights(model, arrays)


def _repeat_person(model: Path) -> None:
    arrays = _weights(model)
    arrays["__person_ids__"][1] = arrays["__person_ids__"][0]
    _set_weights(model, arrays)


def _swap_in(name: str, version_2: bool = False) -> Callable[[Path, dict[str, Path]], None]:
    def run(model: Path, models: dict[str, Path]) -> None:
        if version_2:
            _as_version_2(model)
        shutil.copyfile(models[name] / WEIGHTS_FILE, model / WEIGHTS_FILE)
    return run


DAMAGES: list[tuple[str, Callable[..., None], str, str]] = [
    # (id, damage, file named, what the message says)
    ("model.json removed", lambda m: (m / MODEL_FILE).unlink(), "copy", "no model.json"),
    ("weights removed", lambda m: (m / WEIGHTS_FILE).unlink(), WEIGHTS_FILE, "no such file"),
    ("model.json not JSON", lambda m: (m / MODEL_FILE).write_text('{"format": '), MODEL_FILE,
     "unreadable JSON"),
    ("unknown version", _edit("version", 99), MODEL_FILE, "format version 99 is not one"),
    ("version a string", _edit("version", "3"), MODEL_FILE, "format version '3'"),
    ("other format", _edit("format", "something-else"), MODEL_FILE, "not an indievalue value"),
    ("seed a string", _edit("seed", "0"), MODEL_FILE, "field seed: Input should be"),
    ("n_persons missing", _edit("n_persons", KeyError), MODEL_FILE, "field n_persons: missing"),
    ("layout count a float", _edit("layout.n_polar.0", 2.0), MODEL_FILE,
     "field layout.n_polar.0"),
    ("layout edited", _edit("layout.n_refined.0", 99), MODEL_FILE, "field layout"),
    ("fingerprint edited", _edit("layout_fingerprint", "0" * 16), MODEL_FILE,
     "does not match layout_fingerprint"),
    ("option a string", _edit("options.dim", "4"), MODEL_FILE, "field options.dim"),
    ("option out of range", _edit("options.hidden", 2), MODEL_FILE, "field options.hidden"),
    ("option missing", _edit("options.hidden", KeyError), MODEL_FILE, "missing hidden"),
    ("groups not codes", _edit("groups.0", "Egypt"), MODEL_FILE, "field groups"),
    ("catalog identity gone", _edit("info.catalog_hash", KeyError), MODEL_FILE,
     "info.catalog_hash"),
    ("weights hash missing", _edit("weights_sha256", KeyError), MODEL_FILE,
     "weights_sha256: missing"),
    ("weights truncated", _truncate, WEIGHTS_FILE, "SHA-256 differs"),
    ("weights truncated, no hash", _truncate_v2, WEIGHTS_FILE, "unreadable"),
    ("weights not a zip, no hash", _not_a_zip_v2, WEIGHTS_FILE, "unreadable"),
    ("tensor reshaped", _reshape, WEIGHTS_FILE, "tensor enc1.weight is float32 (16, 8)"),
    ("tensor removed", _drop_tensor, WEIGHTS_FILE, "missing dec2.bias"),
    ("tensor added", _extra_tensor, WEIGHTS_FILE, "unexpected dec3.weight"),
    ("tensor float64", _as_float64, WEIGHTS_FILE, "tensor count is float64"),
    ("tensor NaN", _nan, WEIGHTS_FILE, "out.bias holds non-finite"),
    ("person repeated", _repeat_person, WEIGHTS_FILE, "person ids repeat"),
]
SWAPS: list[tuple[str, Callable[..., None], str]] = [
    ("same shapes", _swap_in("seed1"), "SHA-256 differs"),
    ("other shapes", _swap_in("wide"), "SHA-256 differs"),
    ("other shapes, no hash", _swap_in("wide", version_2=True), "tensor "),
]


def _refused(cli: Callable[..., Any], catalog: Path, model: Path, tmp_path: Path,
             file: str, message: str) -> None:
    out = tmp_path / "emb" / "vectors.parquet"
    r = cli("embed", "--catalog", catalog, "--model", model, "--out", out)
    assert r.code == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert message in lines[0] and str(model / file if file != "copy" else model) in lines[0]
    assert not (tmp_path / "emb").exists()


@pytest.mark.parametrize("damage,file,message", [d[1:] for d in DAMAGES],
                         ids=[d[0] for d in DAMAGES])
def test_a_damaged_model_is_refused_in_one_line(damage: Callable[[Path], None], file: str,
                                                message: str, model: Path, small_catalog: Path,
                                                cli: Callable[..., Any],
                                                tmp_path: Path) -> None:
    damage(model)
    _refused(cli, small_catalog, model, tmp_path, file, message)
    with pytest.raises(IndieValueError, match="^" + str(model)):
        ValueModel.load(model)


@pytest.mark.parametrize("swap,message", [s[1:] for s in SWAPS], ids=[s[0] for s in SWAPS])
def test_another_models_weights_are_refused(swap: Callable[..., None], message: str,
                                            model: Path, models: dict[str, Path],
                                            small_catalog: Path, cli: Callable[..., Any],
                                            tmp_path: Path) -> None:
    swap(model, models)
    _refused(cli, small_catalog, model, tmp_path, WEIGHTS_FILE, message)


def test_intact_and_previous_version_models_load(model: Path, small_catalog: Path,
                                                 cli: Callable[..., Any],
                                                 tmp_path: Path) -> None:
    """The checks refuse nothing they should accept: the saved model, and a version-2 one."""
    assert _meta(model)["version"] == 3
    new = ValueModel.load(model)
    _as_version_2(model)
    old = ValueModel.load(model)
    assert old.options.precision == "fp32"  # what a model without the option was trained in
    for name, tensor in new.net.state_dict().items():
        np.testing.assert_array_equal(tensor.numpy(), old.net.state_dict()[name].numpy())
    np.testing.assert_array_equal(new.person_ids, old.person_ids)
    out = tmp_path / "v.npz"
    r = cli("embed", "--catalog", small_catalog, "--model", model, "--out", out, "--no-plot")
    assert r.code == 0, r.stderr
    with np.load(out) as data:
        assert data["vectors"].shape == (len(Catalog.load(small_catalog).person_ids), 4)


@pytest.fixture(scope="module")
def reworded_catalog(small_csv: Path, spec: StatementSpec,
                     tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same survey under a spec that differs only in one statement's wording: the same
    option layout, another spec hash."""
    data = spec.to_dict()
    data["questions"][0]["polar"][0][1] += " (reworded)"
    out = tmp_path_factory.mktemp("reworded") / "catalog"
    build_catalog(small_csv, out, spec=StatementSpec.from_dict(data))
    return out


def test_a_model_of_another_spec_is_refused(models: dict[str, Path], reworded_catalog: Path,
                                            cli: Callable[..., Any], tmp_path: Path) -> None:
    model = models["model"]
    run = tmp_path / "run"
    ids = tmp_path / "eval_ids.txt"
    ids.write_text("".join(f"{i}\n" for i in Catalog.load(reworded_catalog).person_ids[:5]))
    r = cli("evaluate", "--catalog", reworded_catalog, "--predictor", "value-model",
            "--option", f"model_dir={model}", "--form", "polar", "--out", run,
            "--eval-ids", ids)
    assert r.code == 2, r.stderr
    # (the progress bar, already started, leaves its line above when stderr is no terminal)
    line = r.stderr.strip().splitlines()[-1]
    assert "Traceback" not in r.stderr and r.stderr.count("error:") == 1
    assert line.startswith(f"error: {model}: trained on a catalog of another statement spec")
    assert not run.exists()
    out = tmp_path / "v.parquet"
    r = cli("embed", "--catalog", reworded_catalog, "--model", model, "--out", out)
    assert r.code == 2 and "another statement spec" in r.stderr and not out.exists()
