"""``evaluate``: the run directory (spec, ids, records, summary), re-scoring and resuming."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from _bench_data import BenchData
from indievalue.benchmark.evalset import select_eval_set
from indievalue.benchmark.setups import probe_setups
from indievalue.catalog.store import Catalog
from indievalue.errors import IndieValueError
from indievalue.predictors.baselines import expected_accuracy
from indievalue.runs.config import EvalConfig
from indievalue.runs.evaluate import evaluate
from indievalue.runs.files import read_run
from indievalue.runs.spec import RunSpec, eval_ids_digest
from indievalue.runs.summary import score_run

N = 40


def cfg(predictor: str = "random", options: dict[str, Any] | None = None,
        **settings: Any) -> EvalConfig:
    """A run of ``predictor`` on the first N eval persons, seed 0 unless ``settings`` say."""
    return EvalConfig(predictor=predictor, predictor_options=options or {},
                      **{"eval_size": N, "seed": 0, **settings})


@pytest.fixture(scope="module")
def random_run(bench: BenchData, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "random"
    evaluate(bench.catalog, cfg(), out)
    return out


@pytest.fixture(scope="module")
def resemble_run(bench: BenchData, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "resemble"
    evaluate(bench.catalog, cfg("resemble", {"top_k": 5, "sweep": 8}, demo_form="refined",
                                probe_form="refined"), out)
    return out


def lines(run: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (run / "records.jsonl").read_text().splitlines()]


def test_run_directory_contents(random_run: Path, bench: BenchData) -> None:
    assert {"spec.json", "eval_ids.txt", "records.jsonl", "summary.json", "summary.md"} <= {
        p.name for p in random_run.iterdir()}
    meta = json.loads((random_run / "spec.json").read_text())
    spec = RunSpec.model_validate(meta["spec"])
    cat = Catalog.load(bench.catalog)
    assert spec.predictor == "random" and spec.predictor_options == {}
    assert spec.catalog_hash == cat.content_hash and spec.synthetic is True
    assert spec.n_persons == N and spec.demos == 200 and spec.protocol == "A"
    assert spec.setups == [list(s.qids) for s in probe_setups(cat.spec)]
    prov = meta["provenance"]
    assert {"indievalue_version", "git_commit", "python", "libraries", "time"} <= set(prov)
    assert "numpy" in prov["libraries"]
    ids = [int(x) for x in (random_run / "eval_ids.txt").read_text().split()]
    assert ids == select_eval_set(cat, N, seed=0).person_ids.tolist()
    assert spec.eval_ids_sha256 == eval_ids_digest(ids)


def test_records_one_line_per_person_and_probe(random_run: Path, bench: BenchData) -> None:
    recs = lines(random_run)
    assert len(recs) == N * 39 * 3
    keys = {(r["person_id"], r["setup"], r["question"]) for r in recs}
    assert len(keys) == len(recs)
    ids = {int(x) for x in (random_run / "eval_ids.txt").read_text().split()}
    assert {r["person_id"] for r in recs} == ids
    cat = Catalog.load(bench.catalog)
    for r in recs[:200]:
        assert {"person_id", "setup", "episode", "question", "category", "n_options", "gold",
                "prediction", "probs", "status"} <= set(r)
        assert r["status"] == "ok"
        assert 0 <= r["prediction"] < r["n_options"]
        assert r["probs"] == [pytest.approx(1 / r["n_options"])] * r["n_options"]
        assert r["gold"] == int(cat.polar[cat.row(r["person_id"]), cat.spec.index(r["question"])])
        assert r["category"] == cat.spec.category_name(cat.spec.question(r["question"]).category)


def test_summary(random_run: Path) -> None:
    s = json.loads((random_run / "summary.json").read_text())
    assert s["n_persons"] == N and s["n_records"] == N * 117 and s["complete"] is True
    assert len(s["per_setup"]) == 3
    assert len(s["per_category"]) == 13
    assert s["overall"] == pytest.approx(np.mean(s["per_setup"]))
    assert s["overall_ci95"][0] < s["overall"] < s["overall_ci95"][1]
    assert s["sigma_inequity"] is not None and s["sigma_inequity"] > 0
    assert len(s["sigma_by_dimension"]) == 16
    assert [round(x, 2) for x in s["expected_per_setup"]] == [46.37, 45.51, 44.23]
    assert s["synthetic"] is True and s["parse_failures"] == 0 and s["errors"] == 0
    assert "probability" in s
    md = (random_run / "summary.md").read_text()
    assert "SYNTHETIC" in md and f"{s['overall']:.2f}" in md


def test_expected_per_setup_only_for_random(resemble_run: Path) -> None:
    s = json.loads((resemble_run / "summary.json").read_text())
    assert "expected_per_setup" not in s
    assert [round(x, 2) for x in s["chance_per_setup"]] == [27.18, 27.18, 27.10]
    assert set(s["sweep"]) == {str(n) for n in range(1, 9)}


def test_sweep_in_records_matches_top_k(resemble_run: Path) -> None:
    recs = read_run(resemble_run).records
    sweep = np.stack(recs["sweep"].to_numpy())
    assert sweep.shape == (len(recs), 8)
    np.testing.assert_array_equal(sweep[:, 4], recs["prediction"].to_numpy())
    s = json.loads((resemble_run / "summary.json").read_text())
    assert s["sweep"]["5"] == pytest.approx(s["overall"])


def test_score_run_reproduces_summary_exactly(random_run: Path, resemble_run: Path,
                                              tmp_path: Path) -> None:
    for run in (random_run, resemble_run):
        copy = tmp_path / run.name
        shutil.copytree(run, copy)
        before = (copy / "summary.json").read_bytes()
        (copy / "summary.json").unlink()
        (copy / "summary.md").unlink()
        score_run(copy)
        assert (copy / "summary.json").read_bytes() == before
        assert (copy / "summary.md").read_bytes() == (run / "summary.md").read_bytes()


def test_rerun_resumes_without_duplicates(random_run: Path, bench: BenchData,
                                          tmp_path: Path) -> None:
    copy = tmp_path / "again"
    shutil.copytree(random_run, copy)
    before = (copy / "records.jsonl").read_bytes()
    spec_before = (copy / "spec.json").read_bytes()
    summary = evaluate(bench.catalog, cfg(), copy)
    assert (copy / "records.jsonl").read_bytes() == before
    assert (copy / "spec.json").read_bytes() == spec_before
    assert summary["n_records"] == N * 117


def test_same_spec_gives_identical_records(random_run: Path, bench: BenchData,
                                           tmp_path: Path) -> None:
    evaluate(bench.catalog, cfg(), tmp_path / "twin")
    assert (tmp_path / "twin" / "records.jsonl").read_bytes() == \
        (random_run / "records.jsonl").read_bytes()


@pytest.mark.parametrize(
    ("config", "field"),
    [
        (cfg(demos=100), "demos"),
        (cfg(probe_form="refined"), "probe_form"),
        (cfg(seed=1), "seed"),
        (cfg("majority"), "predictor"),
        (cfg(eval_size=N - 2), "n_persons"),
    ],
)
def test_different_spec_into_same_dir_is_refused(
        random_run: Path, bench: BenchData, tmp_path: Path, config: EvalConfig,
        field: str) -> None:
    copy = tmp_path / "run"
    shutil.copytree(random_run, copy)
    before = (copy / "records.jsonl").read_bytes()
    with pytest.raises(IndieValueError, match=rf"differs in: .*\b{field}\b"):
        evaluate(bench.catalog, config, copy)
    assert (copy / "records.jsonl").read_bytes() == before


def test_different_options_are_refused(resemble_run: Path, bench: BenchData,
                                       tmp_path: Path) -> None:
    copy = tmp_path / "run"
    shutil.copytree(resemble_run, copy)
    with pytest.raises(IndieValueError, match="predictor_options"):
        evaluate(bench.catalog, cfg("resemble", {"top_k": 6, "sweep": 8},
                                    demo_form="refined", probe_form="refined"), copy)


def test_non_run_directory_is_refused(bench: BenchData, tmp_path: Path) -> None:
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(IndieValueError, match="not a run directory"):
        evaluate(bench.catalog, cfg(), tmp_path / "busy")


@pytest.mark.parametrize("premade", [False, True])
def test_a_predictor_that_cannot_fit_leaves_no_run_behind(bench: BenchData, tmp_path: Path,
                                                          premade: bool) -> None:
    out = tmp_path / "run"
    if premade:
        out.mkdir()  # an empty directory of the caller's stays, empty
    with pytest.raises(IndieValueError, match="pool must be"):
        evaluate(bench.catalog, cfg("resemble", {"pool": 10**9, "sweep": 0}), out)
    assert (out.is_dir() and not any(out.iterdir())) if premade else not out.exists()
    # The same directory then takes a corrected run.
    assert evaluate(bench.catalog, cfg("resemble", {"sweep": 0}), out)["overall"] > 0


def test_eval_ids_file_is_used(bench: BenchData, tmp_path: Path) -> None:
    cat = Catalog.load(bench.catalog)
    ids = select_eval_set(cat, 30, seed=9).person_ids[:6]
    (tmp_path / "ids.txt").write_text("\n".join(str(i) for i in ids) + "\n")
    out = tmp_path / "run"
    s = evaluate(bench.catalog, EvalConfig(predictor="majority", eval_ids_file=tmp_path / "ids.txt",
                                           protocol="B", demos=10), out)
    assert s["n_persons"] == 6 and s["n_records"] == 6 * 117
    assert (out / "eval_ids.txt").read_text().split() == [str(i) for i in ids]
    recs = lines(out)
    # protocol B: the episode number is the probe's question index
    assert all(r["episode"] == cat.spec.index(r["question"]) for r in recs)


def test_protocol_b_random_matches_expectation(bench: BenchData, tmp_path: Path) -> None:
    s = evaluate(bench.catalog, cfg(protocol="B", demos=0), tmp_path / "b")
    for got, exp in zip(s["per_setup"], s["expected_per_setup"], strict=True):
        assert got == pytest.approx(exp, abs=5.0)
    cat = Catalog.load(bench.catalog)
    probes = [np.array([cat.spec.index(q) for q in st.qids]) for st in probe_setups(cat.spec)]
    exp = [expected_accuracy(cat.spec.option_counts("polar")[p]) for p in probes]
    assert s["expected_per_setup"] == pytest.approx(exp)
