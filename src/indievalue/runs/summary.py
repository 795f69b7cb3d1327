"""``summary.json`` and ``summary.md`` of a run, computed from its records alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from indievalue.fsutil import atomic_write_text, read_json, write_json
from indievalue.metrics import accuracy as acc
from indievalue.metrics.inequity import inequity
from indievalue.metrics.probability import (
    brier,
    expected_calibration_error,
    log_loss,
    reliability,
)
from indievalue.runs.records import load_records

SPEC_FILE = "spec.json"
GROUPS_FILE = "groups.json"  # eval persons' demographic statements per fairness dimension


def probability_metrics(records: pd.DataFrame) -> dict[str, Any] | None:
    if "probs" not in records or records["probs"].isna().any():
        return None
    ok = records["status"] == "ok"
    if not ok.any():
        return None
    rows = records.loc[ok, "probs"].to_numpy()
    lengths = np.fromiter((len(p) for p in rows), dtype=np.int64, count=len(rows))
    probs = np.full((len(rows), int(lengths.max())), np.nan)
    # scatter all rows at once: row i's values go to columns 0..len_i-1
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    probs[np.repeat(np.arange(len(rows)), lengths), np.arange(int(lengths.sum())) - starts] = \
        np.concatenate([np.asarray(p, dtype=np.float64) for p in rows])
    gold = records.loc[ok, "gold"].to_numpy()
    return {
        "log_loss": log_loss(probs, gold),
        "brier": brier(probs, gold),
        "ece": expected_calibration_error(probs, gold),
        "reliability": reliability(probs, gold),
    }


def summarize(records: pd.DataFrame, groups: pd.DataFrame | None, category_order: list[str],
              seed: int = 0) -> dict[str, Any]:
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
        out["groups"] = {d: v["groups"] for d, v in dims.items()}
    probs = probability_metrics(records)
    if probs is not None:
        out["probability"] = probs
    sweep = acc.sweep_accuracy(records)
    if sweep:
        out["sweep"] = {str(k): v for k, v in sweep.items()}
    return out


def load_groups(run_dir: Path) -> pd.DataFrame | None:
    path = run_dir / GROUPS_FILE
    if not path.exists():
        return None
    data = read_json(path)
    df = pd.DataFrame.from_dict(data, orient="index")
    df.index = df.index.astype(np.int64)
    return df


def score_run(run_dir: str | Path) -> dict[str, Any]:
    """Recompute every metric of a run from its records and write summary.json / summary.md."""
    run_dir = Path(run_dir)
    meta = read_json(run_dir / SPEC_FILE)
    spec = meta["spec"]
    records = load_records(run_dir)
    summary = summarize(records, load_groups(run_dir), meta.get("category_order", []),
                        seed=spec["seed"])
    summary["synthetic"] = spec["synthetic"]
    summary["predictor"] = spec["predictor"]
    summary["label"] = meta.get("label", spec["predictor"])
    summary["form"] = {"demo": spec["demo_form"], "probe": spec["probe_form"]}
    summary["protocol"] = spec["protocol"]
    summary["demos"] = spec["demos"]
    if spec["predictor"] == "random":
        summary["expected_per_setup"] = summary["chance_per_setup"]
    summary["complete"] = summary["n_records"] == meta.get("expected_records")
    lm_stats = run_dir / "lm_stats.json"
    if lm_stats.exists():
        st = read_json(lm_stats)
        summary["cache"] = {"hits": st.get("cache_hits", 0), "misses": st.get("cache_misses", 0)}
        summary["lm"] = {k: st.get(k) for k in ("requests", "retries", "tokens_in", "tokens_out",
                                                 "cost", "faults")}
    write_json(run_dir / "summary.json", summary)
    atomic_write_text(run_dir / "summary.md", summary_markdown(summary))
    return summary


def summary_markdown(s: dict[str, Any]) -> str:
    lines = []
    if s.get("synthetic"):
        lines += ["> **SYNTHETIC** data: generated by indievalue, not real survey responses.", ""]
    lines += [
        f"# {s['label']} — protocol {s['protocol']}, {s['demos']} demonstrations, "
        f"{s['form']['demo']} demos / {s['form']['probe']} probes",
        "",
        f"- overall accuracy: **{s['overall']:.2f}** "
        f"(95% CI {s['overall_ci95'][0]:.2f}–{s['overall_ci95'][1]:.2f}), "
        f"{s['n_persons']} persons, {s['n_records']} records",
        "- per setup: " + " / ".join(f"{v:.2f}" for v in s["per_setup"]),
        "- chance per setup: " + " / ".join(f"{v:.2f}" for v in s["chance_per_setup"]),
    ]
    if s.get("sigma_inequity") is not None:
        lines.append(f"- σ_INEQUITY: {s['sigma_inequity']:.2f}")
    if "cache" in s:
        lm = s.get("lm", {})
        lines.append(f"- response cache: {s['cache']['hits']} hits, {s['cache']['misses']} "
                     f"misses; retries {lm.get('retries', 0)}; faults {lm.get('faults', {})}; "
                     f"tokens {lm.get('tokens_in', 0)} in / {lm.get('tokens_out', 0)} out")
    if s["parse_failures"] or s["errors"]:
        lines.append(f"- parse failures: {s['parse_failures']}, errors: {s['errors']} "
                     "(scored wrong)")
    if "probability" in s:
        p = s["probability"]
        lines.append(f"- log loss {p['log_loss']:.4f}, Brier {p['brier']:.4f}, "
                     f"ECE {p['ece']:.4f}")
    lines += ["", "| category | accuracy |", "|---|---|"]
    lines += [f"| {c} | {v:.2f} |" for c, v in s["per_category"].items()]
    if s.get("sigma_by_dimension"):
        lines += ["", "| dimension | σ |", "|---|---|"]
        lines += [f"| {d} | {'' if v is None else f'{v:.2f}'} |"
                  for d, v in s["sigma_by_dimension"].items()]
    if s.get("sweep"):
        lines += ["", "| cluster size N | accuracy |", "|---|---|"]
        lines += [f"| {n} | {v:.2f} |" for n, v in s["sweep"].items()]
    return "\n".join(lines) + "\n"
