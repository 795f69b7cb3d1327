"""What a catalog directory promises, checked as it is read back.

A catalog is moved, copied and edited by hand, so :class:`~indievalue.catalog.store.Catalog`
trusts none of its files. Each check raises one :class:`IndieValueError` line that names the
file and what is wrong; a table is checked once, when it is first read, before any caller sees it:

- ``manifest.json``: a JSON object of a known ``format`` and ``format_version`` (absent = 1,
  as in catalogs of the first release), with the counts and hashes the API relies on;
- ``spec.json``: a valid statement spec whose content hash is the manifest's ``spec_hash``;
- ``polar`` / ``refined`` / ``raw``: the spec's question columns in spec order, the manifest's
  row count, int8 / int8 / int16, no empty cells, only option indices of each question (or -1),
  and per person as many valid answers as ``persons.parquet`` says; every raw code recodes to
  the stored polar and refined options (a code outside the spec to -1);
- ``persons``: its columns, the manifest's row count, unique person ids;
- ``demographics``: a statement column per entry and a code column per raw column read, the
  persons' country codes and valid-entry counts row for row (the files carry no ids of their
  own, so this is what ties them to ``persons.parquet``), only statements of each entry.

The checks are column reductions over the matrices (docs/design/catalog.md gives their cost).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from indievalue.catalog.build import CATALOG_FORMAT, CATALOG_FORMAT_VERSION
from indievalue.catalog.spec import MAX_VALUE_CODE, Form, StatementSpec
from indievalue.errors import IndieValueError
from indievalue.fsutil import read_json

# The catalog format versions this code reads (build.py writes CATALOG_FORMAT_VERSION).
KNOWN_FORMAT_VERSIONS = (CATALOG_FORMAT_VERSION,)
REBUILD = "rebuild the catalog"
RAW_BLOCK = 2048

MATRIX_TYPES: dict[str, pa.DataType] = {"polar": pa.int8(), "refined": pa.int8(),
                                        "raw": pa.int16()}
PERSON_COLUMNS: dict[str, Callable[[pa.DataType], bool]] = {
    "person_id": pa.types.is_integer,
    "country_code": pa.types.is_integer,
    "country": lambda t: _is_text(t),
    "continent": lambda t: _is_text(t),
    "n_valid": pa.types.is_integer,
    "n_valid_demographics": pa.types.is_integer,
}


class CatalogError(IndieValueError):
    """A catalog file breaks what the format promises."""

    def __init__(self, path: Path, problem: str, hint: str = REBUILD):
        super().__init__(f"{path}: {problem}" + (f"; {hint}" if hint else ""))


# -- manifest and spec ---------------------------------------------------------------------


def read_manifest(root: Path) -> dict[str, Any]:
    path = root / "manifest.json"
    if not path.is_file():
        raise IndieValueError(f"{root}: not a catalog directory (no manifest.json)")
    manifest = read_json(path)
    if not isinstance(manifest, dict):
        raise CatalogError(path, "not a JSON object", hint="")
    if manifest.get("format") != CATALOG_FORMAT:
        raise CatalogError(path, "not an indievalue catalog manifest (no \"format\": "
                                 f"\"{CATALOG_FORMAT}\")", hint="")
    version = manifest.get("format_version", 1)
    if type(version) is not int:
        raise CatalogError(path, f"format_version {version!r} is not a version number")
    if version not in KNOWN_FORMAT_VERSIONS:
        newest = max(KNOWN_FORMAT_VERSIONS)
        hint = "upgrade indievalue or rebuild the catalog" if version > newest else REBUILD
        raise CatalogError(path, f"catalog format version {version} is unknown (this indievalue "
                                 f"reads {', '.join(map(str, KNOWN_FORMAT_VERSIONS))})", hint)
    persons = manifest.get("persons")
    if type(persons) is not int or persons < 0:
        raise CatalogError(path, f"\"persons\" is {persons!r}, not a count of persons")
    for key in ("spec_hash", "source_sha256"):
        if not isinstance(manifest.get(key), str):
            raise CatalogError(path, f"\"{key}\" is missing or not a string")
    return manifest


def read_spec(root: Path, manifest: Mapping[str, Any]) -> StatementSpec:
    path = root / "spec.json"
    data = read_json(path)
    try:
        spec = StatementSpec.from_dict(data, source=str(root))
    # SpecError: malformed or inconsistent; the others: a value of the wrong JSON kind.
    except (IndieValueError, AttributeError, KeyError, TypeError, ValueError) as exc:
        raise CatalogError(path, f"not a valid statement spec ({exc})") from None
    if spec.content_hash != manifest["spec_hash"]:
        raise CatalogError(path, "its content hash is not the manifest's spec_hash (the spec "
                                 "was edited or comes from another catalog)")
    return spec


# -- tables --------------------------------------------------------------------------------


def read_table(path: Path, n_rows: int) -> pa.Table:
    """Read a Parquet file of the catalog: one row per person (unless it has no columns)."""
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        reason = " ".join(str(exc).split())[:200]
        raise CatalogError(path, f"missing or unreadable ({reason})") from None
    if table.num_columns and table.num_rows != n_rows:
        raise CatalogError(path, f"{table.num_rows} rows, but the manifest says {n_rows} "
                                 "persons")
    return table


def check_persons(path: Path, table: pa.Table) -> None:
    """Columns and types of ``persons.parquet``; person ids unique, counts without gaps."""
    _require_columns(path, table, PERSON_COLUMNS)
    ids = table.column("person_id")
    if ids.null_count:
        raise CatalogError(path, "person_id has empty cells")
    pid = ids.to_numpy().astype(np.int64, copy=False)
    order = np.argsort(pid, kind="stable")
    dup = np.flatnonzero(pid[order][1:] == pid[order][:-1])
    if dup.size:
        raise CatalogError(path, f"person_id {pid[order][dup[0]]} appears more than once")
    for name in ("n_valid", "n_valid_demographics"):
        if table.column(name).null_count:
            raise CatalogError(path, f"column {name} has empty cells")


def matrix(path: Path, table: pa.Table, spec: StatementSpec, name: str) -> np.ndarray:
    """The persons x questions matrix of ``table`` after checking its layout."""
    want = MATRIX_TYPES[name]
    names = table.column_names
    if names != spec.qids:
        raise CatalogError(path, _column_problem(names, spec.qids))
    for qid, field in zip(names, table.schema, strict=True):
        if field.type != want:
            raise CatalogError(path, f"column {qid} is {field.type}, expected {want}")
        if table.column(qid).null_count:
            raise CatalogError(path, f"column {qid} has empty cells")
    if not names:
        return np.zeros((table.num_rows, 0), dtype=want.to_pandas_dtype())
    return np.column_stack([c.to_numpy() for c in table.columns])


def check_options(path: Path, mat: np.ndarray, spec: StatementSpec, form: Form,
                  n_valid: np.ndarray) -> None:
    """Every cell an option index of its question or -1; valid answers per person = n_valid."""
    if not mat.size:
        return
    counts = spec.option_counts(form)
    lo, hi = mat.min(axis=0), mat.max(axis=0)
    bad = np.flatnonzero((lo < -1) | (hi >= counts))
    if bad.size:
        j = int(bad[0])
        qid, col, k = spec.qids[j], mat[:, j], int(counts[j])
        row = int(np.flatnonzero((col < -1) | (col >= k))[0])
        raise CatalogError(path, f"column {qid} holds {int(col[row])} (row {row}), but {qid} has "
                                 f"{k} {form} options (0..{k - 1}, -1 missing)")
    _same_counts(path, np.count_nonzero(mat >= 0, axis=1), n_valid, "valid answers", "n_valid")


def check_raw(path: Path, raw: np.ndarray, spec: StatementSpec,
              forms: Mapping[Form, np.ndarray]) -> None:
    """Each raw code recodes to the stored option of each form (-1 for a code outside the spec)."""
    width = MAX_VALUE_CODE + 2  # the last slot of each question's lookup row: "not a value code"
    luts = {f: np.concatenate([spec.code_lut(f), np.full((len(spec.qids), 1), -1, np.int8)],
                              axis=1).ravel() for f in forms}
    base = (np.arange(len(spec.qids)) * width).astype(np.uint16)
    # Blocks of rows: the lookup indices stay in cache and no persons x questions temporaries.
    for start in range(0, len(raw), RAW_BLOCK):
        # As uint16 every negative code is above MAX_VALUE_CODE, so one minimum clips both ends.
        slot = np.minimum(raw[start:start + RAW_BLOCK].view(np.uint16), width - 1)
        slot += base
        for form, mat in forms.items():
            wrong = np.take(luts[form], slot) != mat[start:start + RAW_BLOCK]
            if wrong.any():
                i, j = (int(x) for x in np.argwhere(wrong)[0])
                row = start + i
                raise CatalogError(path, f"column {spec.qids[j]} holds code {int(raw[row, j])} "
                                         f"(row {row}), which is not the {form} option stored in "
                                         f"{form}.parquet ({int(mat[row, j])})")


def check_demographics(path: Path, table: pa.Table, spec: StatementSpec,
                       persons: pa.Table) -> None:
    """Columns, statements and the row-for-row agreement with ``persons.parquet``."""
    needed: dict[str, Callable[[pa.DataType], bool]] = {e.did: _is_text for e in spec.demographics}
    needed.update({f"{c}_code": pa.types.is_integer for c in spec.demographic_columns})
    _require_columns(path, table, needed)
    if not spec.demographics:  # nothing to compare: the file has no columns and no rows
        return
    n_valid = np.zeros(table.num_rows, dtype=np.int64)
    for entry in spec.demographics:
        col = table.column(entry.did)
        n_valid += np.asarray(col.is_valid(), dtype=np.int64)
        known = set(entry.statement_table().values())
        stray = [v for v in pc.unique(col).to_pylist() if v is not None and v not in known]
        if stray:
            raise CatalogError(path, f"column {entry.did} holds {stray[0]!r}, not a statement of "
                                     "that entry in spec.json")
    persons_file = path.with_name("persons.parquet")
    _same_counts(path, n_valid, persons.column("n_valid_demographics").to_numpy(),
                 "valid entries", "n_valid_demographics")
    code = table.column(f"{spec.demographics[0].column}_code").cast(pa.int64())
    if not code.equals(persons.column("country_code").cast(pa.int64())):
        raise CatalogError(path, f"{spec.demographics[0].column}_code differs from country_code "
                                 f"in {persons_file} (the files come from different catalogs)")


# -- helpers -------------------------------------------------------------------------------


def _is_text(t: pa.DataType) -> bool:
    if pa.types.is_dictionary(t):
        t = t.value_type
    return bool(pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_null(t))


def _require_columns(path: Path, table: pa.Table,
                     needed: Mapping[str, Callable[[pa.DataType], bool]]) -> None:
    present = table.schema
    missing = [n for n in needed if present.get_field_index(n) < 0]
    if missing:
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise CatalogError(path, f"missing column(s) {', '.join(missing[:5])}{more}")
    for name, ok in needed.items():
        if len(present.get_all_field_indices(name)) > 1:
            raise CatalogError(path, f"column {name} appears more than once")
        kind = present.field(name).type
        if not ok(kind):
            raise CatalogError(path, f"column {name} has the wrong type ({kind})")


def _column_problem(names: list[str], qids: list[str]) -> str:
    have, want = set(names), set(qids)
    missing = [q for q in qids if q not in have]
    extra = [n for n in names if n not in want]
    if missing:
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        return f"missing question column(s) {', '.join(missing[:5])}{more}"
    if extra:
        return f"column {extra[0]} is not a question of spec.json"
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup is not None:
        return f"column {dup} appears more than once"
    at = next(i for i, (a, b) in enumerate(zip(names, qids, strict=True)) if a != b)
    return f"columns are not in spec order ({names[at]} where {qids[at]} belongs)"


def _same_counts(path: Path, ours: np.ndarray, theirs: np.ndarray, what: str,
                 column: str) -> None:
    diff = np.flatnonzero(ours != theirs)
    if diff.size:
        row = int(diff[0])
        persons = path.with_name("persons.parquet")
        raise CatalogError(path, f"{what} per person disagree with {column} in {persons} "
                                 f"(row {row}: {int(ours[row])} vs {int(theirs[row])}; the files "
                                 "come from different catalogs)")
