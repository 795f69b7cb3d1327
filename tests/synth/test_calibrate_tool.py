"""The calibration tool's variants of the shipped parameters (``--set``), its score, and the
eval set's Oceania share it reports against the paper's."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest

from indievalue.catalog.spec_io import builtin_spec
from indievalue.synth import generate_population
from indievalue.synth.calibrate.quickeval import Baselines, eligible_oceania, labels, select_eval
from indievalue.synth.generate.params import load_params
from indievalue.synth.generate.values import subgroup_offsets

TOOL = Path(__file__).resolve().parents[2] / "tools" / "calibrate_synth.py"


@pytest.fixture(scope="module")
def tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("calibrate_synth", TOOL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_variant_changes_only_what_it_names(tool: ModuleType) -> None:
    base = load_params()
    v = tool.variant(base, dict(tool._setting(x) for x in
                                ("sub_groups=7", "sub_sd=0.5", "p_low=0.6", "rho=0.475")))
    assert v.scalars["sub_groups"] == 7 and isinstance(v.scalars["sub_groups"], int)
    offsets = subgroup_offsets(v)
    assert offsets is not None and offsets.shape[1] == 7
    p_mid = base.scalars["p_mid"]  # the shipped parameters have a middle level
    np.testing.assert_allclose(v["structure_p"], [0.6, p_mid, 0.4 - p_mid])
    np.testing.assert_allclose(v["structure_levels"],
                               [base.scalars["g_low"], base.scalars["g_mid"], 1.0])
    np.testing.assert_allclose(v["rho"], np.clip(base["rho"] / 2, 0.02, 0.99))
    for key in ("loc", "tau", "w", "country_size"):
        np.testing.assert_array_equal(v[key], base[key])
    shipped = subgroup_offsets(base)  # the shipped parameters are left alone
    assert shipped is not None and shipped.shape[1] == base.scalars["sub_groups"] != 7


@pytest.mark.parametrize("text", ["iw_weight=3", "nonsense", "sub_sd=big"])
def test_settings_it_cannot_apply_are_refused(tool: ModuleType, text: str) -> None:
    with pytest.raises(ValueError, match="--set"):
        tool._setting(text)


def test_impossible_groups_are_refused_before_generating(tool: ModuleType) -> None:
    with pytest.raises(ValueError, match="sub_groups"):
        tool.variant(load_params(), {"sub_groups": 1.0, "sub_sd": 0.5})


def test_structure_levels(tool: ModuleType) -> None:
    """Two levels without a middle share, three with one; shares must make a distribution."""
    two = tool.structure({"g_low": 0.2, "p_low": 0.7, "g_mid": 0.6, "p_mid": 0.0})
    np.testing.assert_allclose(two["structure_levels"], [0.2, 1.0])
    np.testing.assert_allclose(two["structure_p"], [0.7, 0.3])
    three = tool.structure({"g_low": 0.2, "p_low": 0.6, "g_mid": 0.6, "p_mid": 0.25})
    np.testing.assert_allclose(three["structure_levels"], [0.2, 0.6, 1.0])
    np.testing.assert_allclose(three["structure_p"], [0.6, 0.25, 0.15])
    with pytest.raises(ValueError, match="shares"):
        tool.structure({"g_low": 0.2, "p_low": 0.6, "g_mid": 0.6, "p_mid": 0.5})
    with pytest.raises(ValueError, match="shares"):
        tool.variant(load_params(), {"p_mid": 0.5})


def test_the_command_line_refuses_bad_settings_in_one_line() -> None:
    for args in (["--set", "sub_sd=0.5"], ["--report-only", "--set", "iw_weight=3"]):
        out = subprocess.run([sys.executable, str(TOOL), *args], capture_output=True,
                             text=True, timeout=120)
        assert out.returncode == 2 and "Traceback" not in out.stderr
        assert "--set" in out.stderr.strip().splitlines()[-1]


def test_the_score_penalises_figures_more_than_0_9_off(tool: ModuleType) -> None:
    exact = {k: {"polar": v[0], "refined": v[1]} for k, v in tool.PAPER.items()}

    def baselines(shift: float) -> Baselines:
        got = {k: dict(v) for k, v in exact.items()}
        got["top1"]["refined"] += shift
        return Baselines(got["majority"], got["top1"], got["topn"], 800, 1000,
                         got["top1_small"], got["topn_small"])

    assert tool.score(baselines(0.0)) == 0.0
    assert tool.score(baselines(0.8)) == pytest.approx(0.64)
    assert tool.score(baselines(1.2)) == pytest.approx(1.44 + 10 * 0.09)


def test_oceania_share_is_read_off_figure_6(tool: ModuleType, tmp_path: Path) -> None:
    """All = w * Oceania + (1 - w) * mean(other five) on every row recovers w."""
    cols = ["Africa", "Europe", "North America", "Oceania", "South America", "Asia", "All"]
    rng = np.random.default_rng(0)
    fig: dict[str, object] = {"_columns": cols, "_note": "rows: training continent"}
    for row in range(4):
        acc = list(rng.uniform(60, 80, 6))  # Africa..Asia, Oceania at index 3
        rest = float(np.mean(acc[:3] + acc[4:]))
        fig[f"r{row}"] = [*acc, 0.2 * acc[3] + 0.8 * rest]
    tidy = tmp_path / "wvs7-aggregates" / "tidy"
    tidy.mkdir(parents=True)
    path = tidy / "indievalue_paper_targets.json"
    path.write_text(json.dumps({tool.FIGURE6: fig}), encoding="utf-8")
    assert tool.oceania_share(tmp_path) == pytest.approx(0.2)
    path.write_text("{}", encoding="utf-8")
    assert tool.oceania_share(tmp_path) is None
    assert tool.oceania_share(tmp_path / "missing") is None


def test_eligible_oceania_is_what_the_eval_draw_keeps() -> None:
    """With room for everyone, the eval draw takes every eligible Oceania person."""
    df = generate_population(4_000, seed=3)
    spec = builtin_spec()
    n = eligible_oceania(df, spec)
    ev = select_eval(df, spec, labels(df, spec, "polar"), 100_000, np.random.default_rng(0))
    continent = df["B_COUNTRY"].to_numpy()[ev]
    assert n > 0 and int((continent == 554).sum()) == n  # New Zealand: Oceania's only one


def test_new_zealand_missingness_moves_only_new_zealand(tool: ModuleType) -> None:
    """A variant's own missingness for New Zealand: with the global values instead of its
    fitted ones, its persons skip less and more of them can enter the eval set, while every
    other person's row stays exactly as it was; its shipped values as a variant change
    nothing at all."""
    base = load_params()
    nz_rows = base["country_code"] == tool.NEW_ZEALAND
    shipped = {"nz_miss_shift": float(base["miss_country_shift"][nz_rows][0]),
               "nz_never": float(base["miss_country_never"][nz_rows][0])}
    assert shipped["nz_miss_shift"] > 0.5 and shipped["nz_never"] < base.scalar("miss_never")
    same = tool.variant(base, shipped)
    assert "nz_never" not in same.scalars
    a = generate_population(6_000, seed=5, params=base)
    pd.testing.assert_frame_equal(a, generate_population(6_000, seed=5, params=same))
    plain = tool.variant(base, {"nz_miss_shift": 0.0, "nz_never": base.scalar("miss_never")})
    b = generate_population(6_000, seed=5, params=plain)
    nz = a["B_COUNTRY"].to_numpy() == tool.NEW_ZEALAND
    assert nz.sum() > 30
    pd.testing.assert_frame_equal(a[~nz], b[~nz])
    qids = [str(q) for q in base["q_ids"]]
    assert (a.loc[nz, qids] < 0).to_numpy().mean() > 2 * (b.loc[nz, qids] < 0).to_numpy().mean()
    spec = builtin_spec()
    assert eligible_oceania(a, spec) < eligible_oceania(b, spec) / 2
    with pytest.raises(ValueError, match="nz_never"):
        tool.variant(base, {"nz_never": 1.5})


def test_search_steps_around_impossible_settings(tool: ModuleType,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A search that wants ever more of the low structure level stops where the three shares
    stop being a distribution, instead of failing there."""
    n_q = 3
    base = {"slopes": np.ones((n_q, 2)), "rho_rel": np.ones(n_q), "loc": np.zeros((2, n_q)),
            "uncovered": np.zeros((2, n_q)), "skew_sign": np.ones((1, n_q))}
    seen: list[float] = []

    def fake_baselines(params: object, spec: object, seed: int) -> Baselines:
        p_low = float(params["structure_p"][0])  # type: ignore[index]
        seen.append(p_low)
        # every figure on target at p_low = 0.9, which the middle share of 0.2 rules out
        figs = {k: {"polar": pol + 5 * (0.9 - p_low), "refined": ref}
                for k, (pol, ref) in tool.PAPER.items()}
        return Baselines(figs["majority"], figs["top1"], figs["topn"], 800, 1000,
                         figs["top1_small"], figs["topn_small"])

    monkeypatch.setattr(tool, "generate_population", lambda n, seed, params: params)
    monkeypatch.setattr(tool, "baselines", fake_baselines)
    monkeypatch.setattr(tool, "SEARCHED", ("p_low",))
    start = {**tool.START, "p_low": 0.6, "p_mid": 0.2}
    best = tool.search(base, start, 10, 0, [], rounds=1)
    assert best["p_low"] + best["p_mid"] <= 1.0 and best["p_low"] > 0.6
    assert max(seen) <= 0.8 + 1e-9  # no impossible setting was ever generated
