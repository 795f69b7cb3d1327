"""Run directories as the report sees them: spec, provenance, summary, per-person accuracy.

The report reads nothing else: not the catalog, not the predictor. Each directory is read with
:func:`indievalue.runs.files.read_run` (checked against its format); a summary older than the
records (an interrupted or resumed run) is recomputed from the records.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from indievalue.errors import IndieValueError
from indievalue.metrics.accuracy import person_accuracy
from indievalue.runs import files
from indievalue.runs.files import Provenance, Summary, read_run
from indievalue.runs.spec import RunSpec

# Spec fields that make two runs with one label different experiments (shown as a variant).
VARIANT_FIELDS = ("predictor", "predictor_options", "protocol", "demos", "demographics",
                  "demo_category", "train_continent", "seed", "n_persons", "eval_ids_sha256",
                  "catalog_hash")


@dataclass
class Run:
    """One run directory, loaded, with the names the report shows it under."""

    source: files.Run
    summary: Summary
    row: str = ""  # Table-3 row: label plus what sets it apart from same-label runs
    name: str = ""  # unique display name: row plus form

    @property
    def path(self) -> Path:
        return self.source.path

    @property
    def spec(self) -> RunSpec:
        return self.source.spec

    @property
    def provenance(self) -> Provenance:
        return self.source.spec_file.provenance

    @property
    def label(self) -> str:
        return self.source.label

    @property
    def probe_form(self) -> str:
        return str(self.spec.probe_form)

    @property
    def form_text(self) -> str:
        demo, probe = self.spec.demo_form, self.spec.probe_form
        return probe if demo == probe else f"{demo} demos → {probe} probes"

    @property
    def synthetic(self) -> bool:
        return self.summary.synthetic or self.spec.synthetic

    @property
    def partial(self) -> str | None:
        """``PARTIAL: n of N expected records`` for an incomplete run, else None."""
        return self.source.partial

    @cached_property
    def person_accuracy(self) -> pd.Series:
        """acc(i) of every person (0..1), indexed by person id."""
        return person_accuracy(self.source.records)


def load_run(path: str | Path) -> Run:
    """Read a run directory; a user mistake (not a run directory, files of another format or
    run) raises IndieValueError."""
    run = read_run(path)
    records = run.records_path
    if not records.is_file() or records.stat().st_size == 0:
        raise IndieValueError(f"{run.path}: no records yet (run `indievalue evaluate` first)")
    return Run(run, run.summary)


def load_runs(paths: Sequence[str | Path]) -> list[Run]:
    """Load and name runs in the given order; the same directory twice counts once."""
    if not paths:
        raise IndieValueError("give at least one run directory")
    seen: set[Path] = set()
    runs = []
    for p in paths:
        key = Path(p).resolve()
        if key in seen:
            continue
        seen.add(key)
        runs.append(load_run(p))
    name_runs(runs)
    return runs


def _variant_text(field_name: str, value: Any) -> str:
    if field_name == "demos":
        return f"{value} demos"
    if field_name == "demographics":
        return {"off": "no demographics", "on": "with demographics",
                "only": "demographics only"}.get(str(value), str(value))
    if field_name == "demo_category":
        return f"demos from {value}" if value else "demos from all categories"
    if field_name == "train_continent":
        return f"trained on {value}" if value else "trained on all"
    if field_name == "protocol":
        return f"protocol {value}"
    if field_name == "predictor_options":
        return ", ".join(f"{k}={v}" for k, v in sorted(value.items())) or "default options"
    if field_name in ("eval_ids_sha256", "catalog_hash"):
        return f"{field_name.split('_')[0]} {str(value)[:8]}"
    return f"{field_name} {value}"


def name_runs(runs: Sequence[Run]) -> None:
    """Set ``row`` (Table-3 row: runs sharing it differ only in form) and a unique ``name``.

    Runs with one label become one row per distinct experiment; what distinguishes them is
    appended in parentheses. Demonstrations in another form than the probes count as a
    distinct experiment too (Table 3 pairs polar/polar with refined/refined).
    """
    by_label: dict[str, list[Run]] = defaultdict(list)
    for r in runs:
        by_label[r.label].append(r)
    for label, group in by_label.items():
        differing = [f for f in VARIANT_FIELDS
                     if len({repr(getattr(r.spec, f)) for r in group}) > 1]
        for r in group:
            parts = [_variant_text(f, getattr(r.spec, f)) for f in differing]
            if r.spec.demo_form != r.spec.probe_form:
                parts.append(f"{r.spec.demo_form} demos")
            r.row = f"{label} ({'; '.join(parts)})" if parts else label
    slots: dict[tuple[str, str], list[Run]] = defaultdict(list)
    for r in runs:
        slots[(r.row, r.probe_form)].append(r)
    for clash in slots.values():
        if len(clash) > 1:  # the same experiment twice: tell the directories apart
            short = len({r.path.name for r in clash}) == len(clash)
            for r in clash:
                r.row = f"{r.row} [{r.path.name if short else r.path}]"
    for r in runs:
        r.name = f"{r.row} · {r.probe_form}"
