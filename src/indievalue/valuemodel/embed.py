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


def render_projection(xy: np.ndarray, continents: np.ndarray, explained: tuple[float, float],
                      title: str) -> bytes:
    """PNG of the 2-D projection coloured by continent (a seeded sample if large)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(STREAM_PLOT)
    order = rng.permutation(len(xy))[:PLOT_MAX_POINTS]  # shuffled: no continent drawn on top
    labels = np.array([c if isinstance(c, str) else "unknown" for c in continents], dtype=object)
    fig, ax = plt.subplots(figsize=(7.5, 6.5), dpi=130)
    cmap = plt.get_cmap("tab10")
    names = sorted(set(labels[order]))
    colour = {n: cmap(i % 10) for i, n in enumerate(names)}
    ax.scatter(xy[order, 0], xy[order, 1], s=2, alpha=0.35, linewidths=0,
               c=[colour[n] for n in labels[order]], rasterized=True)
    for n in names:
        ax.scatter([], [], s=25, color=colour[n], label=n)
    ax.legend(loc="best", fontsize=8, frameon=False, markerscale=1.2)
    ax.set_xlabel(f"PC1 ({100 * explained[0]:.1f}% of variance)")
    ax.set_ylabel(f"PC2 ({100 * explained[1]:.1f}% of variance)")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def export_embeddings(catalog: str | Path, model_dir: str | Path, out: str | Path,
                      form: Form = "polar", plot: bool = True) -> EmbedResult:
    """Write every person's vector to ``out`` (.parquet/.npz/.csv) and a PCA plot next to it."""
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
    # Everything is computed (and the plot rendered) before the first file is written, and
    # each file replaces its target atomically: an error leaves no new file behind.
    picture = render_projection(xy, emb.continents, explained, "value-model person vectors "
                                f"({model.dim}-d, {form} answers), PCA") if plot else None
    write_embeddings(out, emb)
    png = None
    if picture is not None:
        png = out.with_suffix(".png")
        atomic_write_bytes(png, picture)
    return EmbedResult(out, png, len(emb.person_ids), emb.vectors.shape[1], explained)
