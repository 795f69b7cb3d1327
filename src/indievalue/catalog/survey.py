"""Reading a person-level survey file described by a survey spec (CSV, SPSS .sav, Stata .dta or
Parquet): the spec's id column, value questions and demographic columns.

The CSV and SPSS/Stata parsing is the WVS reader's (catalog/wvs.py), with this module's column
matching; Parquet is read here. Then, per question with a ``recode``, survey values become the
spec's codes (an unlisted value: missing). Duplicate ids: the first row is kept and the count
reported. Any problem is one :class:`SurveyFormatError` line naming the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from indievalue.catalog.spec import StatementSpec
from indievalue.catalog.wvs import (
    BLANK_CODE,
    WVSTable,
    _finish,
    _read_csv,
    _read_stat,
    find_columns,
    shown_missing,
)
from indievalue.errors import IndieValueError

SUFFIXES = {".csv": "csv", ".sav": "sav", ".zsav": "sav", ".dta": "dta", ".parquet": "parquet",
            ".pq": "parquet"}


class SurveyFormatError(IndieValueError):
    """The data file does not hold what the survey spec describes."""


def survey_columns(spec: StatementSpec) -> list[str]:
    """The columns a survey file must have: id, value questions, demographic columns."""
    assert spec.survey is not None
    return list(dict.fromkeys([spec.survey.id_column, *spec.qids, *spec.demographic_columns]))


def read_survey(path: str | Path, spec: StatementSpec) -> WVSTable:
    """Read ``path`` as the survey ``spec`` describes; codes recoded, one row per person."""
    if spec.survey is None:
        raise SurveyFormatError(f"spec {spec.source} describes WVS-7 (no survey section); read "
                                "WVS files with read_wvs")
    p = Path(path)
    if not p.exists():
        raise SurveyFormatError(f"{p}: no such file")
    if not p.is_file():
        raise SurveyFormatError(f"{p}: not a file")
    if p.stat().st_size == 0:
        raise SurveyFormatError(f"{p}: the file is empty")
    kind = SUFFIXES.get(p.suffix.lower())
    if kind is None:
        raise SurveyFormatError(f"{p}: unknown file type {p.suffix!r}; expected .csv, .sav, "
                                ".dta or .parquet")
    needed = survey_columns(spec)
    matcher = _Matcher(spec)
    raw: dict[str, Any]
    if kind == "csv":
        raw, _ = _read_csv(p, needed, matcher)
    elif kind == "parquet":
        raw = _read_parquet(p, needed, matcher)
    else:
        raw, _ = _read_stat(p, needed, kind, matcher)
    # A survey's own `version` column means nothing to us: never marked synthetic.
    table = _finish(p, raw, "", id_column=spec.survey.id_column)
    return _recode(table, spec)


class _Matcher:
    """Needed names -> the file's spelling (case-insensitive), with survey-spec messages."""

    def __init__(self, spec: StatementSpec):
        assert spec.survey is not None
        self.spec = spec

    def __call__(self, path: Path, present: list[str], needed: list[str]) -> dict[str, str]:
        mapping, missing, twice = find_columns(present, needed)
        if twice is not None:
            raise SurveyFormatError(f"{path}: column {twice} appears twice")
        if missing:
            what = self.spec.survey.name if self.spec.survey else "the survey"
            raise SurveyFormatError(f"{path}: not a {what} file as the spec {self.spec.source} "
                                    f"describes: missing column(s) {shown_missing(missing)}")
        return mapping


def _read_parquet(path: Path, needed: list[str], match: _Matcher) -> dict[str, Any]:
    try:
        names = pq.read_schema(path).names
        mapping = match(path, names, needed)
        table = pq.read_table(path, columns=list(mapping.values()))
    except (OSError, pa.ArrowException) as exc:
        reason = " ".join(str(exc).split())[:200]
        raise SurveyFormatError(f"{path}: cannot read as Parquet ({reason})") from None
    raw: dict[str, Any] = {}
    for need, actual in mapping.items():
        col = table.column(actual)
        if not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type)
                or pa.types.is_boolean(col.type) or pa.types.is_null(col.type)):
            raise SurveyFormatError(f"{path}: column {actual} holds {col.type} values, not "
                                    "numeric codes")
        raw[need] = col.cast(pa.float64()).to_numpy(zero_copy_only=False)
    return raw


def _recode(table: WVSTable, spec: StatementSpec) -> WVSTable:
    columns = dict(table.columns)
    for q in spec.questions:
        if q.recode is None:
            continue
        values = columns[q.qid]
        coded = np.full(len(values), BLANK_CODE, dtype=np.int64)
        for value, code in q.recode:
            coded[values == value] = code
        columns[q.qid] = coded
    return WVSTable(table.person_ids, columns, table.n_rows_read, table.n_duplicates,
                    synthetic=False, version_label="")
