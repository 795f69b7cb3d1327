"""The value model learns planted structure, is deterministic, and saves/loads exactly."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("torch")

from _planted import TYPE_COUNTRIES, Planted, planted_data

from indievalue.benchmark.episodes import EpisodeSet, build_episodes
from indievalue.benchmark.setups import probe_setups
from indievalue.errors import IndieValueError
from indievalue.predictors import TrainingPool, make_predictor
from indievalue.valuemodel.predictor import ValueModelPredictor

# Small and fast: ~90 steps of a narrow network.
FAST = {"epochs": 15, "hidden": 64, "dim": 8, "batch_size": 64, "lr": 1e-2}


def _episodes(p, form: str = "polar", demos: int = 50, setup: int = 0,  # type: ignore[no-untyped-def]
              protocol: str = "A") -> EpisodeSet:
    return build_episodes(p.cat, p.eval_ids, probe_setups(p.cat.spec)[setup], protocol=protocol,
                          demos=demos, demo_form=form, probe_form=form, seed=1)


def _accuracy(pred, es: EpisodeSet) -> float:  # type: ignore[no-untyped-def]
    return float((pred.predict(es.episodes).choices == es.gold).mean())


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Planted:
    return planted_data(tmp_path_factory)


@pytest.fixture(scope="module")
def trained(planted):  # type: ignore[no-untyped-def]
    return make_predictor("value-model", FAST, seed=4).fit(planted.pool)


@pytest.mark.parametrize("form", ["polar", "refined"])
def test_learns_planted_types_and_beats_majority(planted, trained, form: str) -> None:  # type: ignore[no-untyped-def]
    majority = make_predictor("majority").fit(planted.pool)
    for setup in (0, 1):
        es = _episodes(planted, form, setup=setup)
        ours, base = _accuracy(trained, es), _accuracy(majority, es)
        # the type is readable from 50 answers; majority only knows the commonest answer
        assert ours > base + 0.15, (form, setup, ours, base)


def test_probabilities_are_calibrated_distributions(planted, trained) -> None:  # type: ignore[no-untyped-def]
    es = _episodes(planted, "refined")
    pr = trained.predict(es.episodes)
    n_opt = es.episodes.n_options
    inside = np.arange(pr.probs.shape[-1])[None, None, :] < n_opt[..., None]
    assert np.isnan(pr.probs[~inside]).all()
    np.testing.assert_allclose(np.where(inside, pr.probs, 0).sum(-1), 1.0, atol=1e-5)
    # the choice is the most probable option
    np.testing.assert_array_equal(pr.choices, np.where(inside, pr.probs, -1).argmax(-1))
    # confident where right: mean probability of the chosen option tracks accuracy
    conf = np.take_along_axis(pr.probs, pr.choices[..., None], -1)[..., 0].mean()
    acc = (pr.choices == es.gold).mean()
    assert abs(conf - acc) < 0.15


def test_polar_probabilities_sum_refined_ones(planted, trained) -> None:  # type: ignore[no-untyped-def]
    """Without the polar temperature, a polar option's probability is the sum of its refined
    options' probabilities (one head serves both forms)."""
    model = copy.deepcopy(trained)
    model.model.net.t_polar.fill_(1.0)
    model.model._net64 = None
    ep = _episodes(planted, "polar").episodes
    polar = model.predict(ep).probs
    refined = model.predict(dataclasses.replace(ep, probe_form="refined")).probs
    spec = planted.cat.spec
    for j, q in enumerate(ep.probe_qidx[0]):
        r2p = np.array(spec.questions[int(q)].refined_to_polar())
        for k in range(len(spec.questions[int(q)].polar)):
            np.testing.assert_allclose(polar[:, j, k], refined[:, j, : len(r2p)][:, r2p == k]
                                       .sum(-1), atol=1e-5)


def test_works_for_any_demo_count_and_protocol_b(planted, trained) -> None:  # type: ignore[no-untyped-def]
    for demos in (0, 1, 10, 200):
        es = _episodes(planted, "polar", demos=demos)
        pr = trained.predict(es.episodes)
        assert pr.choices.shape == es.gold.shape
        if demos == 0:  # nothing known: everyone gets the same answers
            assert (pr.choices == pr.choices[0]).all()
    es = _episodes(planted, "polar", protocol="B")
    assert trained.predict(es.episodes.subset(np.arange(50))).choices.shape == (50, 1)


def test_visible_context_reads_every_shown_answer(planted, trained, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    trained.save(str(tmp_path / "m"))
    vis = make_predictor("value-model", {"model_dir": str(tmp_path / "m"), "context": "visible"})
    vis.fit(planted.pool)
    es = _episodes(planted, "polar", demos=1)
    # with 1 demonstration but ~214 visible answers the visible context knows the type
    assert _accuracy(vis, es) > _accuracy(trained, es) + 0.05


def test_same_seed_same_model_other_seed_other_model(planted) -> None:  # type: ignore[no-untyped-def]
    opts = {**FAST, "epochs": 2}
    es = _episodes(planted, "refined")
    a = make_predictor("value-model", opts, seed=7).fit(planted.pool).predict(es.episodes)
    b = make_predictor("value-model", opts, seed=7).fit(planted.pool).predict(es.episodes)
    c = make_predictor("value-model", opts, seed=8).fit(planted.pool).predict(es.episodes)
    np.testing.assert_array_equal(a.probs, b.probs)
    assert not np.array_equal(a.probs, c.probs)


def test_mixed_precision_learns_as_well_and_is_recorded(planted) -> None:  # type: ignore[no-untyped-def]
    """bf16 products (float32 weights and losses) learn the planted types about as well as
    float32, are deterministic, and the report says which arithmetic ran; 'auto' picks bf16
    only where the CPU multiplies it natively."""
    from indievalue.valuemodel.training import bf16_native, resolve_precision

    es = _episodes(planted, "refined")
    acc = {}
    for precision in ("fp32", "bf16"):
        pred = make_predictor("value-model", {**FAST, "precision": precision}, seed=4)
        pred.fit(planted.pool)
        assert pred.model.info["train"]["precision"] == precision
        acc[precision] = _accuracy(pred, es)
        if precision == "bf16":
            again = make_predictor("value-model", {**FAST, "precision": precision}, seed=4)
            np.testing.assert_array_equal(again.fit(planted.pool).predict(es.episodes).probs,
                                          pred.predict(es.episodes).probs)
    assert abs(acc["bf16"] - acc["fp32"]) < 0.03, acc
    assert resolve_precision("auto") == ("bf16" if bf16_native() else "fp32")
    with pytest.raises(IndieValueError, match="precision"):
        make_predictor("value-model", {"precision": "fp16"})


def test_save_load_round_trip(planted, trained, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    trained.save(str(tmp_path / "m"))
    assert {p.name for p in (tmp_path / "m").iterdir()} == {"model.json", "weights.npz"}
    es = _episodes(planted, "refined")
    expect = trained.predict(es.episodes)
    loaded = ValueModelPredictor.load(str(tmp_path / "m"))
    np.testing.assert_array_equal(loaded.predict(es.episodes).probs, expect.probs)
    via_option = make_predictor("value-model", {"model_dir": str(tmp_path / "m")}).fit(
        planted.pool)
    got = via_option.predict(es.episodes)
    np.testing.assert_array_equal(got.choices, expect.choices)
    np.testing.assert_array_equal(got.probs, expect.probs)


def test_loaded_model_must_not_have_seen_eval_persons(planted, trained, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    trained.save(str(tmp_path / "m"))
    smaller = TrainingPool(planted.cat, planted.pool.rows[10:])  # 10 trained persons now eval
    pred = make_predictor("value-model", {"model_dir": str(tmp_path / "m")})
    with pytest.raises(IndieValueError, match="outside this run's training pool"):
        pred.fit(smaller)
    clash = make_predictor("value-model", {"model_dir": str(tmp_path / "m"), "dim": 16})
    with pytest.raises(IndieValueError, match="option dim=16 differs"):
        clash.fit(planted.pool)
    with pytest.raises(IndieValueError, match="not a value-model directory"):
        make_predictor("value-model", {"model_dir": str(tmp_path)}).fit(planted.pool)


def test_pool_size_draws_a_seeded_subsample(planted) -> None:  # type: ignore[no-untyped-def]
    opts = {**FAST, "epochs": 1, "pool_size": 100}
    pred = make_predictor("value-model", opts, seed=2).fit(planted.pool)
    ids = pred.model.person_ids
    assert len(ids) == 100 and np.isin(ids, planted.pool.person_ids).all()
    again = make_predictor("value-model", opts, seed=2).fit(planted.pool)
    np.testing.assert_array_equal(again.model.person_ids, ids)
    with pytest.raises(IndieValueError, match="pool_size must be"):
        make_predictor("value-model", {**opts, "pool_size": 10**6}).fit(planted.pool)


def test_predict_before_fit_is_a_readable_error(planted) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(IndieValueError, match="fit"):
        make_predictor("value-model").predict(_episodes(planted).episodes)


def test_train_and_embed_cli(planted, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ids = tmp_path / "eval_ids.txt"
    ids.write_text("".join(f"{i}\n" for i in planted.eval_ids))
    model = tmp_path / "model"
    args = ["--option", "epochs=1", "--option", "hidden=32", "--option", "dim=6"]
    res = cli("train-value-model", "--catalog", planted.path, "--out", model,
              "--eval-ids", ids, *args)
    assert res.code == 0, res.stderr
    assert "value model trained on" in res.stdout
    again = cli("train-value-model", "--catalog", planted.path, "--out", model,
                "--eval-ids", ids, *args)
    assert again.code == 2 and "already exists" in again.stderr
    out = tmp_path / "emb" / "vectors.parquet"
    res = cli("embed", "--catalog", planted.path, "--model", model, "--out", out)
    assert res.code == 0, res.stderr
    df = pd.read_parquet(out)
    vcols = [f"v{i}" for i in range(6)]
    assert list(df.columns) == ["person_id", *vcols, "sharpness", "country_model"]
    assert len(df) == len(planted.cat.person_ids)
    np.testing.assert_array_equal(df["person_id"].to_numpy(), planted.cat.person_ids)
    assert np.isfinite(df[[*vcols, "sharpness"]].to_numpy()).all()
    assert (df["sharpness"] > 0).all()
    assert set(df["country_model"]) <= {int(c) for c in TYPE_COUNTRIES}
    assert out.with_suffix(".png").stat().st_size > 1000
    for suffix in (".npz", ".csv"):
        other = out.with_suffix(suffix)
        assert cli("embed", "--catalog", planted.path, "--model", model, "--out", other,
                   "--no-plot").code == 0
    with np.load(out.with_suffix(".npz")) as data:
        assert data["vectors"].shape == (len(df), 6)
        np.testing.assert_array_equal(data["person_id"], df["person_id"].to_numpy())
        np.testing.assert_array_equal(data["country_model"], df["country_model"].to_numpy())
    np.testing.assert_allclose(pd.read_csv(out.with_suffix(".csv")).iloc[:, 1:].to_numpy(),
                               df.iloc[:, 1:].to_numpy(), rtol=1e-5, atol=1e-6)
    bad = cli("embed", "--catalog", planted.path, "--model", model, "--out", tmp_path / "x.txt")
    assert bad.code == 2 and "must end in" in bad.stderr


def test_persons_of_one_type_embed_close_together(planted, trained) -> None:  # type: ignore[no-untyped-def]
    from indievalue.valuemodel.embed import person_embeddings

    emb = person_embeddings(trained.model, planted.cat)
    v = emb.vectors
    centroids = np.stack([v[planted.types == t].mean(0) for t in range(3)])
    nearest = ((v[:, None, :] - centroids[None]) ** 2).sum(-1).argmin(1)
    assert (nearest == planted.types).mean() > 0.95


def test_country_head_reads_the_country_from_answers(planted, trained) -> None:  # type: ignore[no-untyped-def]
    model = trained.model
    assert model.groups == sorted(str(c) for c in TYPE_COUNTRIES)
    rows = np.flatnonzero(np.isin(planted.cat.person_ids, planted.eval_ids))  # never trained on
    mat = planted.cat.polar[rows]
    qidx = np.broadcast_to(np.arange(mat.shape[1]), mat.shape)
    probs = model.group_probs("polar", qidx, mat)
    assert probs.shape == (len(rows), len(TYPE_COUNTRIES))
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-9)
    guessed = np.asarray(model.groups)[probs.argmax(1)]
    truth = planted.cat.persons["country_code"].to_numpy()[rows].astype(str)
    assert (guessed == truth).mean() > 0.9


def test_without_groups_there_is_no_country_head(planted) -> None:  # type: ignore[no-untyped-def]
    pred = make_predictor("value-model", {**FAST, "epochs": 1, "groups": "none"}, seed=4)
    model = pred.fit(planted.pool).model
    assert model.groups == [] and model.net.n_groups == 0
    es = _episodes(planted)
    assert pred.predict(es.episodes).probs.shape[0] == len(es.episodes.person_ids)


def test_a_shown_country_conditions_the_prediction(planted, trained) -> None:  # type: ignore[no-untyped-def]
    from indievalue.valuemodel.predictor import shown_groups

    setup = probe_setups(planted.cat.spec)[0]
    kw = dict(protocol="A", demos=0, demo_form="polar", probe_form="polar", seed=1)
    blind = build_episodes(planted.cat, planted.eval_ids, setup, **kw)
    told = build_episodes(planted.cat, planted.eval_ids, setup, demographics="on", **kw)
    known = shown_groups(trained.model, told.episodes)
    truth = planted.cat.persons.set_index("person_id").loc[planted.eval_ids, "country_code"]
    assert known is not None
    assert [trained.model.groups[i] for i in known] == [str(c) for c in truth]
    assert shown_groups(trained.model, blind.episodes) is None
    # Without answers the country is the only evidence of a person's type (country = type).
    assert _accuracy(trained, told) > _accuracy(trained, blind) + 0.2


def test_sharpness_separates_consistent_from_erratic_persons(tmp_path: Path) -> None:
    from _planted import planted_frame

    from indievalue.catalog.build import build_catalog
    from indievalue.catalog.spec_io import builtin_spec
    from indievalue.catalog.store import Catalog
    from wvs_testdata import write_wvs

    df, _ = planted_frame(seed=5)
    rng = np.random.default_rng(8)
    erratic = rng.random(len(df)) < 0.5
    for q in builtin_spec().questions:
        codes = np.array(sorted(q.valid_codes))
        noise = erratic & (rng.random(len(df)) < 0.6)  # erratic persons: 60% random answers
        df.loc[noise, q.qid] = rng.choice(codes, size=int(noise.sum()))
    build_catalog(write_wvs(df, tmp_path / "mixed.csv"), tmp_path / "catalog")
    cat = Catalog.load(tmp_path / "catalog")
    model = make_predictor("value-model", FAST, seed=4).fit(
        TrainingPool(cat, np.arange(len(cat.person_ids)))).model
    qidx = np.broadcast_to(np.arange(cat.polar.shape[1]), cat.polar.shape)
    sharp = model.sharpness("polar", qidx, cat.polar)
    is_erratic = pd.Series(erratic, index=df["D_INTERVIEW"]).loc[cat.person_ids].to_numpy()
    assert sharp.shape == (len(df),) and (sharp > 0).all()
    assert np.median(sharp[~is_erratic]) > 1.3 * np.median(sharp[is_erratic])


def test_small_pools_hold_out_enough_persons_for_the_temperatures() -> None:
    """3 % of a large pool (at most 2,000), but at least 500 persons or a fifth of a smaller
    pool: temperatures fitted on ~50 persons were off by up to 13 %; none below 20."""
    from indievalue.valuemodel.training import held_out_size

    assert held_out_size(96_312) == 2_000
    assert held_out_size(60_000) == 1_800
    assert held_out_size(10_000) == 500
    assert held_out_size(1_848) == 370  # gss_spending's pool: 3 % would be 55
    assert held_out_size(99) == 20
    assert held_out_size(90) == 0
