"""Figure builders shared by the report and the analyses. Each returns a ``Figure``.

Inputs are plain numbers and labels, never run directories, so every figure can be drawn (and
tested) from hand-made values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from indievalue.report.style import (
    FORM_COLOURS,
    GREY,
    HEAT_CMAP,
    INK,
    SERIES,
    figure_function,
    new_figure,
    text_colour,
    wrap,
)
from indievalue.report.style import title as set_title


@figure_function
def heatmap(
    values: np.ndarray,
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    *,
    title: str,
    colorbar_label: str,
    xlabel: str = "",
    ylabel: str = "",
    fmt: str = "{:.1f}",
    separate_last_row: bool = False,
    separate_last_col: bool = False,
    outline: Sequence[tuple[int, int]] = (),
    rotate: bool | None = None,
    row_wrap: int = 40,
    col_wrap: int = 16,
) -> Figure:
    """A rows x columns matrix of numbers as coloured, annotated cells (NaN = grey, "–").

    ``separate_last_row/col`` draws a white gap before a summary row/column ("Overall",
    "All"); ``outline`` frames the given (row, column) cells (own-category or own-continent
    results). Column labels are rotated when there are many long ones unless ``rotate`` says.
    """
    data = np.ma.masked_invalid(np.asarray(values, dtype=np.float64))
    n_rows, n_cols = data.shape
    rows = [wrap(r, row_wrap) for r in row_labels]
    if rotate is None:
        rotate = n_cols > 4 and max((len(c) for c in col_labels), default=0) > 8
    # Rotated labels stay on one line; upright ones wrap.
    cols = list(col_labels) if rotate else [wrap(c, col_wrap) for c in col_labels]
    if rotate:
        label_space = 0.2 + 0.036 * min(max(len(c) for c in cols), 48)
    else:
        label_space = 0.14 * max((c.count("\n") + 1 for c in cols), default=1)
    height = 0.75 + 0.23 * n_rows + label_space
    fig = new_figure(height)
    ax = fig.add_subplot()
    finite = data.compressed()
    vmin = float(finite.min()) if finite.size else 0.0
    vmax = float(finite.max()) if finite.size else 1.0
    if vmax - vmin < 1e-9:
        vmin, vmax = vmin - 1.0, vmax + 1.0
    norm = Normalize(vmin, vmax)
    image = ax.imshow(data, cmap=HEAT_CMAP, norm=norm, aspect="auto", interpolation="nearest")
    size = 7.0 if n_cols <= 10 else 6.0
    for i in range(n_rows):
        for j in range(n_cols):
            v = data[i, j]
            masked = v is np.ma.masked
            ax.text(j, i, "–" if masked else fmt.format(float(v)), ha="center", va="center",
                    fontsize=size, color=INK if masked else text_colour(float(norm(v))))
    ax.set_xticks(range(n_cols), cols)
    ax.set_yticks(range(n_rows), rows)
    if rotate:
        for t in ax.get_xticklabels():
            t.set_rotation(35)
            t.set_horizontalalignment("right")
            t.set_rotation_mode("anchor")
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    if separate_last_row and n_rows > 1:
        ax.axhline(n_rows - 1.5, color="white", lw=3)
    if separate_last_col and n_cols > 1:
        ax.axvline(n_cols - 1.5, color="white", lw=3)
    for i, j in outline:
        ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, ec=INK, lw=1.0,
                               clip_on=False))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    # A figure-wide title: long row labels would push an axes title off the right edge.
    fig.suptitle(wrap(title, 95), x=0.01, ha="left", fontsize=9, fontweight="bold")
    bar = fig.colorbar(image, ax=ax, fraction=0.04, pad=0.02, aspect=40)
    bar.set_label(colorbar_label)
    bar.outline.set_visible(False)
    return fig


@dataclass(frozen=True)
class Interval:
    """A point estimate with its 95% interval (all in percent)."""

    mean: float
    low: float
    high: float


@figure_function
def form_comparison(rows: Sequence[tuple[str, Mapping[str, Interval]]], *, title: str) -> Figure:
    """Horizontal bars per row (a predictor): one bar per probe form with its 95% interval."""
    forms = [f for f in ("polar", "refined") if any(f in r for _, r in rows)]
    n = len(rows)
    fig = new_figure(0.9 + 0.22 * n * max(1, len(forms)) + 0.3)
    ax = fig.add_subplot()
    height = 0.8 / max(1, len(forms))
    for k, form in enumerate(forms):
        ys, means, errs = [], [], []
        for i, (_, by_form) in enumerate(rows):
            if form not in by_form:
                continue
            iv = by_form[form]
            ys.append(i + (k - (len(forms) - 1) / 2) * height)
            means.append(iv.mean)
            errs.append((max(0.0, iv.mean - iv.low), max(0.0, iv.high - iv.mean)))
        err = np.array(errs, dtype=np.float64).T if errs else None
        ax.barh(ys, means, height=height * 0.92, color=FORM_COLOURS[form], label=form,
                xerr=err, error_kw={"ecolor": INK, "elinewidth": 0.8, "capsize": 1.5})
        for y, m, (_, up) in zip(ys, means, errs, strict=True):
            ax.text(m + up + 0.8, y, f"{m:.1f}", va="center", ha="left", fontsize=6.5,
                    color=INK)
    ax.set_yticks(range(n), [wrap(name, 40) for name, _ in rows])
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("accuracy (%) with 95% bootstrap interval over persons")
    ax.xaxis.grid(True, color="#DDDDDD", lw=0.6)
    ax.set_axisbelow(True)
    ax.legend(title="probe form", loc="lower right")
    set_title(ax, title)
    return fig


@dataclass(frozen=True)
class ReliabilityPoint:
    confidence: float
    accuracy: float
    n: int


@figure_function
def reliability(series: Sequence[tuple[str, Sequence[ReliabilityPoint]]], *,
                title: str) -> Figure:
    """Reliability diagram: accuracy of the chosen option against its predicted probability,
    one line per run; a marker's area grows with the share of probes in its bin."""
    fig = new_figure(3.0)
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], ls="--", color=GREY, lw=0.8, label="perfect calibration")
    for k, (name, points) in enumerate(series):
        colour = SERIES[k % len(SERIES)]
        total = max(1, sum(p.n for p in points))
        ax.plot([p.confidence for p in points], [p.accuracy for p in points], lw=1.0,
                color=colour, label=wrap(name, 38))
        ax.scatter([p.confidence for p in points], [p.accuracy for p in points],
                   s=[6 + 120 * p.n / total for p in points], color=colour, alpha=0.85,
                   edgecolors="white", linewidths=0.4, zorder=3)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")
    ax.set_anchor("W")
    ax.set_xlabel("predicted probability of the chosen option")
    ax.set_ylabel("observed accuracy")
    set_title(ax, title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.04, 1.0), borderaxespad=0)
    return fig


@figure_function
def lines(series: Sequence[tuple[str, Mapping[int, float]]], *, title: str, xlabel: str,
          ylabel: str) -> Figure:
    """One line per named series over integer x values (e.g. cluster size N)."""
    fig = new_figure(2.8)
    ax = fig.add_subplot()
    for k, (name, points) in enumerate(series):
        xs = sorted(points)
        ax.plot(xs, [points[x] for x in xs], marker="o", ms=2.5, lw=1.2,
                color=SERIES[k % len(SERIES)], label=wrap(name, 40))
        best = max(xs, key=lambda x: points[x])
        ax.plot([best], [points[best]], marker="*", ms=8, color=SERIES[k % len(SERIES)])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.yaxis.grid(True, color="#DDDDDD", lw=0.6)
    ax.set_axisbelow(True)
    set_title(ax, title)
    ax.legend(loc="best")
    return fig
