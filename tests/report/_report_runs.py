"""Hand-made run directories for the report tests: spec.json, eval_ids.txt, groups.json and
records.jsonl written directly (no catalog, no predictor), summaries computed by ``score_run``.

A plain helper module (not a conftest.py: test folders here have no __init__.py, and a second
module named ``conftest`` would shadow the top-level one that other tests import from).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from indievalue.fsutil import read_json, write_json
from indievalue.runs.spec import eval_ids_digest
from indievalue.runs.summary import score_run

CATEGORIES = ["Social Values", "Happiness", "Trust", "Economy", "Corruption", "Migration",
              "Security", "Postmaterialism", "Science", "Religion", "Ethics",
              "Political Interest", "Political Culture"]
PROBES_PER_SETUP = 13  # one per category keeps the files small
SETUPS = 3
GROUPS = {
    "Continent": ["I live in Africa", "I live in Europe", "I live in Oceania"],
    "Sex": ["I am a man", "I am a woman"],
    "Citizenship": ["I hold citizenship of this country",
                    "I do not hold citizenship of this country"],
}



def write_run(
    run_dir: Path,
    *,
    label: str,
    form: str = "polar",
    demo_form: str | None = None,
    predictor: str = "majority",
    n_persons: int = 12,
    skill: float = 0.5,
    seed: int = 0,
    synthetic: bool = False,
    probs: bool = False,
    sweep: int = 0,
    parse_failures: int = 0,
    cache: dict[str, Any] | None = None,
    demos: int = 200,
) -> Path:
    """A finished run whose persons answer correctly with probability ``skill``."""
    rng = np.random.default_rng(seed)
    run_dir.mkdir(parents=True)
    ids = list(range(1000, 1000 + n_persons))
    n_opt = 2 if form == "polar" else 4
    spec = {
        "catalog": "/nowhere/catalog", "catalog_hash": "abc-def", "synthetic": synthetic,
        "eval_ids_sha256": eval_ids_digest(ids), "n_persons": n_persons,
        "setups": [[f"Q{s}{j}" for j in range(PROBES_PER_SETUP)] for s in range(SETUPS)],
        "protocol": "A", "demos": demos, "demo_form": demo_form or form, "probe_form": form,
        "demographics": "off", "demo_category": None, "train_continent": None,
        "predictor": predictor, "predictor_options": {}, "seed": 0,
    }
    write_json(run_dir / "spec.json", {
        "spec": spec,
        "provenance": {"indievalue_version": "9.9.9", "git_commit": "feedc0de",
                       "libraries": {"numpy": "1.0"}, "time": "2030-01-01T00:00:00+00:00"},
        "label": label, "category_order": CATEGORIES,
        "expected_records": n_persons * SETUPS * PROBES_PER_SETUP,
    })
    (run_dir / "eval_ids.txt").write_text("".join(f"{p}\n" for p in ids), encoding="utf-8")
    write_json(run_dir / "groups.json", {
        str(p): {dim: names[i % len(names)] for dim, names in GROUPS.items()}
        for i, p in enumerate(ids)})
    lines = []
    failures = parse_failures
    for i, p in enumerate(ids):
        person_skill = min(1.0, max(0.0, skill + 0.04 * (i % 3 - 1)))
        for s in range(SETUPS):
            for j in range(PROBES_PER_SETUP):
                gold = int(rng.integers(n_opt))
                right = rng.random() < person_skill
                pred = gold if right else (gold + 1) % n_opt
                status = "ok"
                if failures:
                    status, pred, failures = "parse_failure", -1, failures - 1
                rec: dict[str, Any] = {
                    "person_id": p, "setup": s, "episode": 0, "question": f"Q{s}{j}",
                    "category": CATEGORIES[j], "n_options": n_opt, "gold": gold,
                    "prediction": pred, "probs": None, "status": status}
                if probs:
                    conf = 0.55 + 0.4 * rng.random()
                    rec["probs"] = [conf if k == max(pred, 0) else (1 - conf) / (n_opt - 1)
                                    for k in range(n_opt)]
                if sweep:
                    rec["sweep"] = [gold if rng.random() < skill + 0.01 * k else -1
                                    for k in range(sweep)]
                lines.append(json.dumps(rec))
    (run_dir / "records.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    score_run(run_dir)
    if cache is not None:
        summary = read_json(run_dir / "summary.json")
        summary["cache"] = cache
        write_json(run_dir / "summary.json", summary)
    return run_dir


def report_runs(base: Path) -> list[Path]:
    """Two predictors on both forms (one with probabilities and a cluster-size sweep), plus an
    LM-like run with parse failures and cache statistics; one run synthetic."""
    return [
        write_run(base / "maj-polar", label="Global majority", form="polar", skill=0.6,
                  probs=True, seed=1),
        write_run(base / "maj-refined", label="Global majority", form="refined", skill=0.4,
                  probs=True, seed=2),
        write_run(base / "res-polar", label="Resemble", form="polar", skill=0.7, sweep=5,
                  seed=3, synthetic=True),
        write_run(base / "res-refined", label="Resemble", form="refined", skill=0.5,
                  seed=4),
        write_run(base / "lm-polar", label="Some LM", predictor="lm", form="polar",
                  skill=0.55, parse_failures=7, cache={"hits": 30, "misses": 10}, seed=5),
    ]
