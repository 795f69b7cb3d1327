"""Person embeddings: every person's vector from all their valid answers, a file, a 2-D map."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from indievalue.catalog.spec import Form
from indievalue.catalog.store import Catalog
from indievalue.errors import IndieValueError
from indievalue.fsutil import atomic_write_bytes

SUFFIXES = (".parquet", ".npz", ".csv")
PLOT_MAX_POINTS = 30_000  # a denser scatter only hides itself
STREAM_PLOT = 31
# Okabe–Ito (the report's palette), one colour per continent
CONTINENT_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9",
                     "#7F7F7F")


@dataclass(frozen=True)
class Embeddings:
    person_ids: np.ndarray  # (N,)
    vectors: np.ndarray  # (N, dim) float32
    continents: np.ndarray  # (N,) object: continent name or None
    sharpness: np.ndarray  # (N,) float32 inverse temperature (how consistently one answers)
    country: np.ndarray  # (N,) int64 most probable country code by the model (-1: no head)


@dataclass(frozen=True)
class EmbedResult:
    path: Path
    plot: Path | None
    n_persons: int
    dim: int
    explained: tuple[float, float]  # share of variance on the two principal axes
    culture: MapFit | None = None  # the culture map the plot shows (None: a PCA plot)


def person_embeddings(model: Any, cat: Catalog, form: Form = "polar") -> Embeddings:
    """Encode each catalog person's valid answers (all of them) in ``form``."""
    mat = cat.matrix(form)
    qidx = np.broadcast_to(np.arange(mat.shape[1], dtype=np.int64), mat.shape)
    vectors = model.encode(form, qidx, mat).astype(np.float32)
    continents = cat.persons["continent"].to_numpy(dtype=object) \
        if "continent" in cat.persons else np.full(len(mat), None, dtype=object)
    sharpness = model.sharpness(form, qidx, mat).astype(np.float32)
    country = np.full(len(mat), -1, dtype=np.int64)
    if model.groups:
        codes = np.array([int(g) for g in model.groups], dtype=np.int64)
        country = codes[model.group_probs(form, qidx, mat).argmax(axis=1)]
    return Embeddings(cat.person_ids, vectors, continents, sharpness, country)


def pca_2d(vectors: np.ndarray) -> tuple[np.ndarray, tuple[float, float]]:
    """Projection on the first two principal axes and their shares of the variance."""
    x = vectors.astype(np.float64) - vectors.mean(axis=0)
    _, s, vt = np.linalg.svd(x, full_matrices=False)
    # Fix each axis' sign (largest loading positive) so the picture is reproducible.
    signs = np.sign(vt[np.arange(2), np.abs(vt[:2]).argmax(axis=1)])
    xy = x @ (vt[:2].T * signs)
    var = s**2
    total = float(var.sum()) or 1.0
    return xy, (float(var[0] / total), float(var[1] / total) if len(var) > 1 else 0.0)


def write_embeddings(path: Path, emb: Embeddings) -> None:
    """Parquet or CSV: ``person_id``, ``v0``.., ``sharpness``, ``country_model``; NPZ: arrays
    ``person_id``, ``vectors``, ``sharpness`` and ``country_model``."""
    suffix = path.suffix.lower()
    if suffix == ".npz":
        import io

        buf = io.BytesIO()
        np.savez_compressed(buf, person_id=emb.person_ids, vectors=emb.vectors,
                            sharpness=emb.sharpness, country_model=emb.country)
        atomic_write_bytes(path, buf.getvalue())
        return
    df = pd.DataFrame(emb.vectors, columns=[f"v{i}" for i in range(emb.vectors.shape[1])])
    df.insert(0, "person_id", emb.person_ids)
    df["sharpness"] = emb.sharpness
    df["country_model"] = emb.country
    if suffix == ".parquet":
        import io

        buf = io.BytesIO()
        df.to_parquet(buf, index=False)
        atomic_write_bytes(path, buf.getvalue())
    else:
        atomic_write_bytes(path, df.to_csv(index=False).encode())


# -- the culture map --------------------------------------------------------------------------
# The person vectors' own principal axes mean nothing to a reader. The culture map is the
# linear map from person vectors under which the mean of each country's persons lands on the
# country's published Inglehart–Welzel position: ridge least squares on the country means
# (each country weighs the same; the penalty chosen by leave-one-country-out error). Every
# person is a point on the same map, around their country's mean (persons spread far wider
# than country means do). docs/design/elicitation.md has the measurements (and why not a
# regression on individuals, nor a rotated PCA).

IW_AXES = ("Traditional ↔ Secular-rational values", "Survival ↔ Self-expression values")
MIN_MAP_COUNTRIES = 4
# ridge penalties tried, in units of the country means' mean variance per dimension
RIDGE_GRID = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0)
MAP_MARGIN = 0.35


def published_positions() -> dict[int, tuple[float, float]]:
    """Inglehart–Welzel positions (traditional → secular-rational, survival →
    self-expression) of every WVS country code the project ships them for: the country
    table of the synthetic generator's package data, taken from the IVS country aggregates
    (latest wave), for real and synthetic catalogs alike."""
    from indievalue.synth.generate.params import load_params

    p = load_params()
    return {int(c): (float(t), float(s)) for c, t, s in
            zip(p["country_code"], p["trad_secular"], p["surv_self"], strict=True)}


def country_labels() -> dict[int, str]:
    """Short (ISO alpha-3) label of each country code with a published position."""
    from indievalue.synth.generate.params import load_params

    p = load_params()
    return {int(c): str(a) for c, a in zip(p["country_code"], p["country_alpha3"],
                                           strict=True)}


@dataclass(frozen=True)
class CultureMap:
    """A linear map from person vectors to the Inglehart–Welzel plane."""

    weights: np.ndarray  # (dim, 2)
    offset: np.ndarray  # (2,)

    def project(self, vectors: np.ndarray) -> np.ndarray:
        return np.asarray(vectors, dtype=np.float64) @ self.weights + self.offset


@dataclass(frozen=True)
class MapFit:
    """A fitted culture map and how well its country means match the published positions."""

    culture_map: CultureMap
    countries: np.ndarray  # (C,) country codes with a published position and persons
    means: np.ndarray  # (C, 2) each country's mean position on the map
    published: np.ndarray  # (C, 2)
    persons: np.ndarray  # (C,) persons per country in the fit
    r: tuple[float, float]  # correlation of means and published positions, per axis
    r_held_out: tuple[float, float]  # the same, each country left out of its own fit
    r_pca: tuple[float, float]  # a 2-D PCA's country means after the best rotation
    ridge: float  # the penalty chosen (see RIDGE_GRID)


def _corr(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    return (float(np.corrcoef(a[:, 0], b[:, 0])[0, 1]),
            float(np.corrcoef(a[:, 1], b[:, 1])[0, 1]))


def procrustes(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``source`` (C, 2) moved onto ``target`` by the best rotation (or reflection), scale
    and shift (least squares)."""
    a, b = source - source.mean(axis=0), target - target.mean(axis=0)
    u, sv, vt = np.linalg.svd(a.T @ b)
    rot = u @ vt
    scale = sv.sum() / max(float((a**2).sum()), 1e-12)
    return scale * a @ rot + target.mean(axis=0)


def _ridge(means: np.ndarray, targets: np.ndarray, alpha: float) -> tuple[np.ndarray,
                                                                          np.ndarray]:
    """(weights (d, 2), offset (2,)) of ridge least squares from ``means`` to ``targets``."""
    mu, ym = means.mean(axis=0), targets.mean(axis=0)
    xc = means - mu
    scale = float((xc**2).sum()) / xc.shape[1] or 1.0
    w = np.linalg.solve(xc.T @ xc + alpha * scale * np.eye(xc.shape[1]), xc.T @ (targets - ym))
    return w, ym - mu @ w


def _left_out(means: np.ndarray, targets: np.ndarray, alpha: float | None) -> np.ndarray:
    """(C, 2) each country's position from a fit without it (``alpha`` None: chosen
    without it too)."""
    out = np.zeros_like(targets)
    for i in range(len(means)):
        keep = np.arange(len(means)) != i
        a = _choose(means[keep], targets[keep]) if alpha is None else alpha
        w, b = _ridge(means[keep], targets[keep], a)
        out[i] = means[i] @ w + b
    return out


def _choose(means: np.ndarray, targets: np.ndarray) -> float:
    """The penalty of :data:`RIDGE_GRID` with the least leave-one-country-out error."""
    errors = [float(((_left_out(means, targets, a) - targets) ** 2).sum()) for a in RIDGE_GRID]
    return RIDGE_GRID[int(np.argmin(errors))]


def fit_culture_map(vectors: np.ndarray, codes: np.ndarray,
                    positions: dict[int, tuple[float, float]] | None = None) -> MapFit | None:
    """Fit the map on persons ``vectors`` (N, dim) living in countries ``codes`` (N,): see
    the section comment. The held-out correlations come from fits that never saw the
    country (penalty chosen without it as well). None with fewer than
    :data:`MIN_MAP_COUNTRIES` countries that have a published position."""
    positions = published_positions() if positions is None else positions
    codes = np.asarray(codes, dtype=np.int64)
    known = np.array([int(c) in positions for c in codes], dtype=bool)
    countries, inverse, counts = np.unique(codes[known], return_inverse=True,
                                           return_counts=True)
    if len(countries) < MIN_MAP_COUNTRIES:
        return None
    x = np.asarray(vectors, dtype=np.float64)[known]
    means_v = np.zeros((len(countries), x.shape[1]))
    np.add.at(means_v, inverse, x)
    means_v /= counts[:, None]
    published = np.array([positions[int(c)] for c in countries])
    alpha = _choose(means_v, published)
    w, b = _ridge(means_v, published, alpha)
    means = means_v @ w + b
    held = _left_out(means_v, published, None)
    xy_pca, _ = pca_2d(x)
    pca_means = np.zeros((len(countries), 2))
    np.add.at(pca_means, inverse, xy_pca)
    pca_means /= counts[:, None]
    return MapFit(CultureMap(w, b), countries, means, published, counts, _corr(means, published),
                  _corr(held, published), _corr(procrustes(pca_means, published), published),
                  alpha)


def map_view(fit: MapFit, margin: float = MAP_MARGIN) -> tuple[tuple[float, float],
                                                                  tuple[float, float]]:
    """Axis limits around the country means (``margin`` times their span on each side):
    individuals scatter far wider than countries differ, and a view of every person would
    squeeze the countries into a blot."""
    lo, hi = fit.means.min(axis=0), fit.means.max(axis=0)
    pad = margin * np.maximum(hi - lo, 1e-9)
    return (float(lo[0] - pad[0]), float(hi[0] + pad[0])), (float(lo[1] - pad[1]),
                                                            float(hi[1] + pad[1]))


def render_culture_map(xy: np.ndarray, continents: np.ndarray, fit: MapFit, title: str
                       ) -> bytes:
    """PNG: persons (a seeded sample) coloured by continent around their country means
    (labelled), on the Inglehart–Welzel axes, zoomed to the countries."""
    fig, ax = _scatter(xy, continents)
    labels = country_labels()
    ax.scatter(fit.means[:, 0], fit.means[:, 1], s=18, c="white", edgecolors="#222222",
               linewidths=0.9, zorder=3)
    for (x, y), code in zip(fit.means, fit.countries, strict=True):
        ax.annotate(labels.get(int(code), str(code)), (x, y), xytext=(3, 2),
                    textcoords="offset points", fontsize=6.5, color="#222222", zorder=4)
    (x0, x1), (y0, y1) = map_view(fit)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    inside = float(np.mean((xy[:, 0] >= x0) & (xy[:, 0] <= x1) & (xy[:, 1] >= y0)
                           & (xy[:, 1] <= y1)))
    ax.set_xlabel(f"{IW_AXES[0]} →")
    ax.set_ylabel(f"{IW_AXES[1]} →")
    note = (f"Circles: country means (r = {fit.r_held_out[0]:.2f} and {fit.r_held_out[1]:.2f} "
            "with the published positions, each country left out of the fit). Dots: persons "
            f"({100 * inside:.0f}% of them inside this view: persons differ far more than "
            "countries do).")
    return _finish(fig, ax, title, note)


def render_projection(xy: np.ndarray, continents: np.ndarray, explained: tuple[float, float],
                      title: str) -> bytes:
    """PNG of the 2-D PCA coloured by continent (a seeded sample if large): the fallback
    for a catalog without countries of known position."""
    fig, ax = _scatter(xy, continents)
    ax.set_xlabel(f"PC1 ({100 * explained[0]:.1f}% of variance)")
    ax.set_ylabel(f"PC2 ({100 * explained[1]:.1f}% of variance)")
    return _finish(fig, ax, title)


def _scatter(xy: np.ndarray, continents: np.ndarray) -> tuple[Any, Any]:
    from indievalue.report.style import new_figure, styled

    rng = np.random.default_rng(STREAM_PLOT)
    order = rng.permutation(len(xy))[:PLOT_MAX_POINTS]  # shuffled: no continent drawn on top
    labels = np.array([c if isinstance(c, str) else "unknown" for c in continents], dtype=object)
    with styled():
        fig = new_figure(6.0, 7.0)
        ax = fig.add_subplot()
        names = sorted(set(labels[order]))
        colour = {n: CONTINENT_COLOURS[i % len(CONTINENT_COLOURS)] for i, n in enumerate(names)}
        ax.scatter(xy[order, 0], xy[order, 1], s=2, alpha=0.3, linewidths=0,
                   c=[colour[n] for n in labels[order]], rasterized=True)
        for n in names:
            ax.scatter([], [], s=25, color=colour[n], label=n)
        ax.legend(loc="best", fontsize=7, frameon=False, markerscale=1.2)
    return fig, ax


def _finish(fig: Any, ax: Any, title: str, note: str = "") -> bytes:
    from indievalue.report.style import png_bytes, styled, wrap

    with styled():
        ax.set_title(title, fontsize=9, loc="left")
        if note:
            fig.supxlabel(wrap(note, 120), fontsize=6.5, color="#555555", x=0.01, ha="left")
    return png_bytes(fig)


def catalog_map(model: Any, cat: Catalog, emb: Embeddings) -> MapFit | None:
    """The culture map of ``emb``, fitted on the persons the model learned from (the
    training persons: the eval persons place themselves but do not move the map)."""
    codes = cat.persons["country_code"].fillna(-1).to_numpy(dtype=np.int64) \
        if "country_code" in cat.persons else np.full(len(emb.person_ids), -1)
    train = np.isin(emb.person_ids, model.person_ids)
    return fit_culture_map(emb.vectors[train], codes[train])


def export_embeddings(catalog: str | Path, model_dir: str | Path, out: str | Path,
                      form: Form = "polar", plot: bool = True) -> EmbedResult:
    """Write every person's vector to ``out`` (.parquet/.npz/.csv) and, next to it, a plot:
    the culture map (see :func:`fit_culture_map`), or a PCA for a catalog without countries
    of known position."""
    out = Path(out)
    if out.suffix.lower() not in SUFFIXES:
        raise IndieValueError(f"{out}: the output must end in {', '.join(SUFFIXES)}")
    from indievalue.valuemodel.predictor import require_torch

    require_torch()
    from indievalue.valuemodel.model import ValueModel

    cat = Catalog.load(catalog)
    model = ValueModel.load(model_dir)
    model.check_catalog(cat, model_dir)
    emb = person_embeddings(model, cat, form)
    xy, explained = pca_2d(emb.vectors)
    fit = catalog_map(model, cat, emb)
    # Everything is computed (and the plot rendered) before the first file is written, and
    # each file replaces its target atomically: an error leaves no new file behind.
    what = f"value-model person vectors ({model.dim}-d, {form} answers)"
    picture = None
    if plot and fit is not None:
        picture = render_culture_map(fit.culture_map.project(emb.vectors), emb.continents,
                                     fit, f"{what} on the Inglehart–Welzel map")
    elif plot:
        picture = render_projection(xy, emb.continents, explained, f"{what}, PCA")
    write_embeddings(out, emb)
    png = None
    if picture is not None:
        png = out.with_suffix(".png")
        atomic_write_bytes(png, picture)
    return EmbedResult(out, png, len(emb.person_ids), emb.vectors.shape[1], explained, fit)
