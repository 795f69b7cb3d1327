"""Turning a survey file into a catalog directory: a WVS-7 file (the built-in spec, or another
spec without a ``survey`` section), or any person-level survey its spec describes
(catalog/survey.py).

Layout of a catalog directory (all Parquet via pyarrow):

- ``persons.parquet``: person_id, country_code, country, continent, n_valid, n_valid_demographics
  (``country_code`` holds the codes of the first demographic column: the country for WVS-7;
  ``country`` and ``continent`` are empty for a spec without the WVS country entries)
- ``polar.parquet`` / ``refined.parquet``: one int8 column per question (option index, -1 missing)
- ``raw.parquet``: one int16 column per question (the raw code, after the spec's ``recode``;
  -99 for an empty cell or a value the recode does not list)
- ``demographics.parquet``: one statement column per demographic entry (null when missing) and
  one ``<column>_code`` raw-code column per demographic column read
- ``spec.json``: the expanded statement spec used (with its survey and protocol sections, if
  any); ``manifest.json``: provenance and counts (and, for a survey, its name, source, citation
  and licence)
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from indievalue import __version__
from indievalue.catalog.spec import COUNTRY_ENTRY, FORMS, MAX_VALUE_CODE, StatementSpec
from indievalue.catalog.spec_io import builtin_spec
from indievalue.catalog.survey import read_survey
from indievalue.catalog.wvs import WVSTable, read_wvs
from indievalue.errors import IndieValueError
from indievalue.fsutil import atomic_dir, write_json

CATALOG_FORMAT = "indievalue-catalog"
CATALOG_FORMAT_VERSION = 1
CONTINENT_ENTRY = "B_COUNTRY_to_continent"
WRITERS = 4  # threads writing the catalog's Parquet files (and hashing the source)


@dataclass(frozen=True)
class BuildReport:
    out: Path
    persons: int
    rows_read: int
    duplicates: int
    synthetic: bool
    seconds: float


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


def value_matrices(table: WVSTable, spec: StatementSpec) -> dict[str, np.ndarray]:
    """Raw codes and option indices, persons x questions, without per-person loops.

    Filled one question at a time into column-major arrays: no persons x questions int64
    temporaries, and each Parquet column is a contiguous slice.
    """
    n, qids = len(table.person_ids), spec.qids
    out = {"raw": np.empty((n, len(qids)), dtype=np.int16, order="F")}
    # One extra slot (index MAX_VALUE_CODE + 1) maps every out-of-range code to -1.
    luts = {}
    for form in FORMS:
        out[form] = np.empty((n, len(qids)), dtype=np.int8, order="F")
        lut = spec.code_lut(form)
        luts[form] = np.concatenate([lut, np.full((len(qids), 1), -1, dtype=np.int8)], axis=1)
    for i, qid in enumerate(qids):
        codes = table.columns[qid]
        out["raw"][:, i] = np.clip(codes, -32768, 32767)
        slot = np.where((codes >= 0) & (codes <= MAX_VALUE_CODE), codes, MAX_VALUE_CODE + 1)
        for form in FORMS:
            out[form][:, i] = luts[form][i, slot]
    return out


def demographic_arrays(table: WVSTable, spec: StatementSpec) -> dict[str, pa.Array]:
    """One dictionary-encoded statement array per demographic entry (null = missing)."""
    out: dict[str, pa.Array] = {}
    for entry in spec.demographics:
        codes = table.columns[entry.column]
        uniq, inverse = _unique_codes(codes)
        lookup = entry.statement_table()
        texts = [lookup.get(int(c)) for c in uniq]
        dictionary = sorted({t for t in texts if t is not None})
        pos = {t: i for i, t in enumerate(dictionary)}
        per_uniq = np.array([pos[t] if t is not None else -1 for t in texts], dtype=np.int32)
        indices = per_uniq[inverse] if len(uniq) else np.zeros(0, dtype=np.int32)
        mask = indices < 0
        arr = pa.DictionaryArray.from_arrays(
            pa.array(np.where(mask, 0, indices), type=pa.int32(), mask=mask),
            pa.array(dictionary, type=pa.string()),
        )
        out[entry.did] = arr
    return out


def build_catalog(
    wvs_path: str | Path,
    out: str | Path,
    spec: StatementSpec | None = None,
    overwrite: bool = False,
    progress: Callable[[str], None] | None = None,
) -> BuildReport:
    """Read ``wvs_path`` (a WVS-7 file, or the survey file ``spec`` describes when it has a
    survey section) and write a catalog directory at ``out`` (atomically)."""
    t0 = time.perf_counter()
    spec = spec or builtin_spec()
    say = progress or (lambda _msg: None)
    wvs_path = Path(wvs_path)
    out = Path(out)
    say("reading survey file")
    table = read_wvs(wvs_path, spec) if spec.survey is None else read_survey(wvs_path, spec)
    say("recoding answers")
    mats = value_matrices(table, spec)
    demo = demographic_arrays(table, spec)
    n_valid = (mats["polar"] >= 0).sum(axis=1).astype(np.int16)
    n_valid_demo = np.zeros(len(table.person_ids), dtype=np.int16)
    for arr in demo.values():
        n_valid_demo += np.asarray(arr.is_valid(), dtype=np.int16)
    persons = pa.table(
        {
            "person_id": pa.array(table.person_ids, type=pa.int64()),
            "country_code": pa.array(table.columns[spec.demographics[0].column], type=pa.int32())
            if spec.demographics
            else pa.nulls(len(table.person_ids), pa.int32()),
            "country": demo[COUNTRY_ENTRY].cast(pa.string()) if COUNTRY_ENTRY in demo
            else pa.nulls(len(table.person_ids), pa.string()),
            "continent": _continent_names(table, spec),
            "n_valid": pa.array(n_valid),
            "n_valid_demographics": pa.array(n_valid_demo),
        }
    )
    say("writing catalog")
    demo_cols: dict[str, Any] = dict(demo)
    for col in spec.demographic_columns:
        demo_cols[f"{col}_code"] = pa.array(table.columns[col], type=pa.int32())
    files: dict[str, pa.Table] = {"persons": persons}
    for name in (*FORMS, "raw"):
        files[name] = _matrix_table(mats[name], spec.qids)
    files["demographics"] = pa.table(demo_cols)
    # The output place is the user's choice: a parent that is a file, a full disk or a
    # read-only folder is one readable error, not a traceback.
    try:
        with atomic_dir(out, overwrite=overwrite) as tmp, ThreadPoolExecutor(WRITERS) as pool:
            # The Parquet encoders and the source's sha256 release the GIL: run them side by
            # side (on 2 cores this takes ~0.5 s off the build).
            source_hash = pool.submit(file_sha256, wvs_path)
            writes = [pool.submit(pq.write_table, t, tmp / f"{name}.parquet")
                      for name, t in files.items()]
            for done in writes:
                done.result()
            write_json(tmp / "spec.json", spec.to_dict())
            write_json(tmp / "manifest.json",
                       _manifest(wvs_path, table, spec, n_valid, source_hash.result()))
    except OSError as exc:
        raise IndieValueError(f"{out}: cannot write the catalog ({_os_reason(exc)})") from None
    return BuildReport(out, len(table.person_ids), table.n_rows_read, table.n_duplicates,
                       table.synthetic, time.perf_counter() - t0)


def _os_reason(exc: OSError) -> str:
    reason = exc.strerror or str(exc)
    return f"{reason}: {exc.filename}" if exc.filename else reason


def _continent_names(table: WVSTable, spec: StatementSpec) -> pa.Array:
    entry = next((d for d in spec.demographics if d.did == CONTINENT_ENTRY), None)
    n = len(table.person_ids)
    if entry is None or entry.mapping is None:
        return pa.nulls(n, pa.string())
    codes = table.columns[entry.column]
    uniq, inverse = _unique_codes(codes)
    names = np.array([entry.mapping.get(int(c)) for c in uniq], dtype=object)
    return pa.array(names[inverse] if n else [], type=pa.string())


def _matrix_table(matrix: np.ndarray, qids: list[str]) -> pa.Table:
    return pa.table({q: pa.array(matrix[:, i]) for i, q in enumerate(qids)})


def _unique_codes(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(codes, return_inverse=True)`` for integer codes, by table lookup when their
    range is small (survey codes are): no sort of the whole column."""
    if len(codes) == 0 or codes.dtype.kind not in "iu":
        return np.unique(codes, return_inverse=True)
    lo, hi = int(codes.min()), int(codes.max())
    if hi - lo >= 1 << 20:
        return np.unique(codes, return_inverse=True)
    present = np.zeros(hi - lo + 1, dtype=bool)
    present[codes - lo] = True
    rank = np.cumsum(present) - 1
    return np.flatnonzero(present) + lo, rank[codes - lo]


def _manifest(path: Path, table: WVSTable, spec: StatementSpec, n_valid: np.ndarray,
              source_sha256: str) -> dict:
    survey = {} if spec.survey is None else {"survey": spec.survey.to_dict()}
    return {
        "format": CATALOG_FORMAT,
        "format_version": CATALOG_FORMAT_VERSION,
        "indievalue_version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "synthetic": table.synthetic,
        "source_file": path.name,
        "source_sha256": source_sha256,
        "source_version_label": table.version_label,
        "spec_version": spec.version,
        "spec_hash": spec.content_hash,
        "spec_source": spec.source,
        "rows_read": table.n_rows_read,
        "duplicates_dropped": table.n_duplicates,
        "persons": len(table.person_ids),
        "value_questions": len(spec.questions),
        "polar_statements": spec.n_statements("polar"),
        "refined_statements": spec.n_statements("refined"),
        "demographic_entries": len(spec.demographics),
        "valid_answers": int(n_valid.sum()),
        "valid_per_person_mean": round(float(n_valid.mean()), 3),
        "valid_per_person_sd": round(float(n_valid.std(ddof=1)), 3) if len(n_valid) > 1 else 0.0,
        "persons_all_valid": int((n_valid == len(spec.questions)).sum()),
        **survey,
    }
