"""``indievalue analyze demos``: accuracy against the number of demonstrations, without and
with demographic statements, and with demographics alone (paper Figures 4 and 10).

Significance follows PROTOCOL §4.4: independent two-sample t-tests (equal variances) between
per-person accuracies — off vs on at each demonstration count, and each count (off) vs
demographics only. With zero demonstrations "on" shows exactly what "only" shows, so that
point is the demographics-only run and is not run twice.

A predictor with a ``context`` option (Resemble, the value model) compares persons on every
non-probe answer an episode shows when it is ``visible`` (Resemble's default): that does not
change with the number of demonstrations, so the sweep would be flat. Here such a predictor
reads the sampled demonstrations only (``context=demos``); asking for ``visible`` is refused.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, get_args

import numpy as np
import pandas as pd
from scipy import stats

from indievalue.analyses.common import (
    AnalysisResult,
    ProgressFactory,
    person_scores,
    setups_text,
    start,
    write_outputs,
)
from indievalue.analyses.figures import DemoBox, demo_boxes
from indievalue.benchmark.episodes import Protocol
from indievalue.catalog.spec import Form
from indievalue.catalog.store import Catalog
from indievalue.errors import IndieValueError
from indievalue.predictors.base import get_predictor
from indievalue.report.document import Block, Table, Text
from indievalue.runs.config import EvalConfig

DEFAULT_DEMOS = (0, 50, 100, 150, 200)
ONLY = "only"


@dataclass(frozen=True)
class TTest:
    a: str
    b: str
    mean_a: float
    mean_b: float
    t: float
    p: float
    n_a: int
    n_b: int


def ttest(a_name: str, a: np.ndarray, b_name: str, b: np.ndarray) -> TTest:
    """scipy's independent two-sample t-test (equal variances); NaN when undefined (fewer than
    two values in a sample, or no variance at all)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = stats.ttest_ind(a, b) if len(a) > 1 and len(b) > 1 else None
    t = float(res.statistic) if res is not None else math.nan
    p = float(res.pvalue) if res is not None else math.nan
    return TTest(a_name, b_name, float(np.mean(a)), float(np.mean(b)), t, p, len(a), len(b))


def stars(p: float) -> str:
    if math.isnan(p):
        return ""
    return "***" if p < 0.001 else "**" if p < 0.01 else "*" if p < 0.05 else "n.s."


def setting_name(demos: int | None, mode: str) -> str:
    return "demographics only" if mode == ONLY else f"{demos} demos, demographics {mode}"


def demos_only(predictor: str, options: Mapping[str, Any] | None) -> dict[str, Any]:
    """``options`` with ``context=demos`` for a predictor that can read either every visible
    answer or the demonstrations only (see the module docstring); a predictor without that
    option is left alone."""
    chosen = dict(options or {})
    field = get_predictor(predictor).Options.model_fields.get("context")
    if field is None or "demos" not in get_args(field.annotation):
        return chosen
    context = chosen.setdefault("context", "demos")
    if context != "demos":
        raise IndieValueError(
            f"analyze demos: {predictor} with context={context} compares on every non-probe "
            "answer an episode shows, whatever the number of demonstrations, so the curve "
            "would be flat; use context=demos (the default here)")
    return chosen


def demos_analysis(
    catalog: Catalog | str | Path,
    predictor: str,
    out: str | Path,
    *,
    options: Mapping[str, Any] | None = None,
    demos: Sequence[int] = DEFAULT_DEMOS,
    form: Form = "polar",
    protocol: Protocol = "A",
    seed: int = 0,
    eval_size: int | None = None,
    progress: ProgressFactory | None = None,
) -> AnalysisResult:
    """Run the sweep (resuming existing runs) and write demos.png / demos.md / CSVs."""
    options = demos_only(predictor, options)
    st = start(catalog, predictor, options, out, eval_size, seed, progress)
    cat, out, runner, ids = st.catalog, st.out, st.runner, st.eval_ids

    def request(d: int, mode: str) -> EvalConfig:
        return runner.config(protocol=protocol, demos=d, demo_form=form, probe_form=form,
                             demographics=mode, seed=seed, eval_ids_file=ids)

    dirs: dict[tuple[int | None, str], Path] = {}
    dirs[(None, ONLY)] = runner.run("demographics-only", request(0, ONLY),
                                    f"{runner.describe} · demographics only")
    for d in sorted(demos):
        for mode in ("off", "on"):
            if d == 0 and mode == "on":
                continue
            dirs[(d, mode)] = runner.run(f"d{d:03d}-{mode}", request(d, mode),
                                         f"{runner.describe} · {d} demos · demographics {mode}")
    scores = {key: person_scores(path).to_numpy() for key, path in dirs.items()}
    only = scores[(None, ONLY)]
    tests: list[TTest] = []
    pair_p: dict[int, float] = {}
    for d in sorted(demos):
        if d > 0:
            tests.append(ttest(setting_name(d, "off"), scores[(d, "off")],
                               setting_name(d, "on"), scores[(d, "on")]))
            pair_p[d] = tests[-1].p
        tests.append(ttest(setting_name(d, "off"), scores[(d, "off")],
                           setting_name(None, ONLY), only))

    rows = []
    for (count, mode), values in scores.items():
        rows.append({"setting": setting_name(count, mode), "demos": count or 0,
                     "demographics": mode, "mean": float(np.mean(values)),
                     "sd": float(np.std(values, ddof=1)) if len(values) > 1 else math.nan,
                     "persons": len(values), "run": str(dirs[(count, mode)])})
    table = pd.DataFrame(rows)
    test_frame = pd.DataFrame([t.__dict__ for t in tests])
    boxes = [DemoBox(None, ONLY, only)] + [
        DemoBox(d, mode, scores[(d, mode)]) for d in sorted(demos) for mode in ("off", "on")
        if (d, mode) in scores]
    fig = demo_boxes(boxes, pair_p, title=f"{runner.describe}: accuracy by number of "
                     f"demonstrations ({form}, protocol {protocol})")
    blocks: list[Block] = [
        Table(["setting", "mean accuracy (%)", "sd", "persons"],
              [[str(r.setting), f"{r.mean:.2f}", f"{r.sd:.2f}", str(r.persons)]
               for r in table.itertuples()], numeric=[False, True, True, True],
              csv="demos.csv",
              caption=f"Per-person accuracy (mean over the {setups_text(cat.spec)})."),
        Table(["comparison", "means (%)", "t", "p", ""],
              [[f"{t.a} vs {t.b}", f"{t.mean_a:.2f} vs {t.mean_b:.2f}", f"{t.t:.3f}",
                f"{t.p:.4f}", stars(t.p)] for t in tests],
              numeric=[False, True, True, True, False], csv="demos_ttests.csv",
              caption="Independent two-sample t-tests (equal variances) on per-person "
              "accuracies. * p<0.05, ** p<0.01, *** p<0.001, n.s. otherwise."),
        Text(f"Eval set: `{ids.name}` ({len(only)} persons, seed {seed}); runs under "
             "`runs/`. With 0 demonstrations, demographics on = demographics only."
             + (" The predictor compares on the sampled demonstrations only "
                "(`context=demos`), so what it sees grows with their number."
                if "context" in options else "")),
    ]
    result = write_outputs(out, "demos", "Demonstration count and demographics", fig,
                           "Per-person accuracy (box: quartiles, whiskers: 1.5 IQR, diamond: "
                           "mean); stars mark off-vs-on differences with p<0.05.", blocks,
                           {"demos": table, "demos_ttests": test_frame}, cat.synthetic)
    return replace(result, runs=list(dirs.values()))
