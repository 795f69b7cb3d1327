"""Benchmark of the value model: training time, prediction time, and accuracy beside the
baselines (protocol A, 800 eval persons, seed 0) on a catalog — by default the synthetic
97,000-person population.

    python benchmarks/bench_value_model.py --catalog CATALOG_DIR [--work DIR]

Runs go through ``indievalue.runs.evaluate`` into ``--work`` (resumable: a rerun only computes
what is missing) and the table lands in ``benchmarks/out/value_model.md``. Without
``--catalog`` a population is generated (``indievalue synth --persons 97000 --seed 0``) and
built into ``--work``.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from _common import cpu_model

from indievalue.benchmark.episodes import build_episodes
from indievalue.benchmark.evalset import select_eval_set, training_rows
from indievalue.benchmark.setups import probe_setups
from indievalue.catalog.spec import Form
from indievalue.catalog.store import Catalog
from indievalue.errors import IndieValueError
from indievalue.predictors import TrainingPool, available_predictors, make_predictor
from indievalue.runs.config import EvalConfig
from indievalue.runs.evaluate import evaluate

OUT = Path(__file__).resolve().parent / "out" / "value_model.md"
FORMS: tuple[Form, ...] = ("polar", "refined")
CURVE = (10, 25, 50, 100, 150, 200)
# Small pools need explicit passes (epochs="auto" keeps small pools quick, see the design note).
POOL_ROWS: tuple[tuple[int | str, dict[str, Any]], ...] = (
    (1600, {"epochs": 60}), (10000, {"epochs": 20}), ("all", {}))


def machine() -> str:
    import torch

    cpu = cpu_model()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"{platform.node() or 'host'}: {cpu}, {os.cpu_count()} logical cores, "
            f"Python {platform.python_version()}, torch {torch.__version__}; "
            f"load average (1/5/15 min) at the end: {load}")


def ensure_catalog(args: argparse.Namespace) -> Path:
    if args.catalog:
        return Path(args.catalog)
    cat = args.work / "catalog"
    if not (cat / "manifest.json").is_file():
        from indievalue.catalog.build import build_catalog
        from indievalue.synth.generate.default import synth

        csv = args.work / "population.csv"
        if not csv.is_file():
            synth(args.persons, 0, csv)
        build_catalog(csv, cat)
    return cat


def run(cat: Path, work: Path, name: str, predictor: str, form: Form, demos: int = 200,
        **options: Any) -> dict[str, Any] | None:
    """Evaluate (or resume) one run; None when the predictor cannot run here."""
    config = EvalConfig(predictor=predictor, predictor_options=options, protocol="A",
                        demos=demos, demo_form=form, probe_form=form, seed=0)
    start = time.perf_counter()
    try:
        summary = evaluate(cat, config, work / "runs" / f"{name}-{form}-d{demos}")
    except IndieValueError as exc:
        print(f"  skipped {name} ({form}, d={demos}): {exc}", file=sys.stderr)
        return None
    print(f"  {name:<28} {form:<8} d={demos:<3} {summary['overall']:6.2f}  "
          f"({time.perf_counter() - start:.0f} s)", file=sys.stderr)
    return summary


def train(cat: Path, work: Path, name: str, **options: Any) -> tuple[Path, dict[str, Any]]:
    """Train (once) and save a model on the seed-0 training pool; returns dir and report."""
    from indievalue.valuemodel.model import ValueModel
    from indievalue.valuemodel.pretrain import train_value_model

    model_dir = work / "models" / name
    if not (model_dir / "model.json").is_file():
        train_value_model(cat, model_dir, seed=0,
                          options={k: str(v) for k, v in options.items()})
    return model_dir, ValueModel.load(model_dir).info["train"]


def prediction_seconds(cat_dir: Path, model_dir: Path) -> tuple[float, float]:
    """Wall time of predicting the full protocol (800 x 3 setups x 2 forms), predictor calls
    only, and the same including episode construction."""
    cat = Catalog.load(cat_dir)
    ev = select_eval_set(cat, 800, 0)
    pred = make_predictor("value-model", {"model_dir": str(model_dir)})
    pred.fit(TrainingPool(cat, training_rows(cat, ev.person_ids)))
    t_all = time.perf_counter()
    t_pred = 0.0
    for form in FORMS:
        for setup in probe_setups(cat.spec):
            es = build_episodes(cat, ev.person_ids, setup, demos=200, demo_form=form,
                                probe_form=form, seed=0)
            t = time.perf_counter()
            pred.predict(es.episodes)
            t_pred += time.perf_counter() - t
    return t_pred, time.perf_counter() - t_all


def fmt(s: dict[str, Any] | None, oracle: dict[str, Any] | None = None,
        floor: dict[str, Any] | None = None) -> str:
    """Accuracy, and with ``oracle`` its fraction of the oracle's accuracy and, with ``floor``
    (the majority baseline) too, the share of the majority-to-oracle gap it closes."""
    if s is None:
        return "–"
    text = f"{s['overall']:.2f}"
    if oracle is not None and oracle["overall"] > 0:
        text += f" ({100 * s['overall'] / oracle['overall']:.1f}%"
        if floor is not None and oracle["overall"] > floor["overall"]:
            share = (s["overall"] - floor["overall"]) / (oracle["overall"] - floor["overall"])
            text += f"; {100 * share:.0f}%"
        text += ")"
    return text


def prob_cols(s: dict[str, Any] | None) -> str:
    p = (s or {}).get("probability")
    if not p:
        return "– | – | –"
    return f"{p['log_loss']:.3f} | {p['brier']:.3f} | {p['ece']:.3f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--catalog", help="catalog directory (default: generate one in --work)")
    ap.add_argument("--work", type=Path, default=Path("benchmarks/out/value_model_work"))
    ap.add_argument("--persons", type=int, default=97_000)
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--no-curve", action="store_true", help="skip the d curve")
    ap.add_argument("--no-pools", action="store_true", help="skip the pool-size rows")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads while training (the option `threads`; 2 on an idle "
                    "2-core machine)")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    command = "python " + " ".join(shlex.quote(a) for a in sys.argv)
    cat = ensure_catalog(args)
    work = args.work
    have_oracle = "oracle" in available_predictors()

    print("training the value model on the full pool", file=sys.stderr)
    model_all, report = train(cat, work, "pool-all", threads=args.threads)
    t_pred, t_pred_total = prediction_seconds(cat, model_all)
    print(f"  prediction: {t_pred:.1f} s in predict, {t_pred_total:.1f} s with episodes",
          file=sys.stderr)

    rows: list[tuple[str, str, dict[Form, dict[str, Any] | None]]] = []

    def row(label: str, shown: str, predictor: str, name: str, **opts: Any) -> None:
        rows.append((label, shown, {f: run(cat, work, name, predictor, f, **opts)
                                    for f in FORMS}))

    row("value model", "demos (d=200)", "value-model", "value-model",
        model_dir=str(model_all))
    row("value model", "visible", "value-model", "value-model-visible",
        model_dir=str(model_all), context="visible")
    row("Resemble (all, top 24)", "visible", "resemble", "resemble-24")
    row("Resemble (all, top 24)", "demos (d=200)", "resemble", "resemble-24-demos",
        context="demos", sweep=0)
    row("Resemble (all, top 1)", "visible", "resemble", "resemble-1", top_k=1, sweep=0)
    row("Global majority", "–", "majority", "majority")
    row("Random", "–", "random", "random")
    if have_oracle:
        row("Oracle (true generator)", "demos (d=200)", "oracle", "oracle")
    oracle = {f: rows[-1][2][f] for f in FORMS} if have_oracle else {f: None for f in FORMS}
    floor = {f: rows[5][2][f] for f in FORMS}  # global majority

    curve: dict[str, dict[tuple[str, int], dict[str, Any] | None]] = {}
    if not args.no_curve:
        for label, pred, name, opts in (
                ("value model", "value-model", "value-model", {"model_dir": str(model_all)}),
                ("Resemble top 24 (demos)", "resemble", "resemble-24-demos",
                 {"context": "demos", "sweep": 0}),
                *((("oracle", "oracle", "oracle", {}),) if have_oracle else ())):
            curve[label] = {(f, d): run(cat, work, name, pred, f, demos=d, **opts)
                            for f in FORMS for d in CURVE}

    pools: list[tuple[str, dict[str, Any], dict[str, dict[str, Any] | None]]] = []
    if not args.no_pools:
        for size, extra in POOL_ROWS:
            if size == "all":
                mdir, rep = model_all, report
            else:
                mdir, rep = train(cat, work, f"pool-{size}", pool_size=size,
                                  threads=args.threads, **extra)
            vm = {f: run(cat, work, f"value-model-pool{size}", "value-model", f,
                         model_dir=str(mdir)) for f in FORMS}
            res = {f: run(cat, work, f"resemble-24-pool{size}", "resemble", f, pool=size,
                          sweep=0) for f in FORMS}
            pools.append((str(size), rep, {**{f"vm-{f}": vm[f] for f in FORMS},
                                           **{f"res-{f}": res[f] for f in FORMS}}))

    lines = [
        "# Value model benchmark",
        "",
        f"Command: `{command}`  ",
        f"Catalog: `{cat}` ({Catalog.load(cat).manifest.get('persons')} persons, "
        f"{'SYNTHETIC' if Catalog.load(cat).synthetic else 'real'})  ",
        f"Machine: {machine()}",
        "",
        "Protocol A, d = 200 unless said, eval set seed 0 (800 persons), 3 setups × 39 probes. "
        "The value model is trained once on the training pool and loaded with `model_dir`. "
        "Resemble's default context is `visible` (all 214 non-probe answers); `demos` uses the "
        "d sampled demonstrations only, like the value model's default.",
        "",
        "## Time",
        "",
        f"- training on the full pool ({report['n_train']:,} persons + {report['n_val']:,} "
        f"held out for calibration, {report['epochs']} epochs, {report['steps']:,} steps, "
        f"{report['threads']} torch thread(s)): **{report['seconds'] / 60:.1f} min**",
        f"- predicting the full protocol (800 × 3 setups × 2 forms = 4,800 episodes, 187,200 "
        f"probes): **{t_pred:.1f} s** in `predict`, {t_pred_total:.1f} s with episode building",
        "",
        "## Accuracy (× 100; in brackets: fraction of the oracle's accuracy; share of the "
        "majority-to-oracle gap closed)",
        "",
        "| predictor | context | polar | refined | polar log loss | Brier | ECE |"
        " refined log loss | Brier | ECE |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for label, context, res in rows:
        lines.append(f"| {label} | {context} | "
                     f"{fmt(res['polar'], oracle['polar'], floor['polar'])} | "
                     f"{fmt(res['refined'], oracle['refined'], floor['refined'])} | "
                     f"{prob_cols(res['polar'])} | "
                     f"{prob_cols(res['refined'])} |")
    target = {f: rows[2][2][f] for f in FORMS}
    ours = {f: rows[0][2][f] for f in FORMS}
    if all(target[f] and ours[f] for f in FORMS):
        gap = ", ".join(f"{f} {ours[f]['overall'] - target[f]['overall']:+.2f}"  # type: ignore[index]
                        for f in FORMS)
        lines += ["", f"Value model minus Resemble (all, top 24, visible): {gap} points "
                  "(target: +4 on both)."]
        reach = [f"{f}: target {t['overall'] + 4:.2f}, oracle {o['overall']:.2f}"
                 for f in FORMS if (t := target[f]) is not None and (o := oracle[f]) is not None]
        if reach:
            lines += ["", "The target against the oracle (no predictor can beat the oracle on "
                      "average): " + "; ".join(reach) + "."]
    if curve:
        lines += ["", "## Accuracy by number of demonstrations d", "",
                  "| predictor | form | " + " | ".join(f"d={d}" for d in CURVE) + " |",
                  "|---|---|" + "---|" * len(CURVE)]
        for label, res_c in curve.items():
            for f in FORMS:
                lines.append(f"| {label} | {f} | "
                             + " | ".join(fmt(res_c[(f, d)]) for d in CURVE) + " |")
    if pools:
        lines += ["", "## Training pool size (d = 200, demos context for the value model; "
                  "Resemble top 24, visible)", "",
                  "| pool | value model epochs | training time | value model polar | "
                  "refined | Resemble polar | refined |", "|---|---|---|---|---|---|---|"]
        for size, rep, pres in pools:
            lines.append(f"| {size} | {rep['epochs']} | {rep['seconds'] / 60:.1f} min | "
                         f"{fmt(pres['vm-polar'])} | {fmt(pres['vm-refined'])} | "
                         f"{fmt(pres['res-polar'])} | {fmt(pres['res-refined'])} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
