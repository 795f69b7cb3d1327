"""``write_wvs``: save a population as .csv, .sav or .dta (by extension), atomically.

CSV output is a plain comma-separated file with a header row and ``\\n`` line ends; the same
frame always gives the same bytes. SPSS and Stata files carry variable labels and value
labels taken from our statement spec, so a synthetic file opens readably in those tools.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import pandas as pd

from indievalue.errors import IndieValueError

FORMATS = {".csv": "csv", ".sav": "sav", ".dta": "dta"}
MISSING_LABELS = {-1: "Don't know", -2: "No answer", -3: "Not applicable", -4: "Not asked",
                  -5: "Missing; not available"}


def format_of(path: str | Path) -> str:
    """The output format for ``path``, or a one-line error naming the accepted extensions."""
    kind = FORMATS.get(Path(path).suffix.lower())
    if kind is None:
        raise IndieValueError(
            f"{path}: unsupported extension {Path(path).suffix!r}; use .csv, .sav or .dta"
        )
    return kind


def _labels() -> tuple[dict[str, str], dict[str, dict[float, str]]]:
    """Variable and value labels from the statement spec (value questions: refined
    statements; demographics: their statements)."""
    from indievalue.catalog.spec_io import builtin_spec

    spec = builtin_spec()
    var: dict[str, str] = {}
    val: dict[str, dict[float, str]] = {}
    for q in spec.questions:
        var[q.qid] = f"{q.qid} ({spec.category_name(q.category)})"
        val[q.qid] = {**{float(k): v for k, v in MISSING_LABELS.items()},
                      **{float(c): o.text for o in q.refined for c in o.codes}}
    for d in spec.demographics:
        if d.label and d.column not in var:
            var[d.column] = d.label
        if d.options is not None and d.column not in val:
            val[d.column] = {**{float(k): v for k, v in MISSING_LABELS.items()},
                             **{float(c): o.text for o in d.options for c in o.codes}}
    var["D_INTERVIEW"] = "Interview ID"
    var["version"] = "Version of data file (SYNTHETIC marks generated data)"
    return var, val


def write_wvs(df: pd.DataFrame, path: str | Path) -> Path:
    """Write ``df`` to ``path`` in the format its extension names; return the path.

    The file appears complete or not at all: it is written to a temporary sibling first
    and moved into place.
    """
    target = Path(path)
    kind = format_of(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=target.suffix,
                                    dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        if kind == "csv":
            df.to_csv(tmp, index=False, lineterminator="\n", encoding="utf-8")
        else:
            import pyreadstat  # local: only these formats need it

            var, val = _labels()
            labels: list[str | None] = [var.get(c, c) for c in df.columns]
            value_labels = {k: v for k, v in val.items() if k in df.columns}
            if kind == "sav":
                pyreadstat.write_sav(df, str(tmp), column_labels=labels,
                                     variable_value_labels=value_labels)
            else:
                pyreadstat.write_dta(df, str(tmp), column_labels=labels,
                                     variable_value_labels=value_labels)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return target
