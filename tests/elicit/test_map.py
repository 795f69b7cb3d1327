"""The culture map (valuemodel/embed.py): a linear map from person vectors that places country
means at their published Inglehart–Welzel positions, with honest held-out numbers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from indievalue.valuemodel.embed import (
    IW_AXES,
    export_embeddings,
    fit_culture_map,
    procrustes,
    published_positions,
    render_culture_map,
)

COUNTRIES = 20


def _population(seed: int = 0, per_country: int = 150, dim: int = 12,
                positions: dict[int, tuple[float, float]] | None = None
                ) -> tuple[np.ndarray, np.ndarray, dict[int, tuple[float, float]]]:
    """Persons whose vectors hold their country's (hidden) position, mixed by a random linear
    map into ``dim`` numbers, plus individual spread and one big nuisance direction."""
    rng = np.random.default_rng(seed)
    if positions is None:
        positions = {100 + c: (float(rng.normal()), float(rng.normal()))
                     for c in range(COUNTRIES)}
    codes = np.repeat(np.array(list(positions)), per_country)
    latent = np.array([positions[int(c)] for c in codes]) + rng.normal(0, 0.6, (len(codes), 2))
    mix = rng.normal(size=(2, dim))
    nuisance = rng.normal(0, 8, (len(codes), 1)) * rng.normal(size=(1, dim))
    vectors = latent @ mix + nuisance + rng.normal(0, 0.3, (len(codes), dim))
    return vectors, codes, positions


def test_the_map_recovers_the_published_positions() -> None:
    vectors, codes, positions = _population()
    fit = fit_culture_map(vectors, codes, positions)
    assert fit is not None
    assert len(fit.countries) == COUNTRIES and (fit.persons == 150).all()
    assert min(fit.r) > 0.95 and min(fit.r_held_out) > 0.92
    # the nuisance direction holds most of the variance: a PCA does not show the positions
    assert min(fit.r_pca) < 0.8
    np.testing.assert_allclose(fit.means, fit.culture_map.project(
        np.array([vectors[codes == c].mean(axis=0) for c in fit.countries])), atol=1e-9)


def test_held_out_numbers_are_honest() -> None:
    """With countries' positions shuffled, nothing in the vectors predicts them: the fit
    in-sample may still look fine, the held-out correlation must not."""
    vectors, codes, positions = _population(seed=1)
    keys = list(positions)
    shuffled = dict(zip(keys, [positions[k] for k in np.random.default_rng(3).permutation(
        keys)], strict=True))
    fit = fit_culture_map(vectors, codes, shuffled)
    assert fit is not None
    assert max(fit.r_held_out) < 0.6


def test_too_few_countries_and_unknown_codes() -> None:
    vectors, codes, positions = _population(seed=2)
    two = {k: positions[k] for k in list(positions)[:2]}
    assert fit_culture_map(vectors, codes, two) is None
    keep = {k: positions[k] for k in list(positions)[:5]}
    fit = fit_culture_map(vectors, codes, keep)
    assert fit is not None and len(fit.countries) == 5


def test_procrustes_finds_a_rotation() -> None:
    rng = np.random.default_rng(4)
    target = rng.normal(size=(30, 2))
    angle = 1.1
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    source = 3.0 * target @ rot.T + 5.0
    np.testing.assert_allclose(procrustes(source, target), target, atol=1e-9)
    np.testing.assert_allclose(procrustes(source[:, ::-1], target), target, atol=1e-9)


def test_shipped_positions_and_the_plot(tmp_path: Path) -> None:
    shipped = published_positions()
    assert len(shipped) >= 60
    # the Netherlands are far more secular and self-expressive than Nigeria (IVS aggregates)
    assert shipped[528][0] > shipped[566][0] + 1 and shipped[528][1] > shipped[566][1] + 1
    some = {c: shipped[c] for c in list(shipped)[:COUNTRIES]}
    vectors, codes, _ = _population(seed=5, per_country=30, positions=some)
    fit = fit_culture_map(vectors, codes, None)
    assert fit is not None
    png = render_culture_map(fit.culture_map.project(vectors), np.array(["Europe"] * len(codes),
                             dtype=object), fit, "test")
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    assert min(fit.r_held_out) > 0.9
    assert IW_AXES == ("Traditional ↔ Secular-rational values",
                       "Survival ↔ Self-expression values")


def test_embed_draws_the_culture_map(cli: Any, tmp_path_factory: pytest.TempPathFactory,
                                     tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from _elicit_data import elicit_data

    data = elicit_data(tmp_path_factory)
    out = tmp_path / "persons.parquet"
    res = cli("embed", "--catalog", data.catalog, "--model", data.model_dir, "--out", out)
    assert res.code == 0, res.stderr
    assert "culture map" in res.stdout and "r = " in res.stdout
    assert out.with_suffix(".png").stat().st_size > 10_000
    result = export_embeddings(data.catalog, data.model_dir, tmp_path / "again.npz")
    assert result.culture is not None and len(result.culture.countries) == 6
