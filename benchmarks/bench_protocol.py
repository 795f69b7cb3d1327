"""Time the full statistical protocol on a WVS-7-sized population, with Resemble's ranking
engines side by side.

Builds a catalog of 97,000 persons (the embedded synthetic population from ``indievalue.synth``
when it works, else the plain generator of ``benchmarks/_wvsdata.py``; or ``--survey FILE``),
then runs what ``indievalue run`` runs: the 800-person eval set and, for polar and refined
statements, the random, global-majority, Resemble top 1 and Resemble top 24 baselines over the
whole training pool (top 24 also records the N = 1..35 cluster-size sweep), each through
``evaluate`` into a run directory (episodes, records, summary).

The protocol runs once per Resemble engine (``popcount``, the default, and ``matmul``, the
float32 one-hot product it replaced) and repeat, each in a fresh child process (its own memo,
its own peak RSS), engines alternating so that a change in the machine's load hits both; the
table keeps the minimum of the repeats for every figure. The records of the two engines are
compared byte for byte. Printed as markdown and saved to ``benchmarks/out/protocol.md``.

    python benchmarks/bench_protocol.py [--persons 97000] [--eval-size 800] [--seed 0]
        [--survey FILE] [--engines popcount,matmul] [--repeats 2]

Target: the protocol (everything after the catalog build) in <= 10 s wall on 2 idle cores, peak
RSS <= 1 GB. The generated survey file is cached under ``benchmarks/out/cache/`` (git-ignored).
"""

from __future__ import annotations

import argparse
import filecmp
import functools
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from _common import cpu_model, write_report

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
TARGET_S = 10.0
TARGET_MIB = 1024
ENGINES = ("popcount", "matmul")

F = TypeVar("F", bound=Callable[..., Any])


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine() -> str:
    cpu = cpu_model(platform.processor() or platform.machine())
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    mem = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kib / 2**20:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    import numpy

    return (f"{cpu}, {cores} cores{mem}; Python {platform.python_version()}, numpy "
            f"{numpy.__version__}, {platform.system()} {platform.release()}")


def load() -> str:
    return f"{os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else "?"


class Stopwatch:
    """Accumulates wall and CPU time (all threads of the process) per label, also for
    functions it wraps. CPU time is the fair measure on a machine shared with other work."""

    def __init__(self) -> None:
        self.seconds: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])

    @contextmanager
    def stage(self, label: str) -> Iterator[None]:
        w0, c0 = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            acc = self.seconds[label]
            acc[0] += time.perf_counter() - w0
            acc[1] += time.process_time() - c0

    def wrap(self, label: str, fn: F) -> F:
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            with self.stage(label):
                return fn(*args, **kwargs)

        return timed  # type: ignore[return-value]

    def take(self) -> dict[str, list[float]]:
        out = dict(self.seconds)
        self.seconds.clear()
        return out


def survey_file(persons: int, seed: int, cache: Path) -> tuple[Path, str]:
    """A WVS-7-layout CSV of ``persons`` respondents (cached) and a word on its source."""
    cache.mkdir(parents=True, exist_ok=True)
    try:
        from indievalue.synth import GENERATOR_VERSION, generate_population, write_wvs
    except ImportError as exc:
        reason = f"indievalue.synth unavailable ({exc})"
    else:
        path = cache / f"synth-{GENERATOR_VERSION}-{persons}-{seed}.csv"
        if path.exists():
            return path, f"indievalue.synth {GENERATOR_VERSION} (cached file)"
        try:
            write_wvs(generate_population(persons, seed), path)
            return path, f"indievalue.synth {GENERATOR_VERSION}"
        except Exception as exc:  # a generator under construction: fall back, say why
            path.unlink(missing_ok=True)
            reason = f"indievalue.synth failed ({type(exc).__name__}: {exc})"
    return simple_file(persons, seed, cache), f"benchmarks/_wvsdata.py; {reason}"


def simple_file(persons: int, seed: int, cache: Path) -> Path:
    """The plain generator, with countries on all six continents and few missing answers
    (its defaults have no African country and leave almost nobody eligible)."""
    sys.path.insert(0, str(HERE))
    import _wvsdata

    path = cache / f"simple-{persons}-{seed}.csv"
    if not path.exists():
        # Egypt, China, Germany, United States, Argentina, New Zealand, plus India and Brazil.
        _wvsdata.COUNTRY_CODES = (818, 156, 276, 840, 32, 554, 356, 76)
        _wvsdata.write_wvs_csv(path, persons, seed=seed, missing_rate=0.004)
    return path


def protocol(work: Path, engine: str, eval_size: int, seed: int) -> dict[str, Any]:
    """The child's part: the protocol with one Resemble engine, timed per stage."""
    w_start, c_start = time.perf_counter(), time.process_time()
    from indievalue.analyses.mainjob import BASELINES
    from indievalue.benchmark.evalset import select_eval_set, training_rows, write_eval_ids
    from indievalue.catalog.store import Catalog
    from indievalue.predictors import get_predictor
    from indievalue.predictors.resemble import ResemblePredictor
    from indievalue.runs import evaluate as evaluate_mod
    from indievalue.runs.evaluate import evaluate

    ResemblePredictor.engine = engine
    imports = (time.perf_counter() - w_start, time.process_time() - c_start)
    watch = Stopwatch()
    rows: list[list[Any]] = []  # stage, wall, CPU, note
    # Instrument the evaluation loop: which part of each run takes the time.
    evaluate_mod.episode_sets = watch.wrap("episodes", evaluate_mod.episode_sets)
    evaluate_mod.score_run = watch.wrap("score", evaluate_mod.score_run)
    evaluate_mod.score = watch.wrap("score", evaluate_mod.score)  # a fresh run, from memory
    evaluate_mod._run_setup = watch.wrap("predict+records", evaluate_mod._run_setup)
    for name in {p.predictor for p in BASELINES}:
        cls = get_predictor(name)
        cls.fit = watch.wrap("fit", cls.fit)
        cls.predict = watch.wrap("predict", cls.predict)

    accuracy: dict[str, float] = {}
    with watch.stage("protocol"):
        with watch.stage("setup"):
            cat = Catalog.load(work / "catalog")
            _ = cat.polar, cat.refined, cat.persons, cat.demographics
            evalset = select_eval_set(cat, eval_size, seed)
            ids_file = work / f"eval_ids-{engine}.txt"
            write_eval_ids(ids_file, evalset.person_ids)
            pool = len(training_rows(cat, evalset.person_ids))
        wall, cpu = watch.seconds.pop("setup")
        rows.append(["load catalog + draw eval set", wall, cpu,
                     f"{len(evalset.person_ids)} eval persons, pool {pool:,}"])
        runs_dir = work / f"runs-{engine}"
        shutil.rmtree(runs_dir, ignore_errors=True)
        # The main job's order: Resemble top 24 first, so top 1 reuses its neighbour lists.
        for plan in sorted(BASELINES, key=lambda p: p.key != "resemble-top24"):
            for form in ("polar", "refined"):
                config = plan.config(form, seed, ids_file)
                with watch.stage("run"):
                    summary = evaluate(cat, config, runs_dir / f"{plan.key}-{form}",
                                       label=plan.label)
                parts = {k: v for k, v in watch.seconds.items() if k != "protocol"}
                for k in parts:
                    del watch.seconds[k]
                cpu_of = {k: v[1] for k, v in parts.items()}
                records = cpu_of.get("predict+records", 0.0) - cpu_of.get("predict", 0.0)
                note = (f"CPU s: episodes {cpu_of.get('episodes', 0):.2f}, fit "
                        f"{cpu_of.get('fit', 0):.2f}, predict {cpu_of.get('predict', 0):.2f}, "
                        f"records {records:.2f}, score {cpu_of.get('score', 0):.2f}")
                if "sweep" in summary:
                    best = max(summary["sweep"].items(), key=lambda kv: kv[1])
                    note += f"; sweep N=1..{len(summary['sweep'])}, best N={best[0]}"
                accuracy[f"{plan.key}-{form}"] = summary["overall"]
                rows.append([f"{plan.label}, {form}", *parts["run"], note])
    wall, cpu = watch.seconds["protocol"]
    return {"engine": engine, "rows": rows, "protocol": [wall, cpu], "imports": list(imports),
            "peak_rss_mib": peak_rss_mib(), "accuracy": accuracy, "load": load()}


def child_run(args: argparse.Namespace, engine: str) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", engine, "--workdir", args.workdir,
           "--eval-size", str(args.eval_size), "--seed", str(args.seed)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr}")
    return json.loads(done.stdout.splitlines()[-1])


def best_of(results: list[dict[str, Any]]) -> dict[str, Any]:
    """One result whose every figure is the minimum over the repeats."""
    first = results[0]
    rows = [[row[0], min(r["rows"][i][1] for r in results),
             min(r["rows"][i][2] for r in results), row[3]]
            for i, row in enumerate(first["rows"])]
    return {**first, "rows": rows,
            "protocol": [min(r["protocol"][0] for r in results),
                         min(r["protocol"][1] for r in results)],
            "imports": [min(r["imports"][0] for r in results),
                        min(r["imports"][1] for r in results)],
            "peak_rss_mib": max(r["peak_rss_mib"] for r in results),
            "loads": ", ".join(r["load"] for r in results)}


def same_records(work: Path, engines: list[str]) -> str:
    """Whether every run's records.jsonl is byte-identical across the engines."""
    if len(engines) < 2:
        return "one engine only"
    base = work / f"runs-{engines[0]}"
    names = sorted(p.name for p in base.iterdir())
    for other in engines[1:]:
        for name in names:
            a, b = base / name / "records.jsonl", work / f"runs-{other}" / name / "records.jsonl"
            if not b.exists() or not filecmp.cmp(a, b, shallow=False):
                return f"**no** ({name} differs between {engines[0]} and {other})"
    return f"yes, all {len(names)} runs byte-identical"


def run(args: argparse.Namespace) -> str:
    from indievalue.catalog.build import build_catalog

    work = Path(args.workdir)
    t0 = time.perf_counter()
    if args.survey:
        source, how = Path(args.survey), f"{args.survey} (given)"
    else:
        source, how = survey_file(args.persons, args.seed, work)
    prep_s = time.perf_counter() - t0

    w0, c0 = time.perf_counter(), time.process_time()
    report = build_catalog(source, work / "catalog", overwrite=True)
    build = (time.perf_counter() - w0, time.process_time() - c0)
    load_before = load()

    engines = args.engines.split(",")
    results: dict[str, list[dict[str, Any]]] = {e: [] for e in engines}
    for _ in range(args.repeats):
        for engine in engines:
            results[engine].append(child_run(args, engine))
    best = {e: best_of(rs) for e, rs in results.items()}
    identical = same_records(work, engines)

    cmd = "python benchmarks/bench_protocol.py " + " ".join(sys.argv[1:])
    head = " | ".join(f"{e} wall s | {e} CPU s" for e in engines)
    lines = [
        "# Statistical protocol benchmark",
        "",
        f"- command: `{cmd.strip()}`",
        f"- machine: {machine()}; load average {load_before} before the protocol runs, "
        "at the end of each run: " + "; ".join(f"{e}: {best[e]['loads']}" for e in engines),
        f"- data: {report.persons:,} persons from {how} (SYNTHETIC; preparing the file took "
        f"{prep_s:.1f} s, building the catalog {build[0]:.2f} s wall / {build[1]:.2f} s CPU, "
        "neither counted)",
        f"- protocol: {args.eval_size} eval persons x 3 setups x 39 probes, protocol A, 200 "
        "demonstrations; random, majority, Resemble top 1 and top 24 (+ N = 1..35 sweep) over "
        "the whole training pool; polar and refined; each run writes records.jsonl and "
        "summary.json",
        f"- each engine ran {args.repeats} time(s) in a fresh process, engines alternating; "
        "every figure is the minimum over the repeats (peak RSS: the maximum)",
        f"- records of the engines: {identical}",
        "",
    ]
    for e in engines:
        wall, cpu = best[e]["protocol"]
        verdict = "meets" if wall <= TARGET_S and best[e]["peak_rss_mib"] <= TARGET_MIB \
            else "misses"
        lines.append(f"- **{e}: protocol {wall:.2f} s wall, {cpu:.2f} s CPU**, peak RSS "
                     f"{best[e]['peak_rss_mib']:,.0f} MiB (target <= {TARGET_S:.0f} s wall on 2 "
                     f"idle cores, <= {TARGET_MIB} MiB: {verdict} it as measured); imports "
                     f"{best[e]['imports'][0]:.2f} s wall before it")
    lines += ["", f"| stage | {head} | notes ({engines[0]}) |",
              "|---|" + "---:|---:|" * len(engines) + "---|"]
    for i, row in enumerate(best[engines[0]]["rows"]):
        cells = " | ".join(f"{best[e]['rows'][i][1]:.2f} | {best[e]['rows'][i][2]:.2f}"
                           for e in engines)
        lines.append(f"| {row[0]} | {cells} | {row[3]} |")
    total = " | ".join(f"**{best[e]['protocol'][0]:.2f}** | **{best[e]['protocol'][1]:.2f}**"
                       for e in engines)
    lines += [f"| **protocol total** | {total} | |", "",
              "CPU s counts every thread of the process (the popcount engine ranks episode "
              "chunks on all cores; the matmul engine's BLAS uses them too), so on a busy "
              "machine it is the fairer figure."]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--persons", type=int, default=97_000)
    ap.add_argument("--eval-size", type=int, default=800)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--survey", help="Use this WVS-layout file instead of generating one.")
    ap.add_argument("--engines", default=",".join(ENGINES),
                    help="Resemble engines to compare, comma-separated.")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--workdir", default=str(OUT / "cache"),
                    help="Where the survey file, catalog and run directories go.")
    ap.add_argument("--out", default=str(OUT / "protocol.md"), help="Markdown report.")
    ap.add_argument("--child", choices=ENGINES, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(protocol(Path(args.workdir), args.child, args.eval_size, args.seed)))
        return
    write_report(run(args), args.out)


if __name__ == "__main__":
    main()
