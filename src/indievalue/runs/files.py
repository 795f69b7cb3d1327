"""The files of a run directory as typed objects, and the one way to read a run:
:func:`read_run`.

    spec.json      SpecFile: the RunSpec, provenance, label, category order, expected records
    eval_ids.txt   the eval persons, in order (its sha256 is in the spec)
    records.jsonl  one RecordLine per person x probe (written and checked by runs.records)
    summary.json   Summary: every metric, recomputed from the records by runs.summary
    groups.json    each eval person's demographic statement per fairness dimension

spec.json and summary.json carry the ``format_version`` they were written in; records.jsonl
is in its spec file's version. Files of releases before versions were written have none and
read as version 1. Reading checks each file against its version and refuses anything else with
one :class:`IndieValueError` line naming the file (and the line, for records). Records of
another run are refused, not mixed in: every person must be in eval_ids.txt, every question in
its setup, no (person, setup, episode, question) twice, no more lines than the spec expects.
The record checks run on the whole Arrow table at once: for a 94k-line records.jsonl (33 MB)
they take 0.015 s of CPU beside the 0.5 s that reading it into a DataFrame takes, where a
pydantic model per line would add 0.36 s.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from indievalue.catalog.spec import Form
from indievalue.errors import IndieValueError
from indievalue.fsutil import write_json
from indievalue.runs.records import (
    RECORDS,
    RecordLine,
    check_columns,
    read_records_table,
    validation_text,
)
from indievalue.runs.spec import RunSpec, eval_ids_digest, provenance

SPEC_FILE = "spec.json"
SUMMARY_FILE = "summary.json"
EVAL_IDS_FILE = "eval_ids.txt"
GROUPS_FILE = "groups.json"  # eval persons' demographic statements per fairness dimension
LM_STATS_FILE = "lm_stats.json"

#: The newest format this version writes and reads (SpecFile/Summary.format_version default).
SPEC_FORMAT = 1
SUMMARY_FORMAT = 2  # 2: ``expected_records`` (version 1 summaries have none)

__all__ = ["SPEC_FILE", "SUMMARY_FILE", "RecordLine", "Run", "SpecFile", "Summary", "read_run"]


class _File(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Provenance(BaseModel):
    """Where and with what a run was made: recorded, never compared. Keys beyond these are
    kept (later versions may record more)."""

    model_config = ConfigDict(frozen=True, extra="allow")

    indievalue_version: str | None = None
    git_commit: str | None = None
    python: str | None = None
    platform: str | None = None
    libraries: dict[str, str] = Field(default_factory=dict)
    time: str | None = None


class SpecFile(_File):
    """``spec.json``: what the run is, written once when the run directory is made."""

    format_version: Literal[1] = Field(default=1, description="Format of this file and of "
                                       "the run's records.jsonl (absent in version 1 files).")
    spec: RunSpec = Field(description="Everything that determines the run's records.")
    provenance: Provenance = Field(description="Package and library versions, commit, time.")
    label: str = Field(description="Display name of the run in tables and reports.")
    category_order: list[str] = Field(description="Category names in the statement spec's "
                                      "order (rows of per-category tables).")
    expected_records: int = Field(ge=0, description="Record lines of the finished run.")


def new_spec_file(spec: RunSpec, *, label: str, category_order: list[str],
                  expected_records: int) -> SpecFile:
    """The spec file of a run made now (provenance taken here)."""
    return SpecFile(spec=spec, provenance=Provenance.model_validate(provenance()), label=label,
                    category_order=category_order, expected_records=expected_records)


def write_spec_file(run_dir: Path, spec_file: SpecFile) -> None:
    write_json(run_dir / SPEC_FILE, spec_file.model_dump(mode="json"))


class GroupAccuracy(_File):
    accuracy: float = Field(description="Mean accuracy (%) of the group's persons.")
    n: int = Field(ge=0, description="Eval persons in the group.")


class ReliabilityBin(_File):
    confidence: float
    accuracy: float
    n: int = Field(ge=0)


class ProbabilityMetrics(_File):
    log_loss: float
    brier: float
    ece: float
    reliability: list[ReliabilityBin] = Field(description="Reliability diagram, 10 bins.")


class Forms(_File):
    demo: Form
    probe: Form


class CacheCounts(_File):
    hits: int = 0
    misses: int = 0


class LMCounts(_File):
    requests: int | None = None
    retries: int | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    cost: float | None = None
    faults: dict[str, int] | None = None


class Summary(_File):
    """``summary.json``: every metric of a run, computed from its records alone (accuracies
    in percent). Keys whose value is absent (no probabilities, no sweep, ...) are left out of
    the file."""

    format_version: Literal[1, 2] = Field(default=2, description="Format of this file.")
    overall: float = Field(description="Mean over persons of their mean over setups.")
    overall_ci95: list[float] = Field(min_length=2, max_length=2,
                                      description="95% bootstrap interval over persons.")
    per_setup: list[float]
    per_category: dict[str, float]
    chance_per_setup: list[float] = Field(description="Analytic accuracy of a uniform guess.")
    n_persons: int = Field(ge=0)
    n_records: int = Field(ge=0)
    parse_failures: int = Field(ge=0)
    errors: int = Field(ge=0)
    abstentions: int = Field(ge=0)
    sigma_inequity: float | None
    sigma_by_dimension: dict[str, float | None]
    groups: dict[str, dict[str, GroupAccuracy]]
    probability: ProbabilityMetrics | None = None
    sweep: dict[str, float] | None = Field(None, description="Accuracy per cluster size.")
    synthetic: bool
    predictor: str
    label: str
    form: Forms
    protocol: Literal["A", "B"]
    demos: int
    expected_per_setup: list[float] | None = Field(
        None, description="The random predictor's analytic expectation (= chance_per_setup).")
    complete: bool = Field(description="Whether every expected record is there.")
    expected_records: int | None = Field(
        None, description="Record lines of the finished run (absent in version 1).")
    cache: CacheCounts | None = None
    lm: LMCounts | None = None

    def to_json(self) -> dict[str, Any]:
        """The file's content: absent optional parts left out."""
        data = self.model_dump(mode="json")
        for key in ("probability", "sweep", "expected_per_setup", "cache", "lm"):
            if data[key] is None:
                del data[key]
        return data

    @property
    def partial(self) -> str | None:
        """``PARTIAL: n of N expected records`` for an incomplete run, else None."""
        if self.complete:
            return None
        return partial_text(self.n_records, self.expected_records)


def partial_text(n_records: int, expected: int | None) -> str:
    of = f" of {expected} expected" if expected is not None else ""
    return f"PARTIAL: {n_records}{of} records"


def _load(path: Path, model: type[_File], newest: int) -> Any:
    """Read ``path`` as ``model`` (strict: types as written, no coercion), one line if not."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise IndieValueError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IndieValueError(f"{path}: unreadable JSON ({exc})") from None
    if not isinstance(data, dict):
        raise IndieValueError(f"{path}: expected a JSON object")
    version = data.setdefault("format_version", 1)
    if isinstance(version, int) and not isinstance(version, bool) and version > newest:
        raise IndieValueError(f"{path}: format_version {version} is newer than this "
                              f"indievalue reads ({newest}); upgrade indievalue")
    try:
        return model.model_validate(data, strict=True)
    except ValidationError as exc:
        raise IndieValueError(f"{path}: {validation_text(exc)}") from None


def read_spec_file(run_dir: Path) -> SpecFile:
    spec_file: SpecFile = _load(run_dir / SPEC_FILE, SpecFile, SPEC_FORMAT)
    return spec_file


def read_summary(run_dir: Path) -> Summary:
    summary: Summary = _load(run_dir / SUMMARY_FILE, Summary, SUMMARY_FORMAT)
    return summary


def read_eval_ids_file(run_dir: Path, spec: RunSpec) -> np.ndarray:
    """The run's eval persons, checked against the spec's digest."""
    path = run_dir / EVAL_IDS_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise IndieValueError(f"{path}: no such file (a run directory has its eval "
                              "persons)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise IndieValueError(f"{path}: cannot read ({exc})") from None
    try:
        ids = [int(x) for x in text.split()]
    except ValueError:
        raise IndieValueError(f"{path}: not a list of person ids") from None
    if eval_ids_digest(ids) != spec.eval_ids_sha256 or len(ids) != spec.n_persons:
        raise IndieValueError(f"{path}: does not match {SPEC_FILE} (eval_ids_sha256, "
                              "n_persons): the files are of different runs")
    return np.array(ids, dtype=np.int64)


#: groups.json: person id -> fairness dimension -> the person's statement (None: missing).
GROUPS = TypeAdapter(dict[str, dict[str, str | None]])


def read_groups(run_dir: Path, eval_ids: np.ndarray) -> pd.DataFrame | None:
    """groups.json as a frame indexed by person id (one column per dimension), or None when
    the run has none. Its persons must be the run's eval persons."""
    path = run_dir / GROUPS_FILE
    if not path.exists():
        return None
    try:
        data = GROUPS.validate_json(path.read_bytes(), strict=True)
    except OSError as exc:
        raise IndieValueError(f"{path}: cannot read ({exc})") from None
    except ValidationError as exc:
        raise IndieValueError(f"{path}: {validation_text(exc)}") from None
    try:
        persons = np.array([int(k) for k in data], dtype=np.int64)
    except ValueError:
        raise IndieValueError(f"{path}: keys must be person ids") from None
    if set(persons.tolist()) != set(eval_ids.tolist()):
        raise IndieValueError(f"{path}: its persons are not those of {EVAL_IDS_FILE}")
    frame = pd.DataFrame.from_dict(data, orient="index")
    frame.index = persons
    return frame


@dataclass
class Run:
    """A run directory, read: its spec file and eval persons now, records and summary when
    first asked for (checked against the spec)."""

    path: Path
    spec_file: SpecFile
    eval_ids: np.ndarray

    @property
    def spec(self) -> RunSpec:
        return self.spec_file.spec

    @property
    def label(self) -> str:
        return self.spec_file.label

    @property
    def expected_records(self) -> int:
        return self.spec_file.expected_records

    @property
    def records_path(self) -> Path:
        return self.path / RECORDS

    @cached_property
    def table(self) -> pa.Table:
        """Every record line, checked: the fields of the format version (names, types,
        ranges) and that they belong to this run."""
        table = read_records_table(self.records_path)
        check_against_spec(table, self, self.records_path)
        return table

    def use_table(self, table: pa.Table) -> None:
        """Take the records from ``table`` (what reading records.jsonl gives, e.g. kept by the
        run that wrote them) instead of the file; checked as a read table is."""
        check_columns(table, self.records_path)
        check_against_spec(table, self, self.records_path)
        self.__dict__["table"] = table
        self.__dict__.pop("records", None)

    @cached_property
    def records(self) -> pd.DataFrame:
        """The records as a DataFrame with a boolean ``correct`` column (the metrics' input)."""
        df = self.table.to_pandas()
        df["correct"] = (df["prediction"] == df["gold"]) & (df["status"] == "ok")
        return df

    def iter_records(self) -> Iterator[RecordLine]:
        """The record lines, one typed object each (slower than :attr:`records`)."""
        for batch in self.table.to_batches(max_chunksize=4096):
            for row in batch.to_pylist():
                yield RecordLine.model_validate(row)

    @property
    def n_records(self) -> int:
        return int(self.table.num_rows)

    @cached_property
    def summary(self) -> Summary:
        """summary.json when it is not older than the records; otherwise recomputed from the
        records (and rewritten, where the directory allows)."""
        summary_path = self.path / SUMMARY_FILE
        records = self.records_path
        if (summary_path.is_file() and records.is_file()
                and summary_path.stat().st_mtime >= records.stat().st_mtime):
            return read_summary(self.path)
        from indievalue.runs.summary import score, write_summary  # scoring reads a Run

        summary = score(self, write=False)
        with contextlib.suppress(OSError):  # a read-only copy: the result still serves
            write_summary(self.path, summary)
        return summary

    @property
    def partial(self) -> str | None:
        """``PARTIAL: n of N expected records`` when records are missing, else None."""
        s = self.summary
        return None if s.n_records == self.expected_records else \
            partial_text(s.n_records, self.expected_records)


def read_run(path: str | Path) -> Run:
    """Read a run directory: spec.json and eval_ids.txt now (checked), the records and the
    summary when asked for. A directory that is not a run raises one IndieValueError line."""
    p = Path(path)
    if not p.is_dir():
        raise IndieValueError(f"{p}: not a directory (expected a run directory)")
    if not (p / SPEC_FILE).is_file():
        raise IndieValueError(f"{p}: not a run directory (no {SPEC_FILE})")
    spec_file = read_spec_file(p)
    return Run(p, spec_file, read_eval_ids_file(p, spec_file.spec))


def check_against_spec(table: pa.Table, run: Run, path: Path) -> None:
    """Refuse records of another run: persons outside eval_ids.txt, setups or questions
    outside the spec's setups, categories outside its order, protocol A episodes other than
    0, one (person, setup, episode, question) twice, more lines than expected."""
    spec = run.spec
    if table.num_rows > run.expected_records:
        raise IndieValueError(f"{path}: {table.num_rows} records, more than the "
                              f"{run.expected_records} {SPEC_FILE} expects (records of "
                              "another run appended?)")
    persons = table.column("person_id").to_numpy()
    order = np.argsort(run.eval_ids, kind="stable")
    sorted_ids = run.eval_ids[order]
    at = np.clip(np.searchsorted(sorted_ids, persons), 0, max(len(sorted_ids) - 1, 0))
    known = sorted_ids[at] == persons if len(sorted_ids) else np.zeros(len(persons), bool)
    _first(path, ~known, lambda i: f"person {persons[i]} is not in {EVAL_IDS_FILE}")
    setup = table.column("setup").to_numpy()
    n_setups = len(spec.setups)
    _first(path, setup >= n_setups,
           lambda i: f"setup {setup[i]} is not one of the spec's {n_setups} setups")
    vocab = sorted({q for s in spec.setups for q in s})
    q_index = pc.index_in(table.column("question"), value_set=pa.array(vocab, pa.string()))
    q_pos = pc.fill_null(q_index, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    in_setup = np.zeros((max(n_setups, 1), len(vocab) + 1), dtype=bool)  # last column: unknown
    for k, qids in enumerate(spec.setups):
        in_setup[k, [vocab.index(q) for q in qids]] = True
    questions = table.column("question")
    _first(path, ~in_setup[setup, q_pos],
           lambda i: f"question {questions[i].as_py()!r} is not in setup {setup[i]} of the spec")
    categories = table.column("category")
    unknown_cat = pc.invert(pc.is_in(categories, value_set=pa.array(
        run.spec_file.category_order, pa.string()))).to_numpy(zero_copy_only=False)
    _first(path, unknown_cat,
           lambda i: f"category {categories[i].as_py()!r} is not in the spec's category_order")
    episode = table.column("episode").to_numpy()
    if spec.protocol == "A":
        _first(path, episode != 0, lambda i: f"episode {episode[i]} in a protocol A run "
               "(always 0)")
    # one key per (person, setup, episode, question): positions, so the product stays small
    person_pos = order[at].astype(np.int64)
    key = ((person_pos * n_setups + setup) * (int(episode.max(initial=0)) + 1) + episode) \
        * (len(vocab) + 1) + q_pos
    by_key = np.argsort(key, kind="stable")
    twice = np.zeros(len(key), dtype=bool)
    twice[by_key[1:][key[by_key[1:]] == key[by_key[:-1]]]] = True
    _first(path, twice, lambda i: "a second record of person, setup, episode and question "
           f"({persons[i]}, {setup[i]}, {episode[i]}, {questions[i].as_py()!r})")


def _first(path: Path, bad: np.ndarray, what: Any) -> None:
    """Raise naming the first line where ``bad`` is true; ``what(row)`` says what is wrong."""
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise IndieValueError(f"{path}:{row + 1}: {what(row)}")
