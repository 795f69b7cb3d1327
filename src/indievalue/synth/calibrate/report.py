"""Synthetic population against the real aggregates it was calibrated to (calibration report).

Pure functions from a generated frame (and the reference aggregates folder) to comparison
tables; ``tools/calibrate_synth.py`` turns them into ``benchmarks/out/calibration.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from indievalue.catalog.spec import StatementSpec
from indievalue.synth.calibrate.quickeval import labels

MISSING_DK = (-1, -2, -5)  # don't know, no answer, missing (not: not asked, not applicable)


@dataclass(frozen=True)
class Comparison:
    """Target vs synthetic values, one row per item, with the mean absolute error."""

    rows: pd.DataFrame  # columns: qid, label, target, synthetic (+ extras)
    mae: float


def _codes(text: str) -> list[int]:
    if "-" in text and " " not in text:
        lo, hi = (int(x) for x in text.split("-"))
        return list(range(lo, hi + 1))
    return [int(x) for x in text.split()]


def pooled_estimates(agg: Path, df: pd.DataFrame) -> tuple[Comparison, Comparison]:
    """Pooled shares and means of the 253 questions: the person-pooled synthetic value against
    the published pooled value, and the mean over countries against its unweighted
    counterpart. Returns (shares, means); rows carry both pairs, MAE on the country means."""
    est = pd.read_csv(agg / "tidy" / "pooled_global_estimates.csv")
    est = est[est["in_indievalue_253"] == "yes"]
    country = df["B_COUNTRY"].to_numpy()
    out: dict[str, list[dict[str, object]]] = {"share_of_codes": [], "mean_of_codes": []}
    for r in est.itertuples():
        measure = str(r.measure)
        if measure not in out or str(r.qid) not in df:
            continue
        x = df[str(r.qid)].to_numpy()
        codes = _codes(str(r.codes))
        if measure == "share_of_codes":
            valid = x > 0 if 0 not in codes else x >= 0
            value = np.isin(x, codes).astype(float)
        else:
            valid = np.isin(x, codes)
            value = x.astype(float)
        frame = pd.DataFrame({"c": country[valid], "v": value[valid]})
        out[measure].append({
            "qid": r.qid, "label": r.codebook_label, "codes": r.codes,
            "target_pooled": float(str(r.value)), "synthetic_pooled": float(frame["v"].mean()),
            "target": float(str(r.unweighted_mean_over_countries)),
            "synthetic": float(frame.groupby("c")["v"].mean().mean()),
        })
    res = []
    for measure in ("share_of_codes", "mean_of_codes"):
        rows = pd.DataFrame(out[measure])
        res.append(Comparison(rows, float((rows["target"] - rows["synthetic"]).abs().mean())))
    return res[0], res[1]


def histograms(agg: Path, df: pd.DataFrame) -> Comparison:
    """Pooled 10-point distributions (codes 1-10): MAE over all cells."""
    hist = pd.read_csv(agg / "tidy" / "pooled_10pt_histograms_earth1_cells.csv")
    rows = []
    for r in hist.itertuples():
        x = df[str(r.qid)].to_numpy()
        x = x[(x >= 1) & (x <= 10)]
        share = np.bincount(x, minlength=11)[1:] / max(len(x), 1)
        target = np.array([float(getattr(r, f"p{k}")) for k in range(1, 11)])
        target = target / target.sum()
        rows.append({"qid": r.qid, "label": r.codebook_label,
                     "target": " ".join(f"{v:.2f}" for v in target),
                     "synthetic": " ".join(f"{v:.2f}" for v in share),
                     "mae": float(np.abs(share - target).mean())})
    frame = pd.DataFrame(rows)
    return Comparison(frame, float(frame["mae"].mean()))


def missing_rates(agg: Path, df: pd.DataFrame, spec: StatementSpec) -> Comparison:
    """Per-question share of don't know / no answer among persons asked, against the mean
    share over the validated GlobalOpinionQA countries (the 253 value questions)."""
    rates = pd.read_csv(agg / "tidy" / "missing_rates_goqa_validated.csv")
    rows = []
    qids = set(spec.qids)
    for r in rates.itertuples():
        if str(r.qid) not in qids:
            continue
        x = df[str(r.qid)].to_numpy()
        asked = x != -4
        target = float(str(r.mean_dont_know_share)) + float(str(r.mean_no_answer_share))
        rows.append({"qid": r.qid, "label": r.codebook_label, "target": target,
                     "synthetic": float(np.isin(x[asked], MISSING_DK).mean())})
    frame = pd.DataFrame(rows)
    return Comparison(frame, float((frame["target"] - frame["synthetic"]).abs().mean()))


@dataclass(frozen=True)
class ValidCounts:
    mean: float
    sd: float
    complete: float  # percent answering all questions
    under_239: float  # percent with fewer than 239 valid answers (never eval persons)


def valid_counts(df: pd.DataFrame, spec: StatementSpec) -> ValidCounts:
    valid = (labels(df, spec, "polar") >= 0).sum(axis=1)
    n_q = len(spec.questions)
    return ValidCounts(float(valid.mean()), float(valid.std()),
                       100 * float((valid == n_q).mean()), 100 * float((valid < 239).mean()))
