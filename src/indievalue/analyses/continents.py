"""``indievalue analyze continents``: fit on one continent's training persons (and on all),
test on every continent's eval persons (paper Figure 6).

One run per training continent on the whole eval set; each run's per-person accuracies are
split by the eval persons' continent (read from the catalog the runs were made from).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from indievalue.analyses.common import (
    AnalysisResult,
    ProgressFactory,
    person_scores,
    start,
    write_outputs,
)
from indievalue.benchmark.episodes import Protocol
from indievalue.benchmark.evalset import read_eval_ids, training_rows
from indievalue.catalog.spec import Form
from indievalue.catalog.store import Catalog
from indievalue.errors import IndieValueError
from indievalue.report.document import Block, Table, Text
from indievalue.report.plots import heatmap

ALL = "All"


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def _known(values: np.ndarray) -> list[str]:
    return sorted({v for v in values if isinstance(v, str)})


def continents_analysis(
    catalog: Catalog | str | Path,
    predictor: str,
    out: str | Path,
    *,
    options: Mapping[str, Any] | None = None,
    form: Form = "polar",
    protocol: Protocol = "A",
    demos: int = 200,
    seed: int = 0,
    eval_size: int | None = None,
    progress: ProgressFactory | None = None,
) -> AnalysisResult:
    """Run one evaluation per training continent plus "All"; write continents.png / .md /
    .csv."""
    st = start(catalog, predictor, options, out, eval_size, seed, progress)
    cat, out, runner, ids_path = st.catalog, st.out, st.runner, st.eval_ids
    eval_ids = read_eval_ids(ids_path, cat, seed).person_ids
    continent = cat.persons["continent"].to_numpy(dtype=object)
    train = _known(continent[training_rows(cat, eval_ids)])
    test = _known(continent[cat.rows(eval_ids)])
    if not train or not test:
        raise IndieValueError("the catalog has no continent information for its persons")
    of_person = pd.Series(continent, index=cat.person_ids)
    sources = [*train, ALL]
    matrix = np.full((len(sources), len(test) + 1), np.nan)
    sizes: dict[str, int] = {}
    dirs = []
    for i, source in enumerate(sources):
        req = runner.config(protocol=protocol, demos=demos, demo_form=form, probe_form=form,
                            train_continent=None if source == ALL else source, seed=seed,
                            eval_ids_file=ids_path)
        run_dir = runner.run(f"train-{_slug(source)}", req,
                             f"{runner.describe} · trained on {source}")
        dirs.append(run_dir)
        scores = person_scores(run_dir)
        where = of_person.reindex(scores.index)
        for j, name in enumerate(test):
            sel = scores[where == name]
            sizes[name] = len(sel)
            matrix[i, j] = float(sel.mean()) if len(sel) else np.nan
        matrix[i, -1] = float(scores.mean())
    cols = [*test, ALL]
    n_train = pd.Series(continent[training_rows(cat, eval_ids)]).value_counts()
    fig = heatmap(matrix, [f"{s} ({int(n_train.get(s, 0)) if s != ALL else int(n_train.sum())})"
                           for s in sources],
                  [f"{c}\n(n={sizes.get(c, len(eval_ids))})" for c in cols],
                  title="Accuracy (%) by training continent (rows) and test continent",
                  colorbar_label="accuracy (%)", xlabel="eval persons from",
                  ylabel="fitted on training persons from",
                  outline=[(i, cols.index(s)) for i, s in enumerate(train) if s in test],
                  separate_last_row=True, separate_last_col=True, rotate=False, col_wrap=9)
    frame = pd.DataFrame(matrix, columns=cols)
    frame.insert(0, "trained on", sources)
    blocks: list[Block] = [
        Table(["trained on", *cols], [[s, *(f"{v:.2f}" for v in matrix[i])]
                                     for i, s in enumerate(sources)],
              numeric=[False] + [True] * len(cols), csv="continents.csv",
              caption="Accuracy (%) of eval persons from each continent (columns; All: every "
              "eval person) when the predictor is fitted on one continent's training persons."),
        Text(f"Eval set `{ids_path.name}`: {len(eval_ids)} persons (seed {seed}); "
             f"{form} statements, {demos} demonstrations, protocol {protocol}; "
             f"predictor {runner.describe}. Row labels give the number of training persons."),
    ]
    result = write_outputs(out, "continents", "Continent-specific training", fig,
                           "Rows: continent whose training persons the predictor was fitted on "
                           "(number of persons); columns: continent of the eval persons (n); "
                           "framed: same continent.", blocks, {"continents": frame},
                           cat.synthetic)
    return replace(result, runs=dirs)
