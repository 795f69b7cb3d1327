"""Shared test data: a small, deterministic generator of WVS-7-layout respondent files.

Imported by test modules as ``wvs_testdata``; the fixtures using it live in conftest.py.

``make_wvs_frame`` returns a frame with the columns a real WVS-7 file carries for the catalog
(``version``, ``D_INTERVIEW``, ``B_COUNTRY``, the 253 value questions, every demographic column
the built-in spec reads) plus a few columns the catalog must ignore. Codes are valid for their
question except for a ``missing_rate`` share of WVS negative missing codes. ``write_wvs`` writes
a frame as .csv, .sav or .dta. The session fixtures build one small catalog other test folders
reuse (``small_catalog``).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from indievalue.catalog.spec import StatementSpec
from indievalue.catalog.spec_io import builtin_spec

# A handful of real B_COUNTRY codes (all in maps/country.tsv), New Zealand among them.
COUNTRY_CODES = (32, 156, 276, 554, 826, 840)
# WVS-7 non-substantive answers: don't know, no answer, not applicable, not asked, missing.
MISSING_CODES = (-1, -2, -3, -4, -5)
REAL_VERSION = "5-0-0 (2022-12-14)"
SYNTHETIC_VERSION = "SYNTHETIC test data (indievalue tests)"
# Columns of the official file that the catalog does not read (excluded questions, weights).
EXTRA_QUESTIONS = ("Q82", "Q223", "Q288")
EXTRA_COLUMNS = ("A_YEAR", "W_WEIGHT", *EXTRA_QUESTIONS)

# PROTOCOL §2.3: per category, in catalog order: questions, polar statements, refined statements.
CATEGORY_COUNTS = {
    "Social Values, Attitudes & Stereotypes": (45, 103, 145),
    "Happiness and Well-Being": (11, 23, 44),
    "Social Capital, Trust & Organizational Membership": (44, 88, 163),
    "Economic Values": (6, 12, 22),
    "Corruption": (9, 19, 37),
    "Migration": (10, 29, 33),
    "Security": (21, 42, 68),
    "Postmaterialist Index": (6, 24, 24),
    "Science & Technology": (6, 12, 24),
    "Religious Values": (12, 27, 42),
    "Ethical Values and Norms": (23, 46, 92),
    "Political Interest & Political Participation": (35, 92, 135),
    "Political Culture & Political Regimes": (25, 50, 100),
}


def category_counts(spec: StatementSpec) -> dict[str, tuple[int, int, int]]:
    """(questions, polar statements, refined statements) per category name, in spec order."""
    return {c.name: (len(qs := spec.questions_in(c.key)), sum(len(q.polar) for q in qs),
                     sum(len(q.refined) for q in qs)) for c in spec.categories}

_DEFAULT_REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "wvs7"
REFERENCE_DIR = Path(os.environ.get("INDIEVALUE_REFERENCE_DIR", _DEFAULT_REFERENCE))


def make_wvs_frame(
    n_persons: int,
    seed: int = 0,
    missing_rate: float = 0.05,
    synthetic: bool = True,
    spec: StatementSpec | None = None,
) -> pd.DataFrame:
    """A WVS-7-layout frame of ``n_persons`` distinct respondents, the same for the same seed."""
    spec = spec or builtin_spec()
    rng = np.random.default_rng(seed)
    n = n_persons

    def codes(pool: list[int] | tuple[int, ...]) -> np.ndarray:
        values = rng.choice(np.asarray(pool, dtype=np.int64), size=n)
        missing = rng.random(n) < missing_rate
        values[missing] = rng.choice(np.asarray(MISSING_CODES), size=int(missing.sum()))
        return values

    cols: dict[str, object] = {
        "version": [SYNTHETIC_VERSION if synthetic else REAL_VERSION] * n,
        "A_YEAR": np.full(n, 2018, dtype=np.int64),
        "B_COUNTRY": rng.choice(np.asarray(COUNTRY_CODES), size=n),
        "D_INTERVIEW": 554_070_000 + np.arange(n, dtype=np.int64) * 3,
        "W_WEIGHT": np.round(rng.uniform(0.2, 3.0, size=n), 6),
    }
    for q in spec.questions:
        cols[q.qid] = codes(sorted(q.valid_codes))
    for extra in EXTRA_QUESTIONS:
        cols[extra] = rng.integers(1, 11, size=n)
    for column in spec.demographic_columns:
        if column != "B_COUNTRY":
            cols[column] = codes(spec.demographic_codes(column))
    return pd.DataFrame(cols)


def write_wvs(df: pd.DataFrame, path: Path) -> Path:
    """Write ``df`` as the format its suffix names (.csv, .sav or .dta)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        df.to_csv(path, index=False)
    else:
        import pyreadstat

        frame = df.copy()
        if "version" in frame:
            frame["version"] = frame["version"].astype(object)
        if suffix == ".sav":
            pyreadstat.write_sav(frame, str(path))
        elif suffix == ".dta":
            pyreadstat.write_dta(frame, str(path))
        else:
            raise ValueError(f"unsupported suffix {suffix}")
    return path


def write_reference_jsonl(
    directory: Path, questions: dict[str, tuple[str, list[list[int]], list[list[int]]]]
) -> Path:
    """Write statement metadata in the reference implementation's JSONL layout.

    ``questions`` maps a question id to (category name, polar code groups, refined code
    groups); statements are made-up texts that name the question, form and group, so a test
    can tell them from the built-in wording. No demographics file: the built-in entries apply.
    """
    directory.mkdir(parents=True, exist_ok=True)
    for form, name in (("polar", "statements_meta_data.jsonl"),
                       ("refined", "refined_statements_meta_data.jsonl")):
        lines = []
        for qid, (category, polar, refined) in questions.items():
            groups = polar if form == "polar" else refined
            texts = [f"custom {form} statement {g} of {qid}" for g in range(len(groups))]
            lines.append(json.dumps({
                "question_id": qid,
                "answer_ids": groups,
                "all_answer_ids": [c for g in groups for c in g],
                "grouped_answer_ids": list(range(len(groups))),
                "grouped_answer_ids_to_answer_ids": {str(i): g for i, g in enumerate(groups)},
                "answer_ids_to_grouped_answer_ids": {
                    str(c): i for i, g in enumerate(groups) for c in g
                },
                "converted_statements": texts,
                "answer_vars": texts,
                "question_vars": "",
                "statement_template": "{answer_var}",
                "is_refined": form == "refined",
                "question_type": f"mc_{sum(len(g) for g in groups)}",
                "question_category": category,
            }))
        (directory / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return directory


def leftovers(parent: Path) -> list[str]:
    """Names of hidden temporary or half-written entries ``atomic_dir`` could leave behind."""
    return sorted(p.name for p in Path(parent).iterdir() if p.name.startswith("."))


@dataclass(frozen=True)
class CliResult:
    code: int
    stdout: str
    stderr: str


def indievalue_command() -> list[str]:
    """The installed ``indievalue`` executable (next to this interpreter, else on PATH)."""
    here = Path(sys.executable).parent / "indievalue"
    found = str(here) if here.is_file() else shutil.which("indievalue")
    if found is None:
        pytest.skip("the indievalue console script is not installed")
    return [found]


