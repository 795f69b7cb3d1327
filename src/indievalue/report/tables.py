"""The report's tables, each as a display table and a CSV frame, built from loaded runs."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from indievalue.metrics.accuracy import bootstrap_ci
from indievalue.report.document import Table
from indievalue.report.groups import short_labels
from indievalue.report.plots import Interval
from indievalue.report.runs import Run
from indievalue.runs.files import CacheCounts, Summary

DASH = "–"


def num(v: float | None, digits: int = 2) -> str:
    return DASH if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"


def with_ci(v: float, ci: Sequence[float] | None) -> str:
    if not ci:
        return num(v)
    return f"{num(v)} [{num(ci[0])}, {num(ci[1])}]"


@dataclass(frozen=True)
class Built:
    table: Table
    frame: pd.DataFrame


@dataclass(frozen=True)
class ComparisonRow:
    name: str
    by_form: dict[str, Interval]
    both: Interval | None  # mean of polar and refined
    sigma: dict[str, float | None]
    persons: int


def _interval(run: Run) -> Interval:
    s = run.summary
    lo, hi = s.overall_ci95
    return Interval(s.overall, lo, hi)


def _mean_of_forms(polar: Run, refined: Run) -> Interval:
    """(polar + refined) / 2, with a paired bootstrap interval when both scored the same
    persons; without one (NaN bounds) otherwise."""
    mean = (polar.summary.overall + refined.summary.overall) / 2
    if polar.spec.eval_ids_sha256 != refined.spec.eval_ids_sha256:
        return Interval(mean, math.nan, math.nan)
    a, b = polar.person_accuracy, refined.person_accuracy
    paired = ((a + b.reindex(a.index)) / 2).dropna().to_numpy()
    lo, hi = bootstrap_ci(paired, seed=polar.spec.seed)
    return Interval(mean, lo, hi)


def comparison_rows(runs: Sequence[Run]) -> list[ComparisonRow]:
    """Table 3: one row per experiment, its polar and refined runs side by side."""
    order: list[str] = []
    pairs: dict[str, dict[str, Run]] = {}
    for r in runs:
        if r.row not in pairs:
            order.append(r.row)
            pairs[r.row] = {}
        pairs[r.row][r.probe_form] = r
    rows = []
    for name in order:
        forms = pairs[name]
        both = (_mean_of_forms(forms["polar"], forms["refined"])
                if "polar" in forms and "refined" in forms else None)
        rows.append(ComparisonRow(
            name=name,
            by_form={f: _interval(r) for f, r in forms.items()},
            both=both,
            sigma={f: r.summary.sigma_inequity for f, r in forms.items()},
            persons=max(r.summary.n_persons for r in forms.values()),
        ))
    return rows


def comparison_table(rows: Sequence[ComparisonRow]) -> Built:
    def cell(iv: Interval | None) -> str:
        if iv is None:
            return DASH
        if math.isnan(iv.low):
            return num(iv.mean)
        return with_ci(iv.mean, (iv.low, iv.high))

    header = ["predictor", "polar", "refined", "all", "σ_INEQUITY polar",
              "σ_INEQUITY refined", "persons"]
    body, records = [], []
    for r in rows:
        p, f = r.by_form.get("polar"), r.by_form.get("refined")
        body.append([r.name, cell(p), cell(f), cell(r.both), num(r.sigma.get("polar")),
                     num(r.sigma.get("refined")), str(r.persons)])
        rec: dict[str, Any] = {"predictor": r.name}
        for key, iv in (("polar", p), ("refined", f), ("all", r.both)):
            rec[key] = None if iv is None else iv.mean
            rec[f"{key}_ci_low"] = None if iv is None or math.isnan(iv.low) else iv.low
            rec[f"{key}_ci_high"] = None if iv is None or math.isnan(iv.high) else iv.high
        rec["sigma_polar"] = r.sigma.get("polar")
        rec["sigma_refined"] = r.sigma.get("refined")
        rec["persons"] = r.persons
        records.append(rec)
    table = Table(header, body, numeric=[False] + [True] * 6,
                  caption="Accuracy (%) with 95% bootstrap intervals over persons; "
                  "'all' is the mean of the polar and refined columns.",
                  csv="tables/comparison.csv")
    return Built(table, pd.DataFrame.from_records(records))


def runs_table(runs: Sequence[Run]) -> Built:
    header = ["run", "directory", "protocol", "demos", "forms", "demographics", "persons",
              "overall", "per setup", "complete"]
    body, records = [], []
    for r in runs:
        s, sp = r.summary, r.spec
        setups = " / ".join(num(v) for v in s.per_setup)
        body.append([r.name, f"`{r.path}`", sp.protocol, str(sp.demos), r.form_text,
                     sp.demographics, str(s.n_persons), with_ci(s.overall, s.overall_ci95),
                     setups, r.partial or "yes"])
        records.append({"run": r.name, "directory": str(r.path), "label": r.label,
                        "predictor": sp.predictor, "protocol": sp.protocol,
                        "demos": sp.demos, "demo_form": sp.demo_form,
                        "probe_form": sp.probe_form, "demographics": sp.demographics,
                        "persons": s.n_persons, "overall": s.overall,
                        **{f"setup_{k}": v for k, v in enumerate(s.per_setup)},
                        "complete": r.partial is None, "records": s.n_records,
                        "expected_records": r.source.expected_records,
                        "synthetic": r.synthetic})
    return Built(Table(header, body, numeric=[False] * 3 + [True] + [False] * 2 + [True] * 3
                       + [False], csv="tables/runs.csv"),
                 pd.DataFrame.from_records(records))


def matrix_table(runs: Sequence[Run], cells: Callable[[Summary], Mapping[str, float | None]],
                 total: Callable[[Summary], float | None], total_label: str,
                 first: str, csv: str, caption: str) -> tuple[Built, np.ndarray, list[str]]:
    """Rows = the keys of ``cells(summary)`` (first run's order first), columns = runs, plus
    a last row ``total(summary)``. Missing values are NaN."""
    names: list[str] = []
    for r in runs:
        for k in cells(r.summary):
            if k not in names:
                names.append(k)
    values = np.full((len(names) + 1, len(runs)), np.nan)
    for j, r in enumerate(runs):
        got = cells(r.summary)
        for i, k in enumerate(names):
            v = got.get(k)
            values[i, j] = np.nan if v is None else float(v)
        t = total(r.summary)
        values[-1, j] = np.nan if t is None else float(t)
    row_names = [*names, total_label]
    body = [[n, *(num(float(v)) for v in values[i])] for i, n in enumerate(row_names)]
    frame = pd.DataFrame(values, index=pd.Index(row_names, name=first),
                         columns=[r.name for r in runs]).reset_index()
    table = Table([first, *(r.name for r in runs)], body,
                  numeric=[False] + [True] * len(runs), caption=caption, csv=csv)
    return Built(table, frame), values, row_names


def groups_frame(runs: Sequence[Run]) -> pd.DataFrame:
    """Every run's accuracy per demographic group (long format, for the CSV)."""
    rows = []
    for r in runs:
        for dim, groups in r.summary.groups.items():
            for g, stat in groups.items():
                rows.append({"run": r.name, "dimension": dim, "group": g,
                             "accuracy": stat.accuracy, "n": stat.n})
    return pd.DataFrame(rows, columns=["run", "dimension", "group", "accuracy", "n"])


def extremes_table(run: Run) -> Table:
    """Per dimension of one run: σ, the best- and worst-served groups and the gap."""
    body = []
    sigmas = run.summary.sigma_by_dimension
    for dim, groups in run.summary.groups.items():
        if not groups:
            continue
        short = dict(zip(groups, short_labels(list(groups), width=48), strict=True))
        ranked = sorted(groups.items(), key=lambda kv: -kv[1].accuracy)
        (top, ts), (low, ls) = ranked[0], ranked[-1]
        top, low = short[top], short[low]
        body.append([dim, num(sigmas.get(dim)), str(len(groups)),
                     f"{top} ({num(ts.accuracy)}, n={ts.n})",
                     f"{low} ({num(ls.accuracy)}, n={ls.n})",
                     num(ts.accuracy - ls.accuracy)])
    return Table(["dimension", "σ", "groups", "highest accuracy", "lowest accuracy", "gap"],
                 body, numeric=[False, True, True, False, False, True],
                 caption=f"{run.name}: best- and worst-served group per dimension.",
                 csv="tables/groups.csv")


def _cache_text(cache: CacheCounts | None) -> str:
    if cache is None:
        return DASH
    text = f"hits {cache.hits}, misses {cache.misses}"
    if cache.hits + cache.misses:
        text += f" (hit rate {100 * cache.hits / (cache.hits + cache.misses):.1f}%)"
    return text


def lm_table(runs: Sequence[Run]) -> Built | None:
    """Parse failures, errors and response-cache statistics of the runs that have any."""
    shown = [r for r in runs if r.summary.parse_failures or r.summary.errors
             or r.summary.cache is not None]
    if not shown:
        return None
    body, records = [], []
    for r in shown:
        s = r.summary
        n, pf, er = s.n_records, s.parse_failures, s.errors
        body.append([r.name, str(pf), str(er), str(n),
                     num(100 * (pf + er) / n if n else None), _cache_text(s.cache)])
        records.append({"run": r.name, "parse_failures": pf, "errors": er, "records": n,
                        "cache": json.dumps(None if s.cache is None else s.cache.model_dump())})
    return Built(Table(["run", "parse failures", "errors", "records", "unusable (%)", "cache"],
                       body, numeric=[False, True, True, True, True, False],
                       caption="Unusable answers are scored wrong.", csv="tables/lm.csv"),
                 pd.DataFrame.from_records(records))


def probability_table(runs: Sequence[Run]) -> Built | None:
    shown = [(r, r.summary.probability) for r in runs]
    if not any(p for _, p in shown):
        return None
    body, records = [], []
    for r, p in shown:
        if p is None:
            continue
        body.append([r.name, num(p.log_loss, 4), num(p.brier, 4), num(p.ece, 4)])
        records.append({"run": r.name, "log_loss": p.log_loss, "brier": p.brier,
                        "ece": p.ece})
    return Built(Table(["run", "log loss", "Brier", "ECE"], body,
                       numeric=[False, True, True, True], csv="tables/probability.csv",
                       caption="Lower is better for all three; ECE over 15 confidence bins."),
                 pd.DataFrame.from_records(records))


def sweep_table(runs: Sequence[Run]) -> Built | None:
    shown = [(r, r.summary.sweep) for r in runs]
    if not any(s for _, s in shown):
        return None
    body, records = [], []
    for r, got in shown:
        if not got:
            continue
        sweep = {int(k): v for k, v in got.items()}
        best = max(sweep, key=lambda k: (sweep[k], -k))
        body.append([r.name, str(best), num(sweep[best]), num(sweep.get(1))])
        records += [{"run": r.name, "cluster_size": k, "accuracy": v}
                    for k, v in sorted(sweep.items())]
    return Built(Table(["run", "best cluster size N", "accuracy at best N", "accuracy at N=1"],
                       body, numeric=[False, True, True, True], csv="tables/sweep.csv"),
                 pd.DataFrame.from_records(records))


def provenance_table(run: Run) -> Table:
    sp = run.spec.model_dump(mode="json")
    pv = run.provenance.model_dump(mode="json", exclude_unset=True)
    rows: list[list[str]] = [["directory", f"`{run.path}`"], ["label", run.label]]
    for k, v in sp.items():
        if k == "setups":
            sizes = ", ".join(str(len(s)) for s in v)
            rows.append(["setups", f"{len(v)} setups of {sizes} probe questions"])
        elif isinstance(v, dict | list):
            rows.append([k, json.dumps(v, ensure_ascii=False)])
        else:
            rows.append([k, str(v)])
    for k, v in pv.items():
        text = (", ".join(f"{a} {b}" for a, b in v.items()) if isinstance(v, dict)
                else str(v))
        rows.append([f"provenance: {k}", text])
    return Table(["field", "value"], rows)
