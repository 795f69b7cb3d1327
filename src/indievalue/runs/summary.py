"""``summary.json`` and ``summary.md`` of a run, computed from its records alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from pydantic import ValidationError

from indievalue.errors import IndieValueError
from indievalue.fsutil import atomic_write_text, read_json, write_json
from indievalue.metrics import accuracy as acc
from indievalue.metrics.inequity import inequity
from indievalue.metrics.probability import (
    brier,
    expected_calibration_error,
    log_loss,
    reliability,
)
from indievalue.runs.files import (
    GROUPS_FILE,
    LM_STATS_FILE,
    SPEC_FILE,
    SUMMARY_FILE,
    CacheCounts,
    Forms,
    GroupAccuracy,
    LMCounts,
    ProbabilityMetrics,
    ReliabilityBin,
    Run,
    Summary,
    read_groups,
    read_run,
)
from indievalue.runs.records import validation_text

__all__ = ["GROUPS_FILE", "SPEC_FILE", "score", "score_run", "summary_line", "summary_markdown"]


def probability_metrics(records: pd.DataFrame) -> ProbabilityMetrics | None:
    if "probs" not in records or records["probs"].isna().any():
        return None
    ok = records["status"] == "ok"
    if not ok.any():
        return None
    rows = records.loc[ok, "probs"].to_numpy()
    lengths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
    probs = np.full((len(rows), int(lengths.max())), np.nan)
    # scatter all rows at once: row i's values go to columns 0..len_i-1
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    probs[np.repeat(np.arange(len(rows)), lengths), np.arange(int(lengths.sum())) - starts] = \
        np.concatenate(rows).astype(np.float64, copy=False)
    gold = records.loc[ok, "gold"].to_numpy()
    return ProbabilityMetrics(
        log_loss=log_loss(probs, gold), brier=brier(probs, gold),
        ece=expected_calibration_error(probs, gold),
        reliability=[ReliabilityBin(confidence=p["confidence"], accuracy=p["accuracy"],
                                    n=int(p["n"])) for p in reliability(probs, gold)])


def summarize(records: pd.DataFrame, groups: pd.DataFrame | None, category_order: list[str],
              seed: int = 0) -> dict[str, Any]:
    """The metrics of ``records`` (the record fields of a :class:`Summary`), by name."""
    person = acc.person_accuracy(records)
    lo, hi = acc.bootstrap_ci(person.to_numpy(), seed=seed)
    per_setup = acc.per_setup_accuracy(records)
    status = records["status"].value_counts()
    out: dict[str, Any] = {
        "overall": acc.overall_accuracy(records),
        "overall_ci95": [lo, hi],
        "per_setup": [per_setup[k] for k in sorted(per_setup)],
        "per_category": acc.per_category_accuracy(records, category_order),
        "chance_per_setup": [v for _, v in sorted(acc.chance_per_setup(records).items())],
        "n_persons": int(person.size),
        "n_records": len(records),
        "parse_failures": int(status.get("parse_failure", 0)),
        "errors": int(status.get("error", 0)),
        "abstentions": int(status.get("abstain", 0)),
        "sigma_inequity": None,
        "sigma_by_dimension": {},
        "groups": {},
    }
    if groups is not None:
        ineq = inequity(person, groups)
        out["sigma_inequity"] = ineq["sigma_inequity"]
        dims: dict[str, Any] = ineq["dimensions"]  # type: ignore[assignment]
        out["sigma_by_dimension"] = {d: v["sigma"] for d, v in dims.items()}
        out["groups"] = {d: {g: GroupAccuracy(**s) for g, s in v["groups"].items()}
                         for d, v in dims.items()}
    out["probability"] = probability_metrics(records)
    sweep = acc.sweep_accuracy(records)
    out["sweep"] = {str(k): v for k, v in sweep.items()} if sweep else None
    return out


def _lm_counts(run_dir: Path) -> tuple[CacheCounts | None, LMCounts | None]:
    path = run_dir / LM_STATS_FILE
    if not path.exists():
        return None, None
    st = read_json(path)
    if not isinstance(st, dict):
        raise IndieValueError(f"{path}: expected a JSON object of counters")
    try:
        return (CacheCounts.model_validate({"hits": st.get("cache_hits", 0),
                                            "misses": st.get("cache_misses", 0)}, strict=True),
                LMCounts.model_validate({k: st.get(k) for k in LMCounts.model_fields},
                                        strict=True))
    except ValidationError as exc:
        raise IndieValueError(f"{path}: {validation_text(exc)}") from None


def score(run: Run | str | Path, *, write: bool = True, table: pa.Table | None = None
          ) -> Summary:
    """Recompute every metric of a run from its records (checked against its spec); with
    ``write``, also write summary.json and summary.md. ``table``: the records as already in
    memory (what reading records.jsonl gives; checked the same way) instead of the file."""
    run = run if isinstance(run, Run) else read_run(run)
    if table is not None:
        run.use_table(table)
    spec = run.spec
    records = run.records
    cache, lm = _lm_counts(run.path)
    n = len(records)
    summary = Summary(
        **summarize(records, read_groups(run.path, run.eval_ids), run.spec_file.category_order,
                    seed=spec.seed),
        synthetic=spec.synthetic, predictor=spec.predictor, label=run.label,
        form=Forms(demo=spec.demo_form, probe=spec.probe_form), protocol=spec.protocol,
        demos=spec.demos, complete=n == run.expected_records,
        expected_records=run.expected_records, cache=cache, lm=lm,
    )
    if spec.predictor == "random":
        summary = summary.model_copy(update={"expected_per_setup": summary.chance_per_setup})
    if write:
        write_summary(run.path, summary)
    return summary


def write_summary(run_dir: Path, summary: Summary) -> None:
    write_json(run_dir / SUMMARY_FILE, summary.to_json())
    atomic_write_text(run_dir / "summary.md", summary_markdown(summary))


def score_run(run_dir: str | Path) -> dict[str, Any]:
    """:func:`score`, returned as summary.json holds it (what ``evaluate`` returns)."""
    return score(run_dir).to_json()


def summary_line(s: Summary) -> str:
    """The one-line console summary; an incomplete run starts with PARTIAL and its counts."""
    partial = f"{s.partial}: " if s.partial else ""
    return (
        f"{partial}{s.label}: overall {s.overall:.2f} "
        f"(95% CI {s.overall_ci95[0]:.2f}–{s.overall_ci95[1]:.2f}); "
        "per setup " + " / ".join(f"{v:.2f}" for v in s.per_setup)
        + (f"; σ_INEQUITY {s.sigma_inequity:.2f}" if s.sigma_inequity is not None else "")
        + (f"; parse failures {s.parse_failures}" if s.parse_failures else "")
    )


def summary_markdown(s: Summary) -> str:
    lines = []
    if s.synthetic:
        lines += ["> **SYNTHETIC** data: generated by indievalue, not real survey responses.", ""]
    if s.partial:
        lines += [f"> **{s.partial}**: an interrupted run; every number below covers only the "
                  "records written so far. Rerun `indievalue evaluate` with the same options "
                  "to finish it.", ""]
    lines += [
        f"# {s.label} — protocol {s.protocol}, {s.demos} demonstrations, "
        f"{s.form.demo} demos / {s.form.probe} probes",
        "",
        f"- overall accuracy: **{s.overall:.2f}** "
        f"(95% CI {s.overall_ci95[0]:.2f}–{s.overall_ci95[1]:.2f}), "
        f"{s.n_persons} persons, {s.n_records} records",
        "- per setup: " + " / ".join(f"{v:.2f}" for v in s.per_setup),
        "- chance per setup: " + " / ".join(f"{v:.2f}" for v in s.chance_per_setup),
    ]
    if s.sigma_inequity is not None:
        lines.append(f"- σ_INEQUITY: {s.sigma_inequity:.2f}")
    if s.cache is not None:
        lm = s.lm or LMCounts()
        lines.append(f"- response cache: {s.cache.hits} hits, {s.cache.misses} "
                     f"misses; retries {lm.retries or 0}; faults {lm.faults or {}}; "
                     f"tokens {lm.tokens_in or 0} in / {lm.tokens_out or 0} out")
    if s.parse_failures or s.errors:
        lines.append(f"- parse failures: {s.parse_failures}, errors: {s.errors} "
                     "(scored wrong)")
    if s.probability is not None:
        p = s.probability
        lines.append(f"- log loss {p.log_loss:.4f}, Brier {p.brier:.4f}, ECE {p.ece:.4f}")
    lines += ["", "| category | accuracy |", "|---|---|"]
    lines += [f"| {c} | {v:.2f} |" for c, v in s.per_category.items()]
    if s.sigma_by_dimension:
        lines += ["", "| dimension | σ |", "|---|---|"]
        lines += [f"| {d} | {'' if v is None else f'{v:.2f}'} |"
                  for d, v in s.sigma_by_dimension.items()]
    if s.sweep:
        lines += ["", "| cluster size N | accuracy |", "|---|---|"]
        lines += [f"| {n} | {v:.2f} |" for n, v in s.sweep.items()]
    return "\n".join(lines) + "\n"
