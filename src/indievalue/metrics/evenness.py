"""Shannon evenness J′ of answers per group (e.g. continent), PROTOCOL §4.5.

Choices (documented in docs/design/benchmark.md): per question, p = shares of the valid answers
(missing answers excluded) in the chosen form; J′ = H′ / ln S with S the question's number of
options; a group's J′ is the plain mean over questions that have at least one valid answer.
"""

from __future__ import annotations

import numpy as np


def evenness(matrix: np.ndarray, n_options: np.ndarray) -> np.ndarray:
    """J′ of each question (column) of ``matrix`` (int option indices, -1 missing)."""
    k = int(n_options.max())
    counts = np.stack([(matrix == o).sum(axis=0) for o in range(k)], axis=1).astype(np.float64)
    totals = counts.sum(axis=1, keepdims=True)
    p = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -np.where(p > 0, p * np.log(p), 0.0).sum(axis=1)
    j = h / np.log(n_options.astype(np.float64))
    return np.where(totals[:, 0] > 0, j, np.nan)


def evenness_by_group(matrix: np.ndarray, n_options: np.ndarray,
                      groups: np.ndarray) -> dict[str, float]:
    """Mean J′ over questions, per group label."""
    out = {}
    for g in sorted({x for x in groups if isinstance(x, str)}):
        out[g] = float(np.nanmean(evenness(matrix[groups == g], n_options)))
    return out
