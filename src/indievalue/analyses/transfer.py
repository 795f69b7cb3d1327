"""``indievalue analyze transfer``: demonstrations from one category, probes from all
(paper Figure 8). One run per source category on a seeded subset of the eval set; the matrix
is source category x probe category accuracy.

Demonstrations are every valid non-probe answer of the source category (the request asks for
the maximum of 200, and no category has that many), as in PROTOCOL §4.2.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from indievalue.analyses.common import (
    AnalysisResult,
    ProgressFactory,
    start,
    write_outputs,
)
from indievalue.benchmark.episodes import MAX_DEMOS, Protocol
from indievalue.benchmark.evalset import read_eval_ids, write_eval_ids
from indievalue.catalog.spec import Form
from indievalue.catalog.store import Catalog
from indievalue.errors import IndieValueError
from indievalue.report.document import Block, Table, Text
from indievalue.report.plots import heatmap
from indievalue.runs.files import read_run

SUBSET_IDS = "transfer_ids.txt"
STREAM_SUBSET = 21


def draw_subset(ids: np.ndarray, persons: int, seed: int) -> np.ndarray:
    """``persons`` ids drawn without replacement (seeded), kept in eval-set order."""
    if persons < 1:
        raise IndieValueError("--persons must be at least 1")
    if persons >= len(ids):
        return ids
    rng = np.random.default_rng([seed, STREAM_SUBSET])
    return ids[np.sort(rng.choice(len(ids), persons, replace=False))]


def transfer_analysis(
    catalog: Catalog | str | Path,
    predictor: str,
    out: str | Path,
    *,
    options: Mapping[str, Any] | None = None,
    persons: int = 100,
    form: Form = "polar",
    protocol: Protocol = "A",
    seed: int = 0,
    eval_size: int | None = None,
    progress: ProgressFactory | None = None,
) -> AnalysisResult:
    """Run one evaluation per source category and write transfer.png / .md / .csv."""
    st = start(catalog, predictor, options, out, eval_size, seed, progress)
    cat, out, runner, full = st.catalog, st.out, st.runner, st.eval_ids
    subset = draw_subset(read_eval_ids(full, cat, seed).person_ids, persons, seed)
    ids = out / SUBSET_IDS
    write_eval_ids(ids, subset)
    categories = list(cat.spec.categories)
    names = [c.name for c in categories]
    matrix = np.full((len(categories), len(categories) + 1), np.nan)
    dirs = []
    for i, source in enumerate(categories):
        req = runner.config(protocol=protocol, demos=MAX_DEMOS, demo_form=form,
                            probe_form=form, demo_category=source.key, seed=seed,
                            eval_ids_file=ids)
        run_dir = runner.run(f"demo-{source.key}", req,
                             f"{runner.describe} · demos from {source.key}")
        dirs.append(run_dir)
        summary = read_run(run_dir).summary
        for j, name in enumerate(names):
            value = summary.per_category.get(name)
            matrix[i, j] = np.nan if value is None else value
        matrix[i, -1] = summary.overall
    keys = [c.key for c in categories]
    fig = heatmap(matrix, [f"{c.name} ({c.key})" for c in categories], [*keys, "All"],
                  title="Accuracy (%) by source of demonstrations and probe category",
                  colorbar_label="accuracy (%)", xlabel="probe category",
                  ylabel="demonstrations from", outline=[(k, k) for k in range(len(keys))],
                  separate_last_col=True, rotate=False, row_wrap=46)
    frame = pd.DataFrame(matrix, columns=[*names, "All"])
    frame.insert(0, "demonstrations from", names)
    body = [[f"{n} ({k})", *(f"{v:.1f}" for v in matrix[i])]
            for i, (n, k) in enumerate(zip(names, keys, strict=True))]
    blocks: list[Block] = [
        Table(["demonstrations from", *keys, "All"], body,
              numeric=[False] + [True] * (len(keys) + 1), csv="transfer.csv",
              caption="Rows: the category demonstrations come from; columns: the probe "
              "category (keys as in the row labels); All: overall accuracy."),
        Text(f"{len(subset)} persons drawn (seed {seed}) from the eval set (`{full.name}`), "
             f"listed in `{ids.name}`; {form} statements, protocol {protocol}; "
             f"predictor {runner.describe}."),
    ]
    result = write_outputs(out, "transfer", "Cross-category demonstrations", fig,
                           "Accuracy per probe category when all demonstrations come from one "
                           "category; framed cells: demonstrations and probes from the same "
                           "category.", blocks, {"transfer": frame}, cat.synthetic)
    return replace(result, runs=dirs)
