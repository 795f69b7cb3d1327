"""Running a predictor on the benchmark into a run directory (resumable)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from pydantic import TypeAdapter, ValidationError

from indievalue.benchmark.episodes import EpisodeSet
from indievalue.benchmark.evalset import (
    training_rows,
    write_eval_ids,
)
from indievalue.benchmark.setups import probe_setups
from indievalue.catalog.store import Catalog
from indievalue.errors import IndieValueError
from indievalue.fsutil import write_json
from indievalue.predictors.base import (
    Predictor,
    PredictorStats,
    TrainingPool,
    make_predictor,
)
from indievalue.runs.config import EvalConfig, draw_eval_set, episode_sets
from indievalue.runs.files import (
    new_spec_file,
    read_eval_ids_file,
    read_groups,
    read_spec_file,
    write_spec_file,
)
from indievalue.runs.records import (
    RecordWriter,
    encode_episodes,
    episode_number,
    records_table,
    recover,
    validation_text,
)
from indievalue.runs.spec import RunSpec, eval_ids_digest
from indievalue.runs.summary import GROUPS_FILE, SPEC_FILE, score, score_run

EVAL_IDS_FILE = "eval_ids.txt"
# progress(done, total, correct, answered) or, for predictors that keep counters (language
# models: cache hits, retries, parse failures, faults), progress(..., stats=PredictorStats).
Progress = Callable[..., None]
LM_STATS_FILE = "lm_stats.json"


def _prepare_dir(out: Path, spec: RunSpec) -> bool:
    """Create the run directory or check it holds the same run. True if resuming."""
    spec_path = out / SPEC_FILE
    if spec_path.exists():
        old = read_spec_file(out).spec.model_dump(mode="json")  # checked: one line if not
        new = spec.model_dump(mode="json")
        if old != new:
            diff = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
            raise IndieValueError(
                f"{out} holds a different run (differs in: {', '.join(diff)}); "
                "choose another --out or remove it")
        read_eval_ids_file(out, spec)  # a resumed run keeps the eval persons it started with
        return True
    if out.exists() and any(out.iterdir()):
        raise IndieValueError(f"{out} exists and is not a run directory; choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    return False


def evaluate(
    catalog: Catalog | str | Path,
    config: EvalConfig,
    out: str | Path,
    *,
    predictor: Predictor | None = None,
    label: str | None = None,
    progress: Progress | None = None,
    fitted_on: Callable[[TrainingPool], Predictor] | None = None,
) -> dict[str, Any]:
    """Evaluate ``config`` into the run directory ``out`` and return the run's summary.
    Resumes an interrupted run.

    ``predictor``: an already constructed predictor to run instead of building
    ``config.predictor`` with ``config.predictor_options`` (the spec records its name and
    options). ``fitted_on(pool)``: returns the predictor fitted on the training pool, instead
    of ``predictor.fit(pool)``.
    """
    cat = catalog if isinstance(catalog, Catalog) else Catalog.load(catalog)
    if predictor is None:
        pred = make_predictor(config.predictor, config.predictor_options, seed=config.seed)
    elif predictor.name != config.predictor:
        raise IndieValueError(f"evaluate: the predictor given is {predictor.name!r} but the "
                              f"configuration names {config.predictor!r}")
    else:
        pred = predictor
    type(pred).check_catalog(cat)  # before anything is written
    cat.check()  # a damaged catalog is refused here, not halfway through the run
    out = Path(out)
    evalset = draw_eval_set(cat, config)
    ids = [int(i) for i in evalset.person_ids]
    setups = probe_setups(cat.spec)
    spec = RunSpec(
        **{**config.settings(), "predictor": pred.name,
           "predictor_options": pred.options.model_dump(mode="json")},
        catalog=str(cat.path), catalog_hash=cat.content_hash, synthetic=cat.synthetic,
        eval_ids_sha256=eval_ids_digest(ids), n_persons=len(ids),
        setups=[list(s.qids) for s in setups],
    )
    sets = episode_sets(cat, evalset.person_ids, spec)  # refuses bad settings: nothing written
    expected = {key: n for es in sets for key, n in _episode_sizes(es)}
    existed = out.exists()
    resuming = _prepare_dir(out, spec)
    if not resuming:
        write_eval_ids(out / EVAL_IDS_FILE, evalset.person_ids)
        write_json(out / GROUPS_FILE, _groups(cat, evalset.person_ids))
        write_spec_file(out, new_spec_file(
            spec, label=label or pred.describe(),
            category_order=[c.name for c in cat.spec.categories],
            expected_records=int(sum(expected.values()))))
    # The run's own files are read, and refused if damaged, before recover() edits anything.
    if resuming:
        read_groups(out, evalset.person_ids)
    stats = _StatsFile(out)
    done = recover(out, expected)
    todo = [(es, np.array([k not in done for k, _ in _episode_sizes(es)])) for es in sets]
    total = int(sum(expected.values()))
    counter = [sum(n for k, n in expected.items() if k in done), 0, 0]
    if progress:
        progress(counter[0], total, 0, 0)
    if any(m.any() for _, m in todo):
        pool = TrainingPool(cat, _pool_rows(cat, evalset.person_ids, spec.train_continent))
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
        # A run written whole in this call is scored from the tables of what was written
        # (equal to reading records.jsonl back, which a resumed run does).
        memory = _Tables() if not done else None
        with RecordWriter(out) as writer:
            for es, mask in todo:
                _run_setup(pred, es, np.flatnonzero(mask), writer, progress, counter, total,
                           stats, memory)
        if memory is not None and memory.tables:
            return score(out, table=pa.concat_tables(memory.tables)).to_json()
    return score_run(out)


class _Tables:
    """The record tables of a run's batches, as long as every batch has one."""

    def __init__(self) -> None:
        self.tables: list[pa.Table] | None = []

    def add(self, table: pa.Table | None) -> None:
        if table is None or self.tables is None:
            self.tables = None
        else:
            self.tables.append(table)


_STATS = TypeAdapter(PredictorStats)  # lm_stats.json: the counters, unknown keys ignored


class _StatsFile:
    """Cumulative predictor counters of a run directory (over resumed sessions too)."""

    def __init__(self, out: Path):
        self.path = out / LM_STATS_FILE
        self.base = PredictorStats()
        if self.path.exists():
            try:
                self.base = _STATS.validate_json(self.path.read_bytes(), strict=True)
            except OSError as exc:
                raise IndieValueError(f"{self.path}: cannot read ({exc})") from None
            except ValidationError as exc:
                raise IndieValueError(f"{self.path}: {validation_text(exc)}") from None

    def update(self, pred: Predictor) -> PredictorStats | None:
        current = pred.stats()
        if current is None:
            return None
        merged = self.base + current
        write_json(self.path, merged.to_json())
        return merged


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


def _run_setup(pred: Predictor, es: EpisodeSet, rows: np.ndarray, writer: RecordWriter,
               progress: Progress | None, counter: list[int], total: int,
               stats: _StatsFile, memory: _Tables | None = None) -> None:
    batch = max(1, int(pred.batch_size))
    cat_of = {q.qid: q.category for q in es.episodes.spec.questions}
    names = {c.key: c.name for c in es.episodes.spec.categories}
    for start in range(0, len(rows), batch):
        sel = rows[start : start + batch]
        eps = es.episodes.subset(sel)
        preds = pred.predict(eps)
        gold = es.gold[sel]
        writer.write_lines(encode_episodes(eps, gold, preds, cat_of, names))
        if memory is not None:
            memory.add(records_table(eps, gold, preds, cat_of, names))
        ok = preds.status is None or np.asarray(preds.status) == "ok"
        counter[0] += gold.size
        counter[1] += int(((np.asarray(preds.choices) == gold) & ok).sum())
        counter[2] += gold.size
        current = stats.update(pred)
        if progress:
            if current is None:
                progress(counter[0], total, counter[1], counter[2])
            else:
                progress(counter[0], total, counter[1], counter[2], stats=current)


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
