"""Episodes (PROTOCOL §3.4–3.6): what a predictor sees, protocols A and B, seeded draws."""

from __future__ import annotations

import numpy as np
import pytest

from _bench_data import BenchData, override
from indievalue.benchmark.episodes import EpisodeSet, build_episodes
from indievalue.benchmark.evalset import select_eval_set
from indievalue.benchmark.setups import ProbeSetup, probe_setups
from indievalue.catalog.store import Catalog, render_demonstration


@pytest.fixture(scope="module")
def cat(bench: BenchData) -> Catalog:
    return Catalog.load(bench.catalog)


@pytest.fixture(scope="module")
def ids(cat: Catalog) -> np.ndarray:
    return select_eval_set(cat, 20, seed=0).person_ids


@pytest.fixture(scope="module")
def setups(cat: Catalog) -> list[ProbeSetup]:
    return probe_setups(cat.spec)


def probes_of(cat: Catalog, setup: ProbeSetup) -> np.ndarray:
    return np.array([cat.spec.index(q) for q in setup.qids])


def demo_sets(es: EpisodeSet) -> list[set[int]]:
    ep = es.episodes
    return [set(ep.demo_qidx[e][ep.demo_qidx[e] >= 0].tolist()) for e in range(len(ep))]


def test_protocol_a_shape_and_shared_demos(cat: Catalog, ids: np.ndarray,
                                           setups: list[ProbeSetup]) -> None:
    for setup in setups:
        es = build_episodes(cat, ids, setup, protocol="A", demos=200, seed=0)
        ep = es.episodes
        probes = probes_of(cat, setup)
        assert len(ep) == len(ids)  # one episode per person
        np.testing.assert_array_equal(ep.person_ids, ids)
        assert ep.probe_qidx.shape == (len(ids), 39)
        assert (ep.probe_qidx == probes).all()  # setup order, shared by all probes
        assert ep.demo_qidx.shape == (len(ids), 200)
        assert es.gold.shape == (len(ids), 39)
        for e in range(len(ep)):
            assert not set(ep.demo_qidx[e].tolist()) & set(probes.tolist())
            assert (ep.visible[e, probes] == -1).all()
        assert len(set(ep.keys.tolist())) == len(ep)


def test_protocol_b_excludes_only_the_current_probe(cat: Catalog, ids: np.ndarray,
                                                    setups: list[ProbeSetup]) -> None:
    setup = setups[1]
    probes = probes_of(cat, setup)
    es = build_episodes(cat, ids, setup, protocol="B", demos=200, seed=0)
    ep = es.episodes
    assert len(ep) == len(ids) * 39
    assert ep.probe_qidx.shape == (len(ids) * 39, 1)
    np.testing.assert_array_equal(ep.person_ids, np.repeat(ids, 39))
    np.testing.assert_array_equal(ep.probe_qidx[:, 0], np.tile(probes, len(ids)))
    other_probe_seen = 0
    for e in range(len(ep)):
        q = int(ep.probe_qidx[e, 0])
        shown = set(ep.demo_qidx[e][ep.demo_qidx[e] >= 0].tolist())
        assert q not in shown
        assert ep.visible[e, q] == -1
        other_probe_seen += len(shown & (set(probes.tolist()) - {q}))
        row = cat.row(int(ep.person_ids[e]))
        others = [p for p in probes if p != q]
        np.testing.assert_array_equal(ep.visible[e, others], cat.polar[row, others])
    assert other_probe_seen > 0  # other probes of the setup may be demonstrations
    assert len(set(ep.keys.tolist())) == len(ep)


def test_protocol_b_draws_afresh_per_episode(cat: Catalog, ids: np.ndarray,
                                             setups: list[ProbeSetup]) -> None:
    es = build_episodes(cat, ids[:3], setups[0], protocol="B", demos=50, seed=0)
    sets = demo_sets(es)
    for p in range(3):
        person = sets[p * 39 : (p + 1) * 39]
        assert len({frozenset(s) for s in person}) == 39


@pytest.mark.parametrize("protocol", ["A", "B"])
@pytest.mark.parametrize("d", [0, 10, 200])
def test_demo_count(cat: Catalog, ids: np.ndarray, setups: list[ProbeSetup],
                    protocol: str, d: int) -> None:
    es = build_episodes(cat, ids[:4], setups[0], protocol=protocol, demos=d,  # type: ignore[arg-type]
                        seed=0)
    ep = es.episodes
    assert ep.demo_qidx.shape[1] == d
    assert ((ep.demo_qidx >= 0).sum(axis=1) == d).all()


def test_demo_count_is_capped_by_the_pool(bench: BenchData, ids: np.ndarray,
                                          setups: list[ProbeSetup]) -> None:
    """A person with only 30 valid non-probe answers gets 30 demonstrations, not 200."""
    base = Catalog.load(bench.catalog)
    polar = base.polar.copy()
    row = base.row(int(ids[0]))
    probes = probes_of(base, setups[0])
    keep = np.setdiff1d(np.arange(polar.shape[1]), probes)[:30]
    drop = np.setdiff1d(np.arange(polar.shape[1]), np.concatenate([keep, probes]))
    polar[row, drop] = -1
    cat = override(bench.catalog, polar=polar)
    es = build_episodes(cat, ids[:2], setups[0], protocol="A", demos=200, seed=0)
    ep = es.episodes
    assert (ep.demo_qidx[0] >= 0).sum() == 30
    assert set(ep.demo_qidx[0][:30].tolist()) == set(keep.tolist())
    assert (ep.demo_qidx[0][30:] == -1).all() and (ep.demo_answers[0][30:] == -1).all()
    assert (ep.demo_qidx[1] >= 0).sum() == 200


@pytest.mark.parametrize("protocol", ["A", "B"])
def test_draws_without_replacement_only_valid_answers(
        bench: BenchData, ids: np.ndarray, setups: list[ProbeSetup], protocol: str) -> None:
    base = Catalog.load(bench.catalog)
    polar = base.polar.copy()
    rows = base.rows(ids[:5])
    rng = np.random.default_rng(0)
    probes = probes_of(base, setups[2])
    holes = np.setdiff1d(np.arange(polar.shape[1]), probes)
    for r in rows:  # 20 missing answers among non-probes
        polar[r, rng.choice(holes, 20, replace=False)] = -1
    cat = override(bench.catalog, polar=polar)
    es = build_episodes(cat, ids[:5], setups[2], protocol=protocol,  # type: ignore[arg-type]
                        demos=200, seed=1)
    ep = es.episodes
    for e in range(len(ep)):
        q = ep.demo_qidx[e][ep.demo_qidx[e] >= 0]
        row = cat.row(int(ep.person_ids[e]))
        hidden = 39 if protocol == "A" else 1
        assert len(q) == min(200, int((polar[row] >= 0).sum()) - hidden)
        assert len(np.unique(q)) == len(q)
        assert (polar[row, q] >= 0).all()
        np.testing.assert_array_equal(ep.demo_answers[e][: len(q)], polar[row, q])


@pytest.mark.parametrize("protocol", ["A", "B"])
def test_seeded_determinism(cat: Catalog, ids: np.ndarray, setups: list[ProbeSetup],
                            protocol: str) -> None:
    kw = {"protocol": protocol, "demos": 100}
    a = build_episodes(cat, ids, setups[0], seed=3, **kw).episodes  # type: ignore[arg-type]
    b = build_episodes(cat, ids, setups[0], seed=3, **kw).episodes  # type: ignore[arg-type]
    c = build_episodes(cat, ids, setups[0], seed=4, **kw).episodes  # type: ignore[arg-type]
    np.testing.assert_array_equal(a.demo_qidx, b.demo_qidx)
    np.testing.assert_array_equal(a.demo_answers, b.demo_answers)
    np.testing.assert_array_equal(a.keys, b.keys)
    assert not np.array_equal(a.demo_qidx, c.demo_qidx)


def test_demos_are_in_random_order(cat: Catalog, ids: np.ndarray,
                                   setups: list[ProbeSetup]) -> None:
    ep = build_episodes(cat, ids[:3], setups[0], demos=50, seed=0).episodes
    for e in range(len(ep)):
        assert not (np.diff(ep.demo_qidx[e].astype(int)) > 0).all()


def test_demo_form_and_probe_form_are_independent(cat: Catalog, ids: np.ndarray,
                                                  setups: list[ProbeSetup]) -> None:
    rows = cat.rows(ids)
    probes = probes_of(cat, setups[0])
    for demo_form in ("polar", "refined"):
        for probe_form in ("polar", "refined"):
            es = build_episodes(cat, ids, setups[0], demos=200, demo_form=demo_form,
                                probe_form=probe_form, seed=0)
            ep = es.episodes
            np.testing.assert_array_equal(es.gold, cat.matrix(probe_form)[rows][:, probes])
            np.testing.assert_array_equal(
                ep.n_options, np.broadcast_to(
                    cat.spec.option_counts(probe_form)[probes], ep.probe_qidx.shape))
            for e, r in enumerate(rows):
                np.testing.assert_array_equal(
                    ep.demo_answers[e], cat.matrix(demo_form)[r, ep.demo_qidx[e]])
            assert ep.option_texts(0, 0) == [
                o.text for o in cat.spec.questions[int(probes[0])].options(probe_form)]
    # the same seed picks the same demonstration questions in either form
    a = build_episodes(cat, ids, setups[0], demo_form="polar", seed=0).episodes
    b = build_episodes(cat, ids, setups[0], demo_form="refined", seed=0).episodes
    np.testing.assert_array_equal(a.demo_qidx, b.demo_qidx)


def test_demographics_modes(cat: Catalog, ids: np.ndarray, setups: list[ProbeSetup]) -> None:
    off = build_episodes(cat, ids[:3], setups[0], demos=20, demographics="off", seed=0)
    on = build_episodes(cat, ids[:3], setups[0], demos=20, demographics="on", seed=0)
    only = build_episodes(cat, ids[:3], setups[0], demos=20, demographics="only", seed=0)
    assert off.episodes.demographics is None
    for e, pid in enumerate(ids[:3]):
        stmts = tuple(s for _, s in cat.demographic_statements(int(pid)))
        assert len(stmts) >= 24
        assert on.episodes.demographics is not None
        assert on.episodes.demographics[e] == stmts
        assert only.episodes.demographics is not None
        assert only.episodes.demographics[e] == stmts
    np.testing.assert_array_equal(on.episodes.demo_qidx, off.episodes.demo_qidx)
    ep = only.episodes
    assert (ep.demo_qidx == -1).all() and (ep.visible == -1).all()
    np.testing.assert_array_equal(only.gold, off.gold)
    lines = ep.demonstration_lines(0)
    assert lines == [render_demonstration(s) for s in ep.demographics[0]]  # type: ignore[index]


def test_zero_demos_shows_nothing(cat: Catalog, ids: np.ndarray,
                                  setups: list[ProbeSetup]) -> None:
    ep = build_episodes(cat, ids[:3], setups[0], demos=0, seed=0).episodes
    assert (ep.visible == -1).all()
    assert ep.demonstration_lines(0) == []


@pytest.mark.parametrize("protocol", ["A", "B"])
def test_visible_never_contains_the_episodes_probe_answers(
        cat: Catalog, ids: np.ndarray, setups: list[ProbeSetup], protocol: str) -> None:
    for setup in setups:
        ep = build_episodes(cat, ids, setup, protocol=protocol,  # type: ignore[arg-type]
                            demos=200, seed=0).episodes
        e = np.arange(len(ep))[:, None]
        assert (ep.visible[e, ep.probe_qidx] == -1).all()
        # and everything else valid is shown
        rows = cat.rows(ep.person_ids)
        shown = cat.polar[rows].copy()
        shown[e, ep.probe_qidx] = -1
        np.testing.assert_array_equal(ep.visible, shown)


def test_demonstration_lines_rendering(cat: Catalog, ids: np.ndarray,
                                       setups: list[ProbeSetup]) -> None:
    es = build_episodes(cat, ids[:2], setups[0], demos=200, demographics="on", seed=0)
    ep = es.episodes
    lines = ep.demonstration_lines(0)
    demo = [s for _, s in cat.demographic_statements(int(ids[0]))]
    assert len(lines) == len(demo) + 200
    assert lines[: len(demo)] == ["# " + s[0].upper() + s[1:] for s in demo]
    for line, q, a in zip(lines[len(demo):], ep.demo_qidx[0], ep.demo_answers[0], strict=True):
        text = cat.spec.questions[int(q)].polar[int(a)].text
        assert line == "# " + text[0].upper() + text[1:]
        assert line[2].isupper() or not line[2].isalpha()
    assert all(line.startswith("# ") for line in lines)
    # canonical order: country first, then continent
    person = cat.persons.set_index("person_id").loc[int(ids[0])]
    assert person["country"] in lines[0] and person["continent"] in lines[1]


def test_capitalisation_only_first_letter() -> None:
    assert render_demonstration("family is Important") == "# Family is Important"
    assert render_demonstration("") == "# "


def test_probe_options_are_not_capitalised(cat: Catalog, ids: np.ndarray,
                                           setups: list[ProbeSetup]) -> None:
    """Find a lower-case probe statement and check its option text is raw."""
    ep = build_episodes(cat, ids[:1], setups[0], seed=0).episodes
    texts = [t for j in range(39) for t in ep.option_texts(0, j)]
    assert any(t[0].islower() for t in texts)


def test_subset_keeps_rows(cat: Catalog, ids: np.ndarray, setups: list[ProbeSetup]) -> None:
    ep = build_episodes(cat, ids, setups[0], demos=30, demographics="on", seed=0).episodes
    sub = ep.subset(np.array([3, 1]))
    np.testing.assert_array_equal(sub.person_ids, ep.person_ids[[3, 1]])
    np.testing.assert_array_equal(sub.demo_qidx, ep.demo_qidx[[3, 1]])
    assert sub.demonstration_lines(0) == ep.demonstration_lines(3)


def test_bad_demo_count(cat: Catalog, ids: np.ndarray, setups: list[ProbeSetup]) -> None:
    with pytest.raises(ValueError, match=r"0\.\.200"):
        build_episodes(cat, ids, setups[0], demos=201)


def test_shown_codes_name_the_country_each_episode_shows(cat: Catalog, ids: np.ndarray,
                                                        setups: list[ProbeSetup]) -> None:
    told = build_episodes(cat, ids, setups[0], demos=5, demographics="on", seed=2)
    truth = cat.persons.set_index("person_id").loc[ids, "country_code"].to_numpy()
    codes = told.episodes.shown_codes()
    assert codes is not None
    np.testing.assert_array_equal(codes, truth)
    blind = build_episodes(cat, ids, setups[0], demos=5, seed=2)
    assert blind.episodes.shown_codes() is None
    assert told.episodes.shown_codes("no-such-entry") is None
