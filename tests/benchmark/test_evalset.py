"""The eval set (PROTOCOL §3.2–3.3): seeded, filtered, balanced; id files; halves; pool."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from _bench_data import CATHOLIC, BenchData, probe_columns
from indievalue.benchmark.evalset import (
    MIN_VALID_ANSWERS,
    MIN_VALID_DEMOGRAPHICS,
    QUOTA_CONTINENTS,
    RELIGION_COLUMN,
    eligible_mask,
    read_eval_ids,
    select_eval_set,
    training_rows,
    with_halves,
    write_eval_ids,
)
from indievalue.benchmark.setups import probe_setups
from indievalue.catalog.store import Catalog
from indievalue.errors import IndieValueError


@pytest.fixture(scope="module")
def cat(bench: BenchData) -> Catalog:
    return Catalog.load(bench.catalog)


def test_seeded_determinism(cat: Catalog) -> None:
    a = select_eval_set(cat, 100, seed=3)
    b = select_eval_set(cat, 100, seed=3)
    c = select_eval_set(cat, 100, seed=4)
    np.testing.assert_array_equal(a.person_ids, b.person_ids)
    np.testing.assert_array_equal(a.test_ids, b.test_ids)
    assert not np.array_equal(np.sort(a.person_ids), np.sort(c.person_ids))
    assert len(a.person_ids) == 100
    assert len(set(a.person_ids.tolist())) == 100


def test_every_chosen_person_is_eligible(cat: Catalog) -> None:
    ids = select_eval_set(cat, 200, seed=0).person_ids
    rows = cat.rows(ids)
    probes = probe_columns(cat)
    assert len(probes) == 108
    assert (cat.polar[np.ix_(rows, probes)] >= 0).all()
    assert (cat.refined[np.ix_(rows, probes)] >= 0).all()
    assert (cat.persons["n_valid"].to_numpy()[rows] >= MIN_VALID_ANSWERS).all()
    # outside Oceania, enough valid demographics
    persons = cat.persons.iloc[rows]
    other = persons["continent"] != "Oceania"
    assert (persons.loc[other, "n_valid_demographics"] >= MIN_VALID_DEMOGRAPHICS).all()


def test_eligibility_mask_agrees_with_the_definition(cat: Catalog) -> None:
    mask = eligible_mask(cat, probe_setups(cat.spec))
    probes = probe_columns(cat)
    expected = (cat.polar[:, probes] >= 0).all(axis=1) & (
        (cat.polar >= 0).sum(axis=1) >= MIN_VALID_ANSWERS)
    np.testing.assert_array_equal(mask, expected)
    assert 0 < mask.sum() < len(mask)  # the filter really removes people here


def test_ineligible_persons_are_never_chosen(bench: BenchData) -> None:
    """Knock out one probe answer of many persons: none of them may be drawn."""
    cat = Catalog.load(bench.catalog)
    victims = np.arange(0, len(cat.person_ids), 2)
    polar = cat.polar.copy()
    polar[victims, cat.spec.index("Q243")] = -1  # a setup-2 probe only
    cat.polar = polar  # type: ignore[misc]
    ids = select_eval_set(cat, 60, seed=0).person_ids
    assert not set(ids.tolist()) & set(cat.person_ids[victims].tolist())


def test_all_eligible_oceania_persons_enter_the_final_draw(cat: Catalog) -> None:
    size = 100
    ok = eligible_mask(cat, probe_setups(cat.spec))
    continent = cat.persons["continent"].to_numpy(dtype=object)
    oceania = set(cat.person_ids[ok & (continent == "Oceania")].tolist())
    assert 0 < len(oceania) < size
    chosen = select_eval_set(cat, size, seed=0).person_ids
    picked = oceania & set(chosen.tolist())
    # §3.2: the union (all Oceania + 5 quotas) exceeds `size` by at most 5, and the final
    # uniform draw drops that surplus; every other eligible Oceania person is in.
    quota = math.floor((size - len(oceania)) / 5) + 1
    surplus = len(oceania) + 5 * quota - size
    assert 0 <= surplus <= 5
    assert len(picked) >= len(oceania) - surplus
    # far more than a proportional share (Oceania is ~4 % of the catalog)
    assert len(picked) > size / 2
    # the other continents get about one quota each
    chosen_cont = cat.persons.set_index("person_id").loc[chosen, "continent"]
    for cont in QUOTA_CONTINENTS:
        assert 1 <= (chosen_cont == cont).sum() <= quota


def test_religion_cap_limits_each_capped_group(cat: Catalog) -> None:
    """Europe is ~80 % Catholic in the bench data: without the cap (80 per 800, i.e. 40 at
    400) about 55 of Europe's 68 would be Catholic."""
    size = 400
    cap = round(80 * size / 800)
    ids = select_eval_set(cat, size, seed=0).person_ids
    rows = cat.rows(ids)
    continent = cat.persons["continent"].to_numpy(dtype=object)[rows]
    religion = cat.demographics[RELIGION_COLUMN].to_numpy()[rows]
    europe = continent == "Europe"
    assert europe.sum() > 60
    assert (religion[europe] == CATHOLIC).sum() <= cap
    for cont in QUOTA_CONTINENTS:
        in_cont = continent == cont
        for code in (0, 1, 2, 3, 5, 7, 8, 9):
            assert (religion[in_cont] == code).sum() <= cap


def test_too_small_catalog_suggests_smaller_eval_size(cat: Catalog) -> None:
    with pytest.raises(IndieValueError, match=r"smaller --eval-size"):
        select_eval_set(cat, 2_400, seed=0)
    with pytest.raises(IndieValueError, match=r"eval-size"):
        select_eval_set(cat, 0, seed=0)


def test_eval_ids_round_trip(cat: Catalog, tmp_path: Path) -> None:
    es = select_eval_set(cat, 60, seed=5)
    path = tmp_path / "eval_ids.txt"
    write_eval_ids(path, es.person_ids)
    text = path.read_text()
    assert text == "".join(f"{i}\n" for i in es.person_ids)
    back = read_eval_ids(path, cat, seed=5)
    np.testing.assert_array_equal(back.person_ids, es.person_ids)
    np.testing.assert_array_equal(back.test_ids, es.test_ids)
    np.testing.assert_array_equal(back.val_ids, es.val_ids)


@pytest.mark.parametrize(
    ("content", "pattern"),
    [
        ("{a}\n999999999999\n", r"not in the catalog.*999999999999"),
        ("{a}\n{b}\n{a}\n", r"twice"),
        ("{a}\nabc\n", r":2: not a person id: 'abc'"),
        ("{a}\n12.5\n", r"not a person id"),
        ("\n\n", r"no person ids"),
    ],
)
def test_bad_eval_id_files(cat: Catalog, tmp_path: Path, content: str, pattern: str) -> None:
    a, b = (int(x) for x in cat.person_ids[:2])
    path = tmp_path / "ids.txt"
    path.write_text(content.format(a=a, b=b))
    with pytest.raises(IndieValueError, match=pattern):
        read_eval_ids(path, cat)


def test_missing_eval_id_file(cat: Catalog, tmp_path: Path) -> None:
    with pytest.raises(IndieValueError, match="no such file"):
        read_eval_ids(tmp_path / "nope.txt", cat)


@pytest.mark.parametrize("n", [1, 7, 100])
def test_halves_are_disjoint_and_cover(n: int) -> None:
    ids = np.arange(1000, 1000 + n, dtype=np.int64)
    es = with_halves(ids, seed=0)
    test, val = set(es.test_ids.tolist()), set(es.val_ids.tolist())
    assert not test & val
    assert test | val == set(ids.tolist())
    assert len(es.test_ids) == n // 2
    np.testing.assert_array_equal(es.person_ids, ids)  # drawn order kept
    again = with_halves(ids, seed=0)
    np.testing.assert_array_equal(again.test_ids, es.test_ids)


def test_halves_are_a_shuffle(cat: Catalog) -> None:
    es = select_eval_set(cat, 100, seed=0)
    assert not np.array_equal(es.test_ids, es.person_ids[:50])


def test_training_pool_excludes_eval_persons(cat: Catalog) -> None:
    ids = select_eval_set(cat, 100, seed=0).person_ids
    rows = training_rows(cat, ids)
    assert len(rows) == len(cat.person_ids) - 100
    assert not set(cat.person_ids[rows].tolist()) & set(ids.tolist())
    assert len(np.unique(rows)) == len(rows)
