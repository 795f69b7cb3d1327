"""Reading a ``train-data`` directory back for ``indievalue train``, checked.

The directory may have been moved, edited by hand or written by an older version, so nothing
in it is trusted: :func:`open_training_data` checks what each file promises and
:func:`check_hf_dataset` checks the loaded Arrow dataset; every failure is one
:class:`IndieValueError` line naming the file.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from indievalue.errors import IndieValueError
from indievalue.fsutil import read_json
from indievalue.runs.spec import eval_ids_digest
from indievalue.training.data import (
    DATA_FORMAT,
    DATA_FORMAT_VERSION,
    DATA_SPEC_FILE,
    EVAL_IDS_FILE,
    HF_DIR,
    JSONL_FILE,
    STATS_FILE,
    DataFormat,
    hf_features,
)


class DataSpecFile(BaseModel):
    """``data_spec.json`` as read back: the fields ``train`` and the checks rely on."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)
    format: str = Field(DATA_FORMAT, description="Absent in version-1 directories.")
    format_version: int = Field(1, description="Absent in version-1 directories.")
    catalog: str
    catalog_hash: str
    synthetic: bool
    mixture: str
    paper: str
    units: list[str] = Field(min_length=1, description="Unit names, in writing order.")
    seed: int
    eval_ids_sha256: str = Field(pattern="^[0-9a-f]{64}$",
                                 description="Digest of eval_ids.txt's ids, in file order.")
    n_eval: int = Field(ge=1)
    eval_ids_from: str
    prompt_template: str | None
    formats: list[DataFormat] = Field(min_length=1)
    provenance: dict[str, Any]


class UnitStatsFile(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)
    examples: int = Field(ge=0)


class StatsFile(BaseModel):
    """``stats.json`` as read back: the counts the data files must match."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)
    examples: int = Field(ge=0)
    units: dict[str, UnitStatsFile]
    eval_persons: int = Field(ge=1)


@dataclass(frozen=True)
class TrainingData:
    """A checked ``train-data`` directory."""

    path: Path
    spec: DataSpecFile
    stats: StatsFile
    eval_ids: np.ndarray  # the excluded persons (eval_ids.txt)
    source: DataFormat  # the copy of the examples training reads: hf/ if written, else JSONL

    @property
    def source_path(self) -> Path:
        return self.path / (HF_DIR if self.source == "hf" else JSONL_FILE)


def _is_messages(v: Any) -> bool:
    return (isinstance(v, list) and len(v) >= 2
            and all(isinstance(m, dict) and set(m) == {"role", "content"}
                    and isinstance(m["role"], str) and isinstance(m["content"], str) for m in v)
            and v[-1]["role"] == "assistant")


def _is_int(v: Any) -> bool:
    return type(v) is int


# One check per record field (the columns of hf_features()).
RECORD_FIELDS: dict[str, Callable[[Any], bool]] = {
    "messages": _is_messages,
    "person_id": _is_int,
    "probe_qid": lambda v: isinstance(v, str),
    "demo_qids": lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
    "gold": lambda v: _is_int(v) and v >= 0,
    "unit": lambda v: isinstance(v, str),
    "demo_form": lambda v: v in ("polar", "refined", "demographics"),
    "probe_form": lambda v: v in ("polar", "refined"),
    "n_demos": lambda v: _is_int(v) and v >= 0,
    "n_tokens": lambda v: _is_int(v) and v >= -1,
}


def open_training_data(data: str | Path) -> TrainingData:
    """Read and check a ``train-data`` directory (no ``datasets`` needed).

    ``data_spec.json``: a known format version (a file without one is version 1), every field
    typed; ``stats.json``: its counts typed, per unit as ``data_spec.json`` lists the units;
    ``eval_ids.txt``: the ids whose digest ``data_spec.json`` records; the files of every
    format it lists. A JSONL source is read through: each line a record with exactly the
    record fields, of their types, of a listed unit, of no eval person, and as many records per
    unit as ``stats.json`` says. An ``hf/`` source gets the same checks from
    :func:`check_hf_dataset` once loaded. Any failure: one :class:`IndieValueError` line.
    """
    d = Path(data)
    if not (d / DATA_SPEC_FILE).is_file():
        raise IndieValueError(f"{d}: not a training-data directory (no {DATA_SPEC_FILE}; build "
                              "one with `indievalue train-data`)")
    spec = _read_spec(d / DATA_SPEC_FILE)
    stats = _read_model(d / STATS_FILE, StatsFile)
    if list(stats.units) != spec.units:
        raise IndieValueError(f"{d / STATS_FILE}: units {list(stats.units)} are not "
                              f"{DATA_SPEC_FILE}'s {spec.units}")
    if sum(u.examples for u in stats.units.values()) != stats.examples:
        raise IndieValueError(f"{d / STATS_FILE}: the units' examples do not add up to "
                              f"examples ({stats.examples})")
    eval_ids = _read_eval_ids(d / EVAL_IDS_FILE, spec)
    if stats.eval_persons != len(eval_ids):
        raise IndieValueError(f"{d / STATS_FILE}: eval_persons {stats.eval_persons}, "
                              f"{EVAL_IDS_FILE} holds {len(eval_ids)}")
    for fmt in spec.formats:
        path = d / HF_DIR / "state.json" if fmt == "hf" else d / JSONL_FILE
        if not path.is_file():
            raise IndieValueError(f"{path}: missing ({DATA_SPEC_FILE} lists format {fmt})")
    out = TrainingData(d, spec, stats, eval_ids, "hf" if "hf" in spec.formats else "jsonl")
    if out.source == "jsonl":
        _check_jsonl(out)
    return out


def _read_model(path: Path, model: type[Any]) -> Any:
    raw = read_json(path)
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "the file"
        what = "missing" if first["type"] == "missing" else first["msg"]
        raise IndieValueError(f"{path}: field {where}: {what}") from None


def _read_spec(path: Path) -> DataSpecFile:
    raw = read_json(path)
    if not isinstance(raw, dict):
        raise IndieValueError(f"{path}: not a JSON object")
    if raw.get("format", DATA_FORMAT) != DATA_FORMAT:
        raise IndieValueError(f"{path}: not an indievalue training-data spec (format is not "
                              f"{DATA_FORMAT!r})")
    version = raw.get("format_version", 1)
    if type(version) is not int or version != DATA_FORMAT_VERSION:
        raise IndieValueError(f"{path}: format version {version!r} is not one this indievalue "
                              f"reads ({DATA_FORMAT_VERSION}); rebuild it with "
                              "`indievalue train-data`")
    spec: DataSpecFile = _read_model(path, DataSpecFile)
    if len(set(spec.units)) != len(spec.units):
        raise IndieValueError(f"{path}: field units: a unit appears twice")
    return spec


def _read_eval_ids(path: Path, spec: DataSpecFile) -> np.ndarray:
    try:
        lines = path.read_text(encoding="utf-8").split()
    except FileNotFoundError:
        raise IndieValueError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise IndieValueError(f"{path}: unreadable ({exc})") from None
    try:
        ids = [int(x) for x in lines]
    except ValueError:
        raise IndieValueError(f"{path}: not a list of person ids") from None
    if len(ids) != spec.n_eval or eval_ids_digest(ids) != spec.eval_ids_sha256:
        raise IndieValueError(f"{path}: not the eval persons {DATA_SPEC_FILE} records "
                              f"({len(ids)} ids, n_eval {spec.n_eval}; digest differs?)")
    return np.asarray(ids, dtype=np.int64)


def _check_jsonl(data: TrainingData) -> None:
    path = data.path / JSONL_FILE
    units = set(data.spec.units)
    excluded = set(data.eval_ids.tolist())
    counts: Counter[str] = Counter()
    with open(path, "rb") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise IndieValueError(f"{path}:{n}: not a JSON record ({exc})") from None
            if not isinstance(rec, dict):
                raise IndieValueError(f"{path}:{n}: not a JSON object")
            if set(rec) != set(RECORD_FIELDS):
                missing, extra = set(RECORD_FIELDS) - set(rec), set(rec) - set(RECORD_FIELDS)
                what = "no field" if missing else "unexpected field"
                raise IndieValueError(f"{path}:{n}: {what} {sorted(missing or extra)[0]}")
            bad = next((k for k, ok in RECORD_FIELDS.items() if not ok(rec[k])), None)
            if bad is not None:
                raise IndieValueError(f"{path}:{n}: field {bad} has a wrong type or value")
            if rec["unit"] not in units:
                raise IndieValueError(f"{path}:{n}: unit {rec['unit']!r} is not one of "
                                      f"{DATA_SPEC_FILE}'s units")
            if rec["person_id"] in excluded:
                raise IndieValueError(f"{path}:{n}: person {rec['person_id']} is an eval "
                                      f"person ({EVAL_IDS_FILE})")
            counts[rec["unit"]] += 1
    _check_counts(data, path, counts)


def _check_counts(data: TrainingData, path: Path, counts: Counter[str]) -> None:
    total = sum(counts.values())
    if total != data.stats.examples:
        raise IndieValueError(f"{path}: {total} examples, {STATS_FILE} records "
                              f"{data.stats.examples}")
    for name, unit in data.stats.units.items():
        if counts[name] != unit.examples:
            raise IndieValueError(f"{path}: {counts[name]} examples of unit {name}, "
                                  f"{STATS_FILE} records {unit.examples}")


def check_hf_dataset(data: TrainingData, ds: Any) -> None:
    """The loaded ``hf/`` dataset: the record columns with their types, only listed units, no
    eval person, and the example counts of ``stats.json``."""
    path = data.path / HF_DIR
    expected = hf_features()
    if set(ds.column_names) != set(expected):
        raise IndieValueError(f"{path}: columns {sorted(ds.column_names)}, expected "
                              f"{sorted(expected)}")
    for name, feature in expected.items():
        want = getattr(feature, "dtype", None)
        got = getattr(ds.features[name], "dtype", None)
        if want != got and isinstance(want, str):
            raise IndieValueError(f"{path}: column {name} is {got}, expected {want}")
    table = ds.data  # the Arrow table (a freshly loaded dataset has no index mapping)
    persons = table.column("person_id").to_numpy()
    if np.isin(persons, data.eval_ids).any():
        first = int(persons[np.isin(persons, data.eval_ids)][0])
        raise IndieValueError(f"{path}: person {first} is an eval person ({EVAL_IDS_FILE})")
    counts = Counter(table.column("unit").to_pylist())
    stray = sorted(set(counts) - set(data.spec.units))
    if stray:
        raise IndieValueError(f"{path}: unit {stray[0]!r} is not one of {DATA_SPEC_FILE}'s "
                              "units")
    _check_counts(data, path, counts)
