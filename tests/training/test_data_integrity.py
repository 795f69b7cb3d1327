"""A ``train-data`` directory is checked as ``indievalue train`` reads it back: a damaged,
edited or mixed-up copy is refused with one ``error:`` line naming the file, before anything
is created (the base model is a bare ``config.json``: the data fail first)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from _training_catalog import EVAL_SIZE, training_catalog

from indievalue.errors import IndieValueError
from indievalue.training.data import (
    DATA_SPEC_FILE,
    EVAL_IDS_FILE,
    HF_DIR,
    JSONL_FILE,
    STATS_FILE,
    DataFormat,
    DataRequest,
    build_training_data,
)
from indievalue.training.datadir import open_training_data

pytest.importorskip("trl")
pytest.importorskip("datasets")

UNITS = "p2_p1_n1_probe,demo_p1_n1_probe"  # 108 + 108 examples


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Read-only: the same examples as hf/ + JSONL, as JSONL only, and another data set."""
    root = tmp_path_factory.mktemp("integrity")
    cat = training_catalog(tmp_path_factory)
    out = {}
    copies: list[tuple[str, str, tuple[DataFormat, ...]]] = [
        ("both", UNITS, ("hf", "jsonl")), ("jsonl", UNITS, ("jsonl",)),
        ("other", "p2_p1_n1_probe", ("hf",))]
    for name, units, formats in copies:
        out[name] = root / name
        build_training_data(cat, out[name], DataRequest(units=units, eval_size=EVAL_SIZE,
                                                        formats=formats))
    return out


@pytest.fixture
def base_model(tmp_path: Path) -> Path:
    base = tmp_path / "base"
    base.mkdir()
    (base / "config.json").write_text("{}")
    return base


def _copy(built: dict[str, Path], name: str, tmp_path: Path) -> Path:
    return Path(shutil.copytree(built[name], tmp_path / "data"))


def _json(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


Damage = Callable[[Path, dict[str, Path]], None]  # (the copy, the built directories)


def _edit(file: str, key: str, value: Any) -> Damage:
    def run(d: Path, built: dict[str, Path]) -> None:
        data = _json(d / file)
        *parents, last = key.split(".")
        target = data
        for p in parents:
            target = target[p]
        if value is KeyError:
            del target[last]
        else:
            target[last] = value
        (d / file).write_text(json.dumps(data))
    return run


def _lines(d: Path) -> list[str]:
    return (d / JSONL_FILE).read_text(encoding="utf-8").splitlines(keepends=True)


def _truncate_jsonl(d: Path, built: dict[str, Path]) -> None:
    blob = (d / JSONL_FILE).read_bytes()
    (d / JSONL_FILE).write_bytes(blob[: len(blob) // 2])


def _drop_last_line(d: Path, built: dict[str, Path]) -> None:
    (d / JSONL_FILE).write_text("".join(_lines(d)[:-1]), encoding="utf-8")


def _record(change: Callable[[dict[str, Any], Path], None]) -> Damage:
    """Change record 5 of the JSONL."""
    def run(d: Path, built: dict[str, Path]) -> None:
        lines = _lines(d)
        rec = json.loads(lines[4])
        change(rec, d)
        lines[4] = json.dumps(rec) + "\n"
        (d / JSONL_FILE).write_text("".join(lines), encoding="utf-8")
    return run


def _eval_person(rec: dict[str, Any], d: Path) -> None:
    rec["person_id"] = int((d / EVAL_IDS_FILE).read_text().split()[0])


def _drop_eval_id(d: Path, built: dict[str, Path]) -> None:
    ids = (d / EVAL_IDS_FILE).read_text().split()
    (d / EVAL_IDS_FILE).write_text("".join(f"{i}\n" for i in ids[1:]))


def _truncate_arrow(d: Path, built: dict[str, Path]) -> None:
    arrow = next((d / HF_DIR).glob("*.arrow"))
    arrow.write_bytes(arrow.read_bytes()[:1000])


def _hf_of_another_data_set(d: Path, built: dict[str, Path]) -> None:
    shutil.rmtree(d / HF_DIR)
    shutil.copytree(built["other"] / HF_DIR, d / HF_DIR)


DAMAGES: list[tuple[str, str, Damage, str, str]] = [
    # (id, which copy, damage, file named, what the message says)
    ("spec removed", "both", lambda d, b: (d / DATA_SPEC_FILE).unlink(), "",
     "not a training-data directory"),
    ("stats removed", "both", lambda d, b: (d / STATS_FILE).unlink(), STATS_FILE, "no such file"),
    ("eval ids removed", "both", lambda d, b: (d / EVAL_IDS_FILE).unlink(), EVAL_IDS_FILE,
     "no such file"),
    ("eval id dropped", "both", _drop_eval_id, EVAL_IDS_FILE, "not the eval persons"),
    ("unknown version", "both", _edit(DATA_SPEC_FILE, "format_version", 2), DATA_SPEC_FILE,
     "format version 2 is not one"),
    ("other format", "both", _edit(DATA_SPEC_FILE, "format", "indievalue-run"), DATA_SPEC_FILE,
     "not an indievalue training-data spec"),
    ("seed a string", "both", _edit(DATA_SPEC_FILE, "seed", "0"), DATA_SPEC_FILE,
     "field seed: Input should be a valid integer"),
    ("units missing", "both", _edit(DATA_SPEC_FILE, "units", KeyError), DATA_SPEC_FILE,
     "field units: missing"),
    ("unknown format listed", "both", _edit(DATA_SPEC_FILE, "formats", ["parquet"]),
     DATA_SPEC_FILE, "field formats.0"),
    ("examples a string", "both", _edit(STATS_FILE, "examples", "216"), STATS_FILE,
     "field examples"),
    ("unit count edited", "both", _edit(STATS_FILE, "units.demo_p1_n1_probe.examples", 100),
     STATS_FILE, "do not add up"),
    ("hf removed", "both", lambda d, b: shutil.rmtree(d / HF_DIR), f"{HF_DIR}/state.json",
     "missing (data_spec.json lists format hf)"),
    ("jsonl removed", "both", lambda d, b: (d / JSONL_FILE).unlink(), JSONL_FILE,
     "missing (data_spec.json lists format jsonl)"),
    ("arrow truncated", "both", _truncate_arrow, HF_DIR, "unreadable"),
    ("hf of another data set", "both", _hf_of_another_data_set, HF_DIR,
     "108 examples, stats.json records 216"),
    ("jsonl truncated", "jsonl", _truncate_jsonl, JSONL_FILE, "not a JSON record"),
    ("jsonl line dropped", "jsonl", _drop_last_line, JSONL_FILE,
     "215 examples, stats.json records 216"),
    ("record field a string", "jsonl", _record(lambda r, d: r.update(gold="1")), JSONL_FILE,
     "field gold has a wrong type"),
    ("record field missing", "jsonl", _record(lambda r, d: r.pop("messages")), JSONL_FILE,
     "no field messages"),
    ("record of an eval person", "jsonl", _record(_eval_person), JSONL_FILE,
     "is an eval person"),
    ("record of another unit", "jsonl", _record(lambda r, d: r.update(unit="x")), JSONL_FILE,
     "unit 'x' is not one"),
]


@pytest.mark.parametrize("copy,damage,file,message", [d[1:] for d in DAMAGES],
                         ids=[d[0] for d in DAMAGES])
def test_damaged_training_data_is_refused_in_one_line(
        copy: str, damage: Damage, file: str, message: str, built: dict[str, Path],
        base_model: Path, cli: Callable[..., Any], tmp_path: Path) -> None:
    data = _copy(built, copy, tmp_path)
    damage(data, built)
    out = tmp_path / "out"
    r = cli("train", "--data", data, "--base-model", base_model, "--out", out)
    assert r.code == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {data / file}"), r.stderr
    assert message in lines[0], lines[0]
    assert not out.exists()


@pytest.mark.parametrize("copy", ["both", "jsonl"])
def test_intact_and_version_1_directories_load(copy: str, built: dict[str, Path],
                                               tmp_path: Path) -> None:
    """The checks refuse nothing they should accept: what train-data writes, and the layout
    written before data_spec.json had format fields (version 1)."""
    from indievalue.training.trainer import load_training_dataset

    data = _copy(built, copy, tmp_path)
    assert len(load_training_dataset(data)) == 216
    spec = _json(data / DATA_SPEC_FILE)
    assert (spec["format"], spec["format_version"]) == ("indievalue-training-data", 1)
    del spec["format"], spec["format_version"]
    (data / DATA_SPEC_FILE).write_text(json.dumps(spec))
    checked = open_training_data(data)
    assert checked.source == ("hf" if copy == "both" else "jsonl")
    assert len(load_training_dataset(data)) == 216


def test_a_missing_directory_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(IndieValueError, match="not a training-data directory"):
        open_training_data(tmp_path / "nothing")
