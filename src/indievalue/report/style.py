"""The one look of every indievalue figure: colours, sizes, fonts, PNG output.

Figures are built with the object-oriented API (``matplotlib.figure.Figure`` rendered by the Agg
canvas), never through ``pyplot``: no global backend is switched, no figure manager keeps figures
alive, and a user's interactive backend is left alone. Style settings are applied with
``rc_context`` around each figure, never globally.
"""

from __future__ import annotations

import functools
import io
import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

import matplotlib as mpl
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import Colormap, LinearSegmentedColormap
from matplotlib.figure import Figure

# Okabe–Ito: distinguishable with the common colour-vision deficiencies, and in greyscale.
BLUE = "#0072B2"
ORANGE = "#E69F00"
GREEN = "#009E73"
VERMILLION = "#D55E00"
PURPLE = "#CC79A7"
SKY = "#56B4E9"
YELLOW = "#F0E442"
GREY = "#7F7F7F"
INK = "#222222"
MISSING = "#E6E6E6"

#: Colours of series in order (runs in a line plot, for instance).
SERIES = (BLUE, ORANGE, GREEN, VERMILLION, PURPLE, SKY, INK, YELLOW)  # yellow: faint
#: Meaningful colours, the same in every figure.
FORM_COLOURS = {"polar": BLUE, "refined": ORANGE}
DEMOGRAPHICS_COLOURS = {"off": BLUE, "on": ORANGE, "only": GREEN}
ABOVE, BELOW = BLUE, ORANGE  # a group's accuracy above / below the overall one

#: The sequential map of every heatmap: near-white to the series blue to a deep blue.
HEAT_CMAP: Colormap = LinearSegmentedColormap.from_list(
    "indievalue", ["#F5F9FC", "#B9DCF2", SKY, BLUE, "#00375A"]).with_extremes(bad=MISSING)

WIDTH_IN = 6.5  # a US-letter / A4 text block
DPI = 200
RC: dict[Any, Any] = {
    "font.size": 8.0,
    "axes.titlesize": 9.0,
    "axes.titleweight": "bold",
    "axes.labelsize": 8.0,
    "xtick.labelsize": 7.5,
    "ytick.labelsize": 7.5,
    "legend.fontsize": 7.5,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#555555",
    "axes.labelcolor": INK,
    "text.color": INK,
    "xtick.color": "#555555",
    "ytick.color": "#555555",
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
    "svg.fonttype": "none",
}

P = ParamSpec("P")
R = TypeVar("R")


@contextmanager
def styled() -> Iterator[None]:
    with mpl.rc_context(RC):
        yield


def figure_function(fn: Callable[P, R]) -> Callable[P, R]:
    """Build the decorated figure inside the house style."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with styled():
            return fn(*args, **kwargs)

    return wrapper


def new_figure(height_in: float, width_in: float = WIDTH_IN) -> Figure:
    """A blank figure attached to an Agg canvas, with constrained layout."""
    fig = Figure(figsize=(width_in, height_in), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def png_bytes(fig: Figure) -> bytes:
    """The figure as PNG."""
    buf = io.BytesIO()
    with styled():
        fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


def wrap(text: str, width: int) -> str:
    """Break a label over lines of at most ``width`` characters (long words stay whole;
    existing line breaks stay)."""
    return "\n".join("\n".join(textwrap.wrap(line, width, break_long_words=False)) or line
                     for line in text.split("\n"))


def title(ax: Axes, text: str) -> None:
    """A left-aligned axes title, wrapped to the axes' width."""
    chars = max(30, int(ax.bbox.width / ax.figure.dpi * 13))
    ax.set_title(wrap(text, chars), loc="left")


def text_colour(level: float) -> str:
    """Readable text on a heatmap cell whose colour sits at ``level`` (0..1) of the map."""
    return "white" if level > 0.55 else INK
