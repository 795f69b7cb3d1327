"""Training data: one independent example per (person, question), sampled from the training
pool only, seeded, rendered exactly like protocol-B evaluation prompts (PROTOCOL §6)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _training_catalog import EVAL_SIZE, training_catalog

from indievalue.benchmark.episodes import Episodes
from indievalue.benchmark.evalset import select_eval_set
from indievalue.catalog.store import Catalog, render_demonstration
from indievalue.errors import IndieValueError
from indievalue.lm.predictors import HFPredictor
from indievalue.lm.prompts import (
    PromptTemplates,
    fill,
    known_block,
    option_lines,
    protocol_b_answer,
)
from indievalue.predictors.base import make_predictor
from indievalue.training.data import (
    DATA_SPEC_FILE,
    EVAL_IDS_FILE,
    HF_DIR,
    JSONL_FILE,
    STATS_FILE,
    DataRequest,
    build_training_data,
)
from indievalue.training.units import parse_units

UNITS = "p3_r1_n4_full,rmixed_p1_n2_full_Europe,demo_p1_n2_full,prand_r1_n1_probe"


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    return Catalog.load(training_catalog(tmp_path_factory))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory,
          catalog: Catalog) -> tuple[Path, list[dict[str, Any]]]:
    out = tmp_path_factory.mktemp("data") / "d"
    build_training_data(catalog, out, DataRequest(units=UNITS, eval_size=EVAL_SIZE,
                                                  formats=("hf", "jsonl")))
    return out, read_jsonl(out / JSONL_FILE)


def test_one_independent_example_per_person_and_question(
        built: tuple[Path, list[dict[str, Any]]]) -> None:
    _, recs = built
    keys = Counter((r["unit"], r["person_id"], r["probe_qid"]) for r in recs)
    assert max(keys.values()) == 1  # no duplicated (person, question) within a unit
    prompts = Counter(r["messages"][0]["content"] for r in recs)
    assert max(prompts.values()) == 1  # and no duplicated example anywhere
    per_q = Counter((r["unit"], r["probe_qid"]) for r in recs)
    for unit in parse_units(UNITS):
        counts = {n for (u, _), n in per_q.items() if u == unit.name}
        assert counts == {unit.n}
    n_questions = {u.name: len({r["probe_qid"] for r in recs if r["unit"] == u.name})
                   for u in parse_units(UNITS)}
    assert n_questions == {"p3_r1_n4_full": 253, "rmixed_p1_n2_full_Europe": 253,
                           "demo_p1_n2_full": 253, "prand_r1_n1_probe": 108}


def test_no_eval_person_is_used(built: tuple[Path, list[dict[str, Any]]],
                                catalog: Catalog) -> None:
    out, recs = built
    drawn = select_eval_set(catalog, EVAL_SIZE, 0).person_ids  # as `indievalue evaluate` draws
    listed = [int(x) for x in (out / EVAL_IDS_FILE).read_text().split()]
    assert listed == drawn.tolist()
    assert not {r["person_id"] for r in recs} & set(listed)


def test_eval_ids_file_is_excluded(tmp_path: Path, catalog: Catalog) -> None:
    ids = catalog.person_ids[::5][:100]
    (tmp_path / "ids.txt").write_text("".join(f"{i}\n" for i in ids))
    out = tmp_path / "d"
    build_training_data(catalog, out, DataRequest(units="p2_p1_n30_probe", formats=("jsonl",),
                                                  eval_ids_file=tmp_path / "ids.txt"))
    used = {r["person_id"] for r in read_jsonl(out / JSONL_FILE)}
    assert not used & set(ids.tolist())
    assert json.loads((out / DATA_SPEC_FILE).read_text())["n_eval"] == 100


def test_examples_match_the_catalog_and_the_protocol_b_layout(
        built: tuple[Path, list[dict[str, Any]]], catalog: Catalog) -> None:
    _, recs = built
    spec = catalog.spec
    template = PromptTemplates().b
    n_valid = (catalog.polar >= 0).sum(axis=1)
    for r in recs:
        if r["demo_form"] == "demographics":
            continue
        row = catalog.row(r["person_id"])
        qi = spec.index(r["probe_qid"])
        q = spec.questions[qi]
        options = [o.text for o in q.options(r["probe_form"])]
        assert r["gold"] == catalog.matrix(r["probe_form"])[row, qi] >= 0
        demo_idx = [spec.index(d) for d in r["demo_qids"]]
        assert len(set(demo_idx)) == len(demo_idx) == r["n_demos"]
        assert qi not in demo_idx
        answers = catalog.matrix(r["demo_form"])[row, demo_idx]
        assert (answers >= 0).all()
        lines = [render_demonstration(spec.questions[d].options(r["demo_form"])[a].text)
                 for d, a in zip(demo_idx, answers, strict=True)]
        assert r["messages"][0] == {
            "role": "user",
            "content": fill(template, known_block(lines, "B"), option_lines(options))}
        assert r["messages"][1] == {"role": "assistant",
                                    "content": protocol_b_answer(r["gold"], options)}
        kind = r["unit"][1:].split("_")[0]
        ranges = {"mixed": (50, 200), "rand": (100, 200)}
        lo, hi = ranges[kind] if kind in ranges else (int(kind), int(kind))
        assert lo <= r["n_demos"] <= hi
        assert n_valid[row] >= r["n_demos"] + 1


def test_prompt_is_what_the_hf_predictor_sends(built: tuple[Path, list[dict[str, Any]]],
                                               catalog: Catalog) -> None:
    """The same demonstrations as an evaluation episode give the identical user message."""
    _, recs = built
    spec = catalog.spec
    r = next(x for x in recs if x["unit"] == "p3_r1_n4_full")
    row = catalog.row(r["person_id"])
    demo_q = np.array([[spec.index(d) for d in r["demo_qids"]]], dtype=np.int16)
    eps = Episodes(
        "B", 0, "polar", "refined", spec, np.array([r["person_id"]]), np.array([0]),
        np.array([[spec.index(r["probe_qid"])]], dtype=np.int16), demo_q,
        catalog.polar[row, demo_q.astype(np.int64)].astype(np.int8),
        np.full((1, len(spec.questions)), -1, dtype=np.int8))
    predictor = make_predictor("hf", {"model": "unused", "cache": "off"})
    assert isinstance(predictor, HFPredictor)  # constructing it loads nothing
    assert predictor.messages(eps, 0) == [r["messages"][0]]


def test_mixed_and_rand_counts_vary(built: tuple[Path, list[dict[str, Any]]]) -> None:
    _, recs = built
    mixed = [r["n_demos"] for r in recs if r["unit"].startswith("rmixed")]
    assert min(mixed) < 100 < max(mixed)
    rand = [r["n_demos"] for r in recs if r["unit"].startswith("prand")]
    assert min(rand) >= 100 and len(set(rand)) > 10


def test_continent_restriction(built: tuple[Path, list[dict[str, Any]]],
                               catalog: Catalog) -> None:
    _, recs = built
    continent = dict(zip(catalog.person_ids.tolist(), catalog.persons["continent"], strict=True))
    europe = {continent[r["person_id"]] for r in recs if r["unit"].endswith("_Europe")}
    assert europe == {"Europe"}
    others = {continent[r["person_id"]] for r in recs if r["unit"] == "p3_r1_n4_full"}
    assert len(others) > 1


def test_demographics_only_units(built: tuple[Path, list[dict[str, Any]]],
                                 catalog: Catalog) -> None:
    _, recs = built
    demo = [r for r in recs if r["unit"] == "demo_p1_n2_full"]
    assert len(demo) == 2 * 253
    for r in demo[:60]:
        statements = catalog.demographic_statements(r["person_id"])
        assert r["demo_form"] == "demographics"
        assert r["demo_qids"] == [d for d, _ in statements]
        lines = [render_demonstration(s) for _, s in statements]
        assert known_block(lines, "B") in r["messages"][0]["content"]
        assert r["n_demos"] == len(statements)


def test_seeded(tmp_path: Path, catalog: Catalog) -> None:
    def build(name: str, seed: int) -> bytes:
        out = tmp_path / name
        build_training_data(catalog, out, DataRequest(units="pmixed_r1_n3_probe,demo_r1_n1_probe",
                                                      eval_size=EVAL_SIZE, seed=seed,
                                                      formats=("jsonl",)))
        return (out / JSONL_FILE).read_bytes()

    first = build("a", 1)
    assert build("b", 1) == first
    assert build("c", 2) != first


def test_a_unit_is_the_same_in_any_mixture(tmp_path: Path, catalog: Catalog) -> None:
    def unit_lines(name: str, units: str) -> list[str]:
        out = tmp_path / name
        build_training_data(catalog, out, DataRequest(units=units, eval_size=EVAL_SIZE,
                                                      formats=("jsonl",)))
        return [ln for ln in (out / JSONL_FILE).read_text().splitlines()
                if '"unit": "p5_p1_n2_probe"' in ln]

    alone = unit_lines("alone", "p5_p1_n2_probe")
    assert alone and unit_lines("mixed", "r5_r1_n2_probe,p5_p1_n2_probe") == alone


def test_hf_dataset_equals_jsonl(built: tuple[Path, list[dict[str, Any]]]) -> None:
    import datasets

    out, recs = built
    ds = datasets.load_from_disk(str(out / HF_DIR))
    assert len(ds) == len(recs)
    assert ds[0] == recs[0] and ds[len(recs) - 1] == recs[-1]
    assert ds.features["messages"].feature["role"].dtype == "string"


def test_stats_and_spec(built: tuple[Path, list[dict[str, Any]]]) -> None:
    out, recs = built
    stats = json.loads((out / STATS_FILE).read_text())
    assert stats["examples"] == len(recs)
    assert stats["per_question"] == 4 + 2 + 2 + 1
    assert stats["eval_persons"] == EVAL_SIZE
    assert stats["distinct_persons"] == len({r["person_id"] for r in recs})
    for name, unit in stats["units"].items():
        rows = [r for r in recs if r["unit"] == name]
        assert unit["examples"] == len(rows)
        assert unit["demonstrations"]["max"] == max(r["n_demos"] for r in rows)
        assert unit["demonstrations"]["min"] == min(r["n_demos"] for r in rows)
    assert stats["tokens"] is None  # no tokenizer given
    spec = json.loads((out / DATA_SPEC_FILE).read_text())
    assert spec["units"] == UNITS.split(",") and spec["seed"] == 0


def test_pool_too_small_is_one_line_and_leaves_nothing(tmp_path: Path, catalog: Catalog) -> None:
    with pytest.raises(IndieValueError, match="eligible training persons"):
        build_training_data(catalog, tmp_path / "d",
                            DataRequest(units="p3_p1_n200_full_Oceania", eval_size=EVAL_SIZE))
    assert list(tmp_path.iterdir()) == []


def test_existing_output_is_refused(built: tuple[Path, list[dict[str, Any]]],
                                    catalog: Catalog) -> None:
    out, _ = built
    with pytest.raises(IndieValueError, match="overwrite"):
        build_training_data(catalog, out, DataRequest(units="p3_p1_n1_probe",
                                                      eval_size=EVAL_SIZE))
