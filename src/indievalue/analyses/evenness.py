"""``indievalue analyze evenness``: Shannon evenness J′ of answers per continent (paper
Figure 7), computed on the catalog (no predictor, no runs).

Choices (PROTOCOL §4.5 leaves them open): every person of the catalog, missing answers left
out, J′ per question in the chosen form, a continent's J′ = plain mean over questions.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from indievalue.analyses.common import AnalysisResult, open_catalog, write_outputs
from indievalue.analyses.figures import evenness_bars
from indievalue.catalog.spec import Form
from indievalue.catalog.store import Catalog
from indievalue.errors import IndieValueError
from indievalue.metrics.evenness import evenness_by_group
from indievalue.report.document import Block, Table, Text

EVERYONE = "all persons"


def evenness_analysis(catalog: Catalog | str | Path, out: str | Path, *,
                      form: Form = "polar") -> AnalysisResult:
    """Write evenness.png / .md / .csv under ``out``."""
    cat = open_catalog(catalog)
    out = Path(out)
    matrix = cat.matrix(form)
    counts = cat.spec.option_counts(form)
    continent = cat.persons["continent"].to_numpy(dtype=object)
    by_continent = evenness_by_group(matrix, counts, continent)
    if not by_continent:
        raise IndieValueError("the catalog has no continent information for its persons")
    overall = evenness_by_group(matrix, counts, np.full(len(continent), EVERYONE,
                                                        dtype=object))[EVERYONE]
    persons = pd.Series(continent).value_counts()
    sizes = {c: int(persons.get(c, 0)) for c in by_continent}
    fig = evenness_bars(by_continent, sizes, overall,
                        title=f"Evenness of answers by continent ({form} statements)")
    frame = pd.DataFrame({"continent": [*by_continent, EVERYONE],
                          "persons": [*sizes.values(), len(continent)],
                          "evenness": [*by_continent.values(), overall]})
    lowest = min(by_continent, key=lambda c: by_continent[c])
    blocks: list[Block] = [
        Table(["continent", "persons", "J′"],
              [[c, f"{n:,}", f"{j:.4f}"] for c, n, j in zip(
                  [*by_continent, EVERYONE], [*sizes.values(), len(continent)],
                  [*by_continent.values(), overall], strict=True)],
              numeric=[False, True, True],
              csv="evenness.csv",
              caption="Mean over questions of J′ = H′ / ln S (S: the question's number of "
              "options; missing answers left out). 1: answers spread evenly over the options; "
              "0: everyone gives the same answer."),
        Text(f"Most concentrated answers: {lowest} (J′ {by_continent[lowest]:.4f})."),
    ]
    return write_outputs(out, "evenness", "Evenness of answers by continent", fig,
                         "Mean Shannon evenness J′ of the answers of each continent's persons; "
                         "dashed: all persons together.", blocks, {"evenness": frame},
                         cat.synthetic)
