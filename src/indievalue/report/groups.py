"""Per-group accuracy of one run, one panel per fairness dimension (paper Figure 9).

Group keys are the persons' demographic statements ("I live in Oceania"); the panels show
short forms of them, the full statements stay in the CSV.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from indievalue.report.style import ABOVE, BELOW, INK, figure_function, new_figure

MAX_GROUPS = 15  # dimensions with more groups (countries) show their largest ones
LABEL_CHARS = 32


@dataclass(frozen=True)
class GroupStat:
    name: str
    accuracy: float
    n: int


def _shared(split: Sequence[list[str]], need: int) -> int:
    """Length of the longest word prefix that at least ``need`` of ``split`` start with while
    keeping at least one word of their own."""
    best = 0
    for k in range(1, max((len(s) for s in split), default=0)):
        counts: dict[tuple[str, ...], int] = {}
        for s in split:
            if len(s) > k:
                counts[tuple(s[:k])] = counts.get(tuple(s[:k]), 0) + 1
        if max(counts.values(), default=0) < need:
            break
        best = k
    return best


def _strip_prefix(split: list[list[str]], need: int) -> list[list[str]]:
    k = _shared(split, need)
    if not k:
        return split
    counts: dict[tuple[str, ...], int] = {}
    for s in split:
        if len(s) > k:
            counts[tuple(s[:k])] = counts.get(tuple(s[:k]), 0) + 1
    common = list(max(counts.items(), key=lambda kv: kv[1])[0])
    return [s[k:] if s[:k] == common and len(s) > k else s for s in split]


def short_labels(labels: Sequence[str], width: int = LABEL_CHARS) -> list[str]:
    """Drop the wording the statements of a dimension share, then examples and length.

    Words every statement starts or ends with go first ("I live in Oceania" → "Oceania";
    "I do not hold citizenship of this country" → "Do not hold"), then a start most of them
    share ("I work or have worked in a clerical job" → "Clerical job"), then ", such as ..."
    clauses; what is still longer than ``width`` is cut with an ellipsis.
    """
    split = [lab.split() for lab in labels]
    n = len(split)
    if n > 1:
        split = _strip_prefix(split, n)
        split = [s[::-1] for s in _strip_prefix([s[::-1] for s in split], n)]
        most = max(2, (n + 1) // 2)
        split = _strip_prefix(split, most)
        split = [s[::-1] for s in _strip_prefix([s[::-1] for s in split], most)]
    out = []
    for words in split:
        text = re.split(r",\s+(?:such as|for example|e\.g\.)\s", " ".join(words))[0]
        text = text.rstrip(",;. ")
        text = re.sub(r"^(\d+) and (\d+)$", "\\1–\\2", text)  # "16 and 24" (years) → "16–24"
        text = text[:1].upper() + text[1:]
        out.append(text if len(text) <= width else text[: width - 1].rstrip() + "…")
    return out


def select_groups(groups: Sequence[GroupStat], limit: int = MAX_GROUPS) -> list[GroupStat]:
    """The ``limit`` largest groups (ties: name), ordered by accuracy, best first."""
    kept = sorted(groups, key=lambda g: (-g.n, g.name))[:limit]
    return sorted(kept, key=lambda g: (-g.accuracy, g.name))


def _columns(heights: Sequence[float]) -> int:
    """How many panels (in order) go to the left column so the taller column is shortest."""
    return min(range(1, len(heights)),
               key=lambda k: (max(sum(heights[:k]), sum(heights[k:])), k))


@figure_function
def group_accuracy(dimensions: Mapping[str, Sequence[GroupStat]],
                   sigmas: Mapping[str, float | None], overall: float, *,
                   title: str) -> Figure:
    """One panel per dimension, in two columns; in each, one bar per group from the run's
    overall accuracy to the group's, so length and colour show how far above or below the
    group sits."""
    dims = [d for d, g in dimensions.items() if g]
    shown = {d: select_groups(dimensions[d]) for d in dims}
    heights = [len(shown[d]) + 1.4 for d in dims]
    split = _columns(heights) if len(dims) > 1 else len(dims)
    columns = [dims[:split], dims[split:]]
    tallest = max((sum(heights[dims.index(d)] for d in col) for col in columns), default=0.0)
    fig = new_figure(0.55 + 0.15 * tallest + 0.25)
    fig.suptitle(f"{title}: accuracy by group (line: overall {overall:.1f}%; n in brackets)",
                 x=0.01, ha="left", fontsize=9, fontweight="bold")
    if not dims:
        return fig
    values = [g.accuracy for d in dims for g in shown[d]] + [overall]
    lo = max(0.0, float(np.floor(min(values) / 5) * 5 - 5))
    hi = min(100.0, float(np.ceil(max(values) / 5) * 5 + 5))
    subfigs = cast("np.ndarray", fig.subfigures(1, 2, wspace=0.02))
    for sub, col in zip(subfigs, columns, strict=True):
        if not col:
            continue
        grid = sub.add_gridspec(len(col), 1, height_ratios=[len(shown[d]) + 1.4 for d in col])
        for k, dim in enumerate(col):
            ax = sub.add_subplot(grid[k])
            _panel(ax, dim, shown[dim], len(dimensions[dim]), sigmas.get(dim), overall)
            ax.set_xlim(lo, hi)
            if k == len(col) - 1:
                ax.set_xlabel("group accuracy (%)", fontsize=7)
            else:
                ax.tick_params(axis="x", labelbottom=False)
    return fig


def _panel(ax: Axes, dim: str, groups: Sequence[GroupStat], total: int,
           sigma: float | None, overall: float) -> None:
    names = short_labels([g.name for g in groups])
    acc = np.array([g.accuracy for g in groups])
    ax.barh(range(len(groups)), acc - overall, left=overall, height=0.72,
            color=[ABOVE if a >= overall else BELOW for a in acc])
    ax.axvline(overall, color=INK, lw=0.8)
    ax.set_yticks(range(len(groups)),
                  [f"{n} ({g.n})" for n, g in zip(names, groups, strict=True)])
    ax.set_ylim(len(groups) - 0.5, -0.5)
    ax.tick_params(axis="y", length=0, labelsize=6.5)
    ax.tick_params(axis="x", labelsize=6.5)
    ax.xaxis.grid(True, color="#E4E4E4", lw=0.5)
    ax.set_axisbelow(True)
    more = f"; {len(groups)} largest of {total}" if total > len(groups) else ""
    sig = f"σ {sigma:.2f}" if sigma is not None else "σ n/a"
    ax.set_title(f"{dim} ({sig}{more})", loc="right", fontsize=7.5)
