"""Figures only the analyses draw (the heatmaps come from ``indievalue.report.plots``); same
style and colours as the report."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from indievalue.report.style import (
    BLUE,
    DEMOGRAPHICS_COLOURS,
    GREY,
    INK,
    figure_function,
    new_figure,
)
from indievalue.report.style import title as set_title

MODE_LABELS = {"off": "demonstrations only", "on": "demonstrations + demographics",
               "only": "demographics only"}


@dataclass(frozen=True)
class DemoBox:
    demos: int | None  # None for demographics only
    mode: str  # off | on | only
    values: np.ndarray  # per-person accuracy (%)


@figure_function
def demo_boxes(boxes: Sequence[DemoBox], pair_p: Mapping[int, float], *, title: str) -> Figure:
    """Box plots of per-person accuracy: demographics only first, then per demonstration
    count the runs without and with demographics side by side; ``*`` marks counts where the
    two differ with p < 0.05."""
    counts = sorted({b.demos for b in boxes if b.demos is not None})
    slot = {d: i + 1 for i, d in enumerate(counts)}
    positions, colours = [], []
    for b in boxes:
        if b.demos is None:
            x = 0.0
        else:
            paired = any(o.demos == b.demos and o.mode != b.mode for o in boxes)
            x = slot[b.demos] + ((-0.2 if b.mode == "off" else 0.2) if paired else 0.0)
        positions.append(x)
        colours.append(DEMOGRAPHICS_COLOURS[b.mode])
    fig = new_figure(3.3)
    ax = fig.add_subplot()
    art = ax.boxplot([b.values for b in boxes], positions=positions, widths=0.34,
                     patch_artist=True, showmeans=True, showfliers=True,
                     medianprops={"color": INK, "lw": 1.0},
                     meanprops={"marker": "D", "markerfacecolor": "white",
                                "markeredgecolor": INK, "markersize": 3.5},
                     flierprops={"marker": ".", "markersize": 2.5, "markerfacecolor": GREY,
                                 "markeredgecolor": "none"},
                     whiskerprops={"color": "#555555", "lw": 0.8},
                     capprops={"color": "#555555", "lw": 0.8})
    for patch, colour in zip(art["boxes"], colours, strict=True):
        patch.set_facecolor(colour)
        patch.set_edgecolor(INK)
        patch.set_linewidth(0.7)
    top = max(float(np.max(b.values)) for b in boxes if len(b.values))
    for d, p in pair_p.items():
        if p < 0.05:
            mark = "***" if p < 0.001 else "**" if p < 0.01 else "*"
            x = slot[d]
            ax.plot([x - 0.2, x - 0.2, x + 0.2, x + 0.2], [top + 1, top + 2, top + 2, top + 1],
                    color=INK, lw=0.7)
            ax.text(x, top + 2.2, mark, ha="center", va="bottom", fontsize=8)
    ax.set_xticks([0, *slot.values()], ["demographics\nonly", *(str(d) for d in counts)])
    ax.set_xlim(-0.6, len(counts) + 0.6)
    ax.set_ylim(top=top + 5)
    ax.set_xlabel("number of demonstration statements")
    ax.set_ylabel("per-person accuracy (%)")
    ax.yaxis.grid(True, color="#E4E4E4", lw=0.6)
    ax.set_axisbelow(True)
    fig.legend(handles=[Patch(facecolor=DEMOGRAPHICS_COLOURS[m], edgecolor=INK, lw=0.7,
                              label=MODE_LABELS[m]) for m in ("off", "on", "only")],
               loc="outside lower center", ncols=3)
    set_title(ax, title)
    return fig


@figure_function
def evenness_bars(values: Mapping[str, float], persons: Mapping[str, int],
                  overall: float | None, *, title: str) -> Figure:
    """One bar of mean J′ per group, labelled with its value; a dashed line for everyone."""
    names = list(values)
    fig = new_figure(2.8)
    ax = fig.add_subplot()
    ys = [values[n] for n in names]
    ax.bar(range(len(names)), ys, width=0.62, color=BLUE)
    for i, v in enumerate(ys):
        ax.text(i, v - 0.02, f"{v:.3f}", ha="center", va="top", fontsize=7, color="white")
    if overall is not None:
        ax.axhline(overall, color=GREY, ls="--", lw=0.9, label=f"all persons ({overall:.3f})")
        ax.legend(loc="lower right")
    ax.set_xticks(range(len(names)), [f"{n}\n(n={persons.get(n, 0):,})" for n in names])
    ax.set_ylim(0, 1.08)
    ax.set_ylabel("Shannon evenness J′")
    ax.yaxis.grid(True, color="#E4E4E4", lw=0.6)
    ax.set_axisbelow(True)
    set_title(ax, title)
    return fig
