"""Running a predictor on the benchmark into a run directory (resumable)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from indievalue.benchmark.episodes import DemographicsMode, EpisodeSet, Protocol, build_episodes
from indievalue.benchmark.evalset import (
    DEFAULT_EVAL_SIZE,
    read_eval_ids,
    select_eval_set,
    training_rows,
    write_eval_ids,
)
from indievalue.benchmark.setups import probe_setups
from indievalue.catalog.spec import Form
from indievalue.catalog.store import Catalog
from indievalue.errors import IndieValueError
from indievalue.fsutil import read_json, write_json
from indievalue.predictors.base import Predictions, Predictor, TrainingPool, make_predictor
from indievalue.runs.records import RecordWriter, recover
from indievalue.runs.spec import RunSpec, eval_ids_digest, provenance
from indievalue.runs.summary import GROUPS_FILE, SPEC_FILE, score_run

EVAL_IDS_FILE = "eval_ids.txt"
# progress(done, total, correct, answered) or, for predictors that keep counters (language
# models: cache hits, retries, parse failures, faults), progress(..., stats=dict).
Progress = Callable[..., None]
LM_STATS_FILE = "lm_stats.json"


@dataclass(frozen=True)
class EvalRequest:
    """What to evaluate, as the CLI and the main job pass it."""

    protocol: Protocol = "A"
    demos: int = 200
    demo_form: Form = "polar"
    probe_form: Form = "polar"
    demographics: DemographicsMode = "off"
    demo_category: str | None = None
    train_continent: str | None = None
    seed: int = 0
    eval_size: int = DEFAULT_EVAL_SIZE
    eval_ids_file: Path | None = None


def _prepare_dir(out: Path, spec: RunSpec) -> bool:
    """Create the run directory or check it holds the same run. True if resuming."""
    spec_path = out / SPEC_FILE
    if spec_path.exists():
        old = read_json(spec_path).get("spec", {})
        new = spec.model_dump(mode="json")
        if old != new:
            diff = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
            raise IndieValueError(
                f"{out} holds a different run (differs in: {', '.join(diff)}); "
                "choose another --out or remove it")
        return True
    if out.exists() and any(out.iterdir()):
        raise IndieValueError(f"{out} exists and is not a run directory; choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    return False


def evaluate(
    catalog: Catalog | str | Path,
    predictor: str | Predictor,
    out: str | Path,
    request: EvalRequest,
    options: Mapping[str, Any] | None = None,
    label: str | None = None,
    progress: Progress | None = None,
    fitted_on: Callable[[TrainingPool], Predictor] | None = None,
) -> dict[str, Any]:
    """Evaluate ``predictor`` and return the run's summary. Resumes an interrupted run."""
    cat = catalog if isinstance(catalog, Catalog) else Catalog.load(catalog)
    pred = predictor if isinstance(predictor, Predictor) else \
        make_predictor(predictor, options, seed=request.seed)
    type(pred).check_catalog(cat)  # before anything is written
    out = Path(out)
    evalset = (read_eval_ids(request.eval_ids_file, cat, request.seed) if request.eval_ids_file
               else select_eval_set(cat, request.eval_size, request.seed))
    ids = [int(i) for i in evalset.person_ids]
    setups = probe_setups(cat.spec)
    spec = RunSpec(
        catalog=str(cat.path), catalog_hash=cat.content_hash, synthetic=cat.synthetic,
        eval_ids_sha256=eval_ids_digest(ids), n_persons=len(ids),
        setups=[list(s.qids) for s in setups], protocol=request.protocol, demos=request.demos,
        demo_form=request.demo_form, probe_form=request.probe_form,
        demographics=request.demographics, demo_category=request.demo_category,
        train_continent=request.train_continent, predictor=pred.name,
        predictor_options=pred.options.model_dump(mode="json"), seed=request.seed,
    )
    existed = out.exists()
    resuming = _prepare_dir(out, spec)
    sets = [build_episodes(cat, evalset.person_ids, s, protocol=request.protocol,
                           demos=request.demos, demo_form=request.demo_form,
                           probe_form=request.probe_form, demographics=request.demographics,
                           demo_category=request.demo_category, seed=request.seed)
            for s in setups]
    expected = {key: n for es in sets for key, n in _episode_sizes(es)}
    if not resuming:
        write_eval_ids(out / EVAL_IDS_FILE, evalset.person_ids)
        write_json(out / GROUPS_FILE, _groups(cat, evalset.person_ids))
        write_json(out / SPEC_FILE, {
            "spec": spec.model_dump(mode="json"),
            "provenance": provenance(),
            "label": label or pred.describe(),
            "category_order": [c.name for c in cat.spec.categories],
            "expected_records": int(sum(expected.values())),
        })
    done = recover(out, expected)
    todo = [(es, np.array([k not in done for k, _ in _episode_sizes(es)])) for es in sets]
    total = int(sum(expected.values()))
    counter = [sum(n for k, n in expected.items() if k in done), 0, 0]
    if progress:
        progress(counter[0], total, 0, 0)
    if any(m.any() for _, m in todo):
        pool = TrainingPool(cat, _pool_rows(cat, evalset.person_ids, request.train_continent))
        try:
            if fitted_on is not None:
                pred = fitted_on(pool)
            else:
                pred.fit(pool)
        except IndieValueError:
            if not resuming:  # nothing was answered: leave no run directory behind
                if existed:  # an empty directory the caller made: empty it again
                    for name in (SPEC_FILE, EVAL_IDS_FILE, GROUPS_FILE):
                        (out / name).unlink(missing_ok=True)
                else:
                    shutil.rmtree(out, ignore_errors=True)
            raise
        stats = _StatsFile(out, pred)
        with RecordWriter(out) as writer:
            for es, mask in todo:
                _run_setup(pred, es, np.flatnonzero(mask), writer, progress, counter, total,
                           stats)
    return score_run(out)


class _StatsFile:
    """Cumulative predictor counters of a run directory (over resumed sessions too)."""

    def __init__(self, out: Path, pred: Predictor):
        self.path = out / LM_STATS_FILE
        self.pred = pred
        self.base = read_json(self.path) if self.path.exists() else {}

    def update(self) -> dict[str, Any] | None:
        stats_fn = getattr(self.pred, "stats", None)
        if stats_fn is None:
            return None
        merged = _add(self.base, stats_fn())
        write_json(self.path, merged)
        return merged


def _add(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for k, v in b.items():
        if isinstance(v, dict):
            out[k] = _add(out.get(k, {}), v)
        elif isinstance(v, (int, float)):
            out[k] = out.get(k, 0) + v
    return out


def _pool_rows(cat: Catalog, eval_ids: np.ndarray, continent: str | None) -> np.ndarray:
    rows = training_rows(cat, eval_ids)
    if continent is None:
        return rows
    names = cat.persons["continent"].to_numpy(dtype=object)
    known = sorted({c for c in names if isinstance(c, str)})
    if continent not in known:
        raise IndieValueError(f"no training persons in continent {continent!r}; "
                              f"known: {', '.join(known)}")
    return rows[names[rows] == continent]


def _episode_sizes(es: EpisodeSet) -> list[tuple[tuple[int, int, int], int]]:
    ep = es.episodes
    m = ep.probe_qidx.shape[1]
    return [((int(p), ep.setup, episode_number(ep, e)), m) for e, p in enumerate(ep.person_ids)]


def episode_number(eps: Any, e: int) -> int:
    """Protocol A: 0 (one episode per person and setup); B: the probe's question index."""
    return 0 if eps.protocol == "A" else int(eps.probe_qidx[e, 0])


def _run_setup(pred: Predictor, es: EpisodeSet, rows: np.ndarray, writer: RecordWriter,
               progress: Progress | None, counter: list[int], total: int,
               stats: _StatsFile) -> None:
    batch = max(1, int(getattr(pred, "batch_size", 256)))
    cat_of = {q.qid: q.category for q in es.episodes.spec.questions}
    names = {c.key: c.name for c in es.episodes.spec.categories}
    for start in range(0, len(rows), batch):
        sel = rows[start : start + batch]
        eps = es.episodes.subset(sel)
        preds = pred.predict(eps)
        gold = es.gold[sel]
        writer.write_lines(_record_lines(eps, gold, preds, cat_of, names))
        ok = preds.status is None or np.asarray(preds.status) == "ok"
        counter[0] += gold.size
        counter[1] += int(((np.asarray(preds.choices) == gold) & ok).sum())
        counter[2] += gold.size
        current = stats.update()
        if progress:
            if current is None:
                progress(counter[0], total, counter[1], counter[2])
            else:
                progress(counter[0], total, counter[1], counter[2], stats=current)


def _record_lines(eps: Any, gold: np.ndarray, preds: Predictions,
                  cat_of: dict[str, str], names: dict[str, str]) -> list[list[str]]:
    """Each episode's record lines as JSON text (what ``json.dumps`` gives for the record
    dict, built directly: this runs once per person x probe)."""
    spec = eps.spec
    n_opt = eps.n_options.tolist()
    choices = np.asarray(preds.choices).tolist()
    golds = gold.tolist()
    status = None if preds.status is None else np.asarray(preds.status).tolist()
    probs: Any = None
    finite: Any = None
    if preds.probs is not None:
        rounded = _round6(np.asarray(preds.probs))
        inside = np.arange(rounded.shape[-1]) < eps.n_options[..., None]
        finite = np.where(inside, np.isfinite(rounded), True).all(axis=-1).tolist()
        probs = rounded.tolist()
    extra_cols = [(_dumps(key), np.asarray(arr)) for key, arr in (preds.probe_extras or {}).items()]
    fast_cols = [(key, arr.tolist()) for key, arr in extra_cols
                 if arr.dtype.kind in "iu" and arr.ndim in (2, 3)]
    if len(fast_cols) < len(extra_cols):
        fast_cols = []
    head: dict[int, str] = {}  # question index -> '"question":…,"category":…'
    quoted: dict[str, str] = {}
    setup = int(eps.setup)
    out = []
    for e in range(len(eps)):
        extra = preds.extras[e] if preds.extras is not None else {}
        prefix = (f'{{"person_id":{int(eps.person_ids[e])},"setup":{setup},'
                  f'"episode":{episode_number(eps, e)},')
        lines = []
        for j, qi in enumerate(eps.probe_qidx[e].tolist()):
            if j == 0 and extra:  # per-episode extras may override fields: the general path
                lines.append(_dumps(_record_dict(eps, e, j, gold, preds, cat_of, names, extra)))
                continue
            if qi not in head:
                qid = spec.questions[qi].qid
                head[qi] = f'"question":{_dumps(qid)},"category":{_dumps(names[cat_of[qid]])}'
            k = n_opt[e][j]
            if probs is None:
                p = "null"
            elif finite[e][j]:
                p = "[" + ",".join(map(repr, probs[e][j][:k])) + "]"
            else:
                p = _dumps(probs[e][j][:k])  # NaN / Infinity spelled as json.dumps spells them
            st = "ok" if status is None else str(status[e][j])
            if st not in quoted:
                quoted[st] = _dumps(st)
            parts = [prefix, head[qi], f',"n_options":{k},"gold":{golds[e][j]},'
                     f'"prediction":{choices[e][j]},"probs":{p},"status":{quoted[st]}']
            if fast_cols:
                for (key, _), (_, values) in zip(extra_cols, fast_cols, strict=True):
                    v = values[e][j]
                    parts.append(f",{key}:" + (str(v) if isinstance(v, int) else
                                               "[" + ",".join(map(str, v)) + "]"))
            else:
                for key, arr in extra_cols:
                    parts.append(f",{key}:{_dumps(np.asarray(arr[e, j]).tolist())}")
            parts.append("}")
            lines.append("".join(parts))
        out.append(lines)
    return out


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _round6(probs: np.ndarray) -> np.ndarray:
    """Probabilities rounded to 6 decimals (NaN stays NaN): the value nearest to n / 10**6."""
    return np.rint(probs.astype(np.float64) * 1e6) / 1e6


def _record_dict(eps: Any, e: int, j: int, gold: np.ndarray, preds: Predictions,
                 cat_of: dict[str, str], names: dict[str, str],
                 extra: dict[str, Any]) -> dict[str, Any]:
    q = eps.spec.questions[int(eps.probe_qidx[e, j])]
    k = int(eps.n_options[e, j])
    rec: dict[str, Any] = {
        "person_id": int(eps.person_ids[e]),
        "setup": int(eps.setup),
        "episode": episode_number(eps, e),
        "question": q.qid,
        "category": names[cat_of[q.qid]],
        "n_options": k,
        "gold": int(gold[e, j]),
        "prediction": int(preds.choices[e, j]),
        "probs": None if preds.probs is None else _round6(preds.probs[e, j, :k]).tolist(),
        "status": "ok" if preds.status is None else str(preds.status[e, j]),
    }
    for key, arr in (preds.probe_extras or {}).items():
        rec[key] = np.asarray(arr[e, j]).tolist()
    rec.update(extra)
    return rec


def _groups(cat: Catalog, person_ids: np.ndarray) -> dict[str, dict[str, str | None]]:
    """Each eval person's statement for every fairness dimension (None when missing)."""
    demo = cat.demographics
    dims = [(e.did, e.dimension) for e in cat.spec.demographics if e.dimension]
    rows = cat.rows(person_ids)
    # One column at a time (a pandas row lookup per person is slow for 800 persons).
    sub = demo.iloc[rows]
    columns = [[v if isinstance(v, str) else None for v in sub[did].to_numpy(dtype=object)]
               for did, _ in dims]
    return {str(int(pid)): {dim: col[i] for (_, dim), col in zip(dims, columns, strict=True)}
            for i, pid in enumerate(person_ids)}
