"""Every figure builder, drawn from hand-made numbers; structure checked on the Figure."""

from __future__ import annotations

import io
import math

import matplotlib.image as mpimg
import numpy as np
import pytest
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.patches import Rectangle

from indievalue.analyses.figures import DemoBox, demo_boxes, evenness_bars
from indievalue.report.groups import (
    MAX_GROUPS,
    GroupStat,
    group_accuracy,
    select_groups,
    short_labels,
)
from indievalue.report.plots import (
    Interval,
    ReliabilityPoint,
    form_comparison,
    heatmap,
    lines,
    reliability,
)
from indievalue.report.style import (
    ABOVE,
    BELOW,
    DEMOGRAPHICS_COLOURS,
    DPI,
    FORM_COLOURS,
    WIDTH_IN,
    png_bytes,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def data_axes(fig: Figure) -> list[Axes]:
    """Axes that are not colorbars."""
    return [ax for ax in fig.get_axes() if not hasattr(ax, "_colorbar")]


def bar_colours(ax: Axes) -> list[tuple[float, ...]]:
    return [tuple(round(c, 3) for c in p.get_facecolor()) for p in ax.patches
            if isinstance(p, Rectangle) and p.get_height() != 0 and p.get_width() != 0]


def rgba(hex_colour: str) -> tuple[float, ...]:
    from matplotlib.colors import to_rgba

    return tuple(round(c, 3) for c in to_rgba(hex_colour))


def test_heatmap_has_one_cell_and_label_per_value() -> None:
    values = np.arange(14 * 3, dtype=float).reshape(14, 3)
    values[2, 1] = np.nan
    fig = heatmap(values, [f"category {i}" for i in range(14)], ["run a", "run b", "run c"],
                  title="t", colorbar_label="accuracy (%)", separate_last_row=True,
                  outline=[(0, 0), (1, 1)])
    (ax,) = data_axes(fig)
    (image,) = [a for a in ax.get_children() if isinstance(a, AxesImage)]
    assert image.get_array().shape == (14, 3)
    assert bool(np.ma.getmaskarray(image.get_array())[2, 1])
    texts = [t.get_text() for t in ax.texts]
    assert len(texts) == 42
    assert texts[2 * 3 + 1] == "–" and texts[0] == "0.0" and texts[-1] == "41.0"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["run a", "run b", "run c"]
    assert sum(isinstance(p, Rectangle) and not p.get_fill() for p in ax.patches) == 2
    assert len(fig.get_axes()) == 2  # the matrix and its colorbar


def test_heatmap_constant_values_do_not_break_the_colour_scale() -> None:
    fig = heatmap(np.full((2, 2), 50.0), ["a", "b"], ["x", "y"], title="t",
                  colorbar_label="c")
    (ax,) = data_axes(fig)
    image = next(a for a in ax.get_children() if isinstance(a, AxesImage))
    lo, hi = image.get_clim()
    assert lo < 50.0 < hi


def test_form_comparison_draws_one_bar_per_run_and_form() -> None:
    rows = [
        ("A", {"polar": Interval(60, 58, 62), "refined": Interval(40, 38, 42)}),
        ("B", {"polar": Interval(55, 53, 57)}),
    ]
    fig = form_comparison(rows, title="t")
    (ax,) = data_axes(fig)
    colours = bar_colours(ax)
    assert len(colours) == 3
    assert colours.count(rgba(FORM_COLOURS["polar"])) == 2
    assert colours.count(rgba(FORM_COLOURS["refined"])) == 1
    assert [t.get_text() for t in ax.get_yticklabels()] == ["A", "B"]


def test_group_accuracy_one_panel_per_dimension_and_capped_bars() -> None:
    many = [GroupStat(f"My country of birth is C{i}", 50 + i % 7, n=100 - i)
            for i in range(40)]
    dims = {
        "Sex": [GroupStat("I am a man", 62.0, 10), GroupStat("I am a woman", 58.0, 12)],
        "Birth Country": many,
        "Empty": [],
    }
    fig = group_accuracy(dims, {"Sex": 2.83, "Birth Country": None}, overall=60.0, title="r")
    axes = data_axes(fig)
    assert len(axes) == 2
    by_title = {ax.get_title(loc="right").split(" (")[0]: ax for ax in axes}
    assert set(by_title) == {"Sex", "Birth Country"}
    sex = by_title["Sex"]
    assert bar_colours(sex) == [rgba(ABOVE), rgba(BELOW)]  # sorted: best first
    assert [t.get_text() for t in sex.get_yticklabels()] == ["Man (10)", "Woman (12)"]
    assert len(by_title["Birth Country"].patches) == MAX_GROUPS
    assert "15 largest of 40" in by_title["Birth Country"].get_title(loc="right")
    assert "σ n/a" in by_title["Birth Country"].get_title(loc="right")
    # bars start at the overall accuracy
    assert all(p.get_x() == pytest.approx(60.0) for p in sex.patches)


def test_select_groups_keeps_the_largest() -> None:
    groups = [GroupStat(f"g{i}", float(i), n=i) for i in range(20)]
    kept = select_groups(groups, limit=5)
    assert sorted(g.n for g in kept) == [15, 16, 17, 18, 19]
    assert [g.accuracy for g in kept] == sorted((g.accuracy for g in kept), reverse=True)


@pytest.mark.parametrize(("labels", "expected"), [
    (["I live in Oceania", "I live in Europe"], ["Oceania", "Europe"]),
    (["I hold citizenship of this country", "I do not hold citizenship of this country"],
     ["Hold", "Do not hold"]),
    (["I am between 16 and 24 years of age", "I am between 25 and 34 years of age",
      "I am 65 years of age or older"], ["16–24", "25–34", "65 years of age or older"]),
    (["I work or have worked in a clerical job, such as secretary or clerk",
      "I work or have worked in a sales job, such as shop owner",
      "I have never held a job"], ["Clerical job", "Sales job", "Have never held a job"]),
    (["Only one group"], ["Only one group"]),
])
def test_short_labels(labels: list[str], expected: list[str]) -> None:
    assert short_labels(labels) == expected


def test_short_labels_truncate_long_text() -> None:
    (label,) = short_labels(["x" * 10 + " " + "y" * 40], width=20)
    assert len(label) == 20 and label.endswith("…")


def test_reliability_one_series_per_run() -> None:
    pts = [ReliabilityPoint(0.3, 0.25, 10), ReliabilityPoint(0.7, 0.8, 30)]
    fig = reliability([("run a", pts), ("run b", pts[:1])], title="t")
    (ax,) = data_axes(fig)
    assert len(ax.collections) == 2  # one marker set per run
    assert len(ax.lines) == 3  # diagonal + one line per run
    assert ax.get_xlim() == (0.0, 1.0) and ax.get_ylim() == (0.0, 1.0)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["perfect calibration", "run a", "run b"]


def test_lines_mark_the_best_point() -> None:
    fig = lines([("s", {1: 50.0, 2: 55.0, 3: 52.0})], title="t", xlabel="N", ylabel="acc")
    (ax,) = data_axes(fig)
    curve, star = ax.lines
    assert list(curve.get_xdata()) == [1, 2, 3]
    assert list(star.get_xdata()) == [2] and list(star.get_ydata()) == [55.0]


def test_demo_boxes_pairs_and_marks_significance() -> None:
    rng = np.random.default_rng(0)
    boxes = [DemoBox(None, "only", rng.normal(60, 5, 30)),
             DemoBox(0, "off", rng.normal(55, 5, 30)),
             DemoBox(50, "off", rng.normal(60, 5, 30)),
             DemoBox(50, "on", rng.normal(66, 5, 30))]
    fig = demo_boxes(boxes, {50: 1e-4}, title="t")
    (ax,) = data_axes(fig)
    faces = [tuple(round(c, 3) for c in p.get_facecolor()) for p in ax.patches]
    assert faces == [rgba(DEMOGRAPHICS_COLOURS[m]) for m in ("only", "off", "off", "on")]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["demographics\nonly", "0", "50"]
    assert [t.get_text() for t in ax.texts] == ["***"]
    no_star = demo_boxes(boxes, {50: 0.2}, title="t")
    assert len(data_axes(no_star)[0].texts) == 0


def test_evenness_bars() -> None:
    fig = evenness_bars({"Africa": 0.8, "Oceania": 0.6}, {"Africa": 10, "Oceania": 5}, 0.75,
                        title="t")
    (ax,) = data_axes(fig)
    assert [p.get_height() for p in ax.patches] == [0.8, 0.6]
    assert [t.get_text() for t in ax.texts] == ["0.800", "0.600"]
    assert ax.get_ylim()[0] == 0.0


def test_png_is_valid_and_paper_sized() -> None:
    fig = evenness_bars({"A": 0.5}, {"A": 1}, None, title="t")
    data = png_bytes(fig)
    assert data.startswith(PNG_MAGIC)
    pixels = mpimg.imread(io.BytesIO(data), format="png")
    assert pixels.shape[1] == math.floor(WIDTH_IN * DPI)
    assert pixels.shape[2] in (3, 4)
    assert pixels.std() > 0  # not a blank canvas


def test_figures_leave_global_style_alone() -> None:
    import matplotlib as mpl

    before = dict(mpl.rcParams)
    heatmap(np.ones((1, 1)), ["a"], ["b"], title="t", colorbar_label="c")
    assert dict(mpl.rcParams) == before
