"""Time the full statistical protocol on a WVS-7-sized population.

Builds a catalog of 97,000 persons (the embedded synthetic population from ``indievalue.synth``
when it works, else the plain generator of ``benchmarks/_wvsdata.py``), then runs what
``indievalue run`` runs: the 800-person eval set and, for polar and refined statements, the
random, global-majority, Resemble top 1 and Resemble top 24 baselines over the whole training
pool (top 24 also records the N = 1..35 cluster-size sweep), each through ``evaluate`` into a
run directory (episodes, records, summary). Reports time per stage and peak RSS as markdown,
printed and saved to ``benchmarks/out/protocol.md``.

    python benchmarks/bench_protocol.py [--persons 97000] [--eval-size 800] [--seed 0]

Target: the protocol (everything after the catalog build) in <= 20 s on 2 cores.
The generated survey file is cached under ``benchmarks/out/cache/`` (git-ignored).
"""

from __future__ import annotations

import argparse
import functools
import os
import platform
import resource
import shutil
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
TARGET_S = 20.0

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
    load = ""
    if hasattr(os, "getloadavg"):
        load = f"; load average {os.getloadavg()[0]:.1f} at the end (other work on the machine)"
    return (f"{cpu}, {cores} cores{mem}; Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}{load}")


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


def run(args: argparse.Namespace) -> str:
    from indievalue.analyses.mainjob import BASELINES
    from indievalue.benchmark.evalset import select_eval_set, training_rows, write_eval_ids
    from indievalue.catalog.build import build_catalog
    from indievalue.catalog.store import Catalog
    from indievalue.predictors import get_predictor
    from indievalue.runs import evaluate as evaluate_mod
    from indievalue.runs.evaluate import evaluate

    work = Path(args.workdir)
    watch = Stopwatch()
    rows: list[tuple[str, float, float, float, str]] = []  # stage, wall, CPU, peak RSS, note

    t0 = time.perf_counter()
    source, how = survey_file(args.persons, args.seed, work)
    prep_s = time.perf_counter() - t0

    catalog_dir = work / "catalog"
    with watch.stage("build"):
        report = build_catalog(source, catalog_dir, overwrite=True)
    wall, cpu = watch.take()["build"]
    rows.append(("catalog build (read CSV, recode, write Parquet)", wall, cpu, peak_rss_mib(),
                 f"{report.persons:,} persons"))

    # Instrument the evaluation loop: which part of each run takes the time.
    evaluate_mod.build_episodes = watch.wrap("episodes", evaluate_mod.build_episodes)
    evaluate_mod.score_run = watch.wrap("score", evaluate_mod.score_run)
    evaluate_mod._run_setup = watch.wrap("predict+records", evaluate_mod._run_setup)
    for name in {p.predictor for p in BASELINES}:
        cls = get_predictor(name)
        cls.fit = watch.wrap("fit", cls.fit)  # type: ignore[method-assign]
        cls.predict = watch.wrap("predict", cls.predict)  # type: ignore[method-assign]

    with watch.stage("protocol"):
        with watch.stage("setup"):
            cat = Catalog.load(catalog_dir)
            _ = cat.polar, cat.refined, cat.persons, cat.demographics
            evalset = select_eval_set(cat, args.eval_size, args.seed)
            ids_file = work / "eval_ids.txt"
            write_eval_ids(ids_file, evalset.person_ids)
            pool = len(training_rows(cat, evalset.person_ids))
        wall, cpu = watch.seconds.pop("setup")
        rows.append(("load catalog + draw eval set", wall, cpu, peak_rss_mib(),
                     f"{len(evalset.person_ids)} eval persons, pool {pool:,}"))

        runs_dir = work / "runs"
        shutil.rmtree(runs_dir, ignore_errors=True)
        # The main job's order: Resemble top 24 first, so top 1 reuses its neighbour lists.
        for plan in sorted(BASELINES, key=lambda p: p.key != "resemble-top24"):
            for form in ("polar", "refined"):
                config = plan.config(form, args.seed, ids_file)
                with watch.stage("run"):
                    summary = evaluate(cat, config, runs_dir / f"{plan.key}-{form}",
                                       label=plan.label)
                parts = {k: v for k, v in watch.seconds.items() if k != "protocol"}
                for k in parts:
                    del watch.seconds[k]
                cpu_of = {k: v[1] for k, v in parts.items()}
                records = cpu_of.get("predict+records", 0.0) - cpu_of.get("predict", 0.0)
                note = (f"acc {summary['overall']:.2f}; CPU s: episodes "
                        f"{cpu_of.get('episodes', 0):.2f}, fit {cpu_of.get('fit', 0):.2f}, "
                        f"predict {cpu_of.get('predict', 0):.2f}, records {records:.2f}, "
                        f"score {cpu_of.get('score', 0):.2f}")
                if "sweep" in summary:
                    best = max(summary["sweep"].items(), key=lambda kv: kv[1])
                    note += f"; sweep N=1..{len(summary['sweep'])}, best N={best[0]}"
                wall, cpu = parts["run"]
                rows.append((f"{plan.label}, {form}", wall, cpu, peak_rss_mib(), note))
    protocol_wall, protocol_cpu = watch.seconds["protocol"]

    cmd = "python benchmarks/bench_protocol.py " + " ".join(sys.argv[1:])
    verdict = "meets" if protocol_wall <= TARGET_S else "misses"
    lines = [
        "# Statistical protocol benchmark",
        "",
        f"- command: `{cmd.strip()}`",
        f"- machine: {machine()}",
        f"- data: {args.persons:,} persons from {how} (SYNTHETIC; preparing it took "
        f"{prep_s:.1f} s, not counted)",
        f"- protocol: {args.eval_size} eval persons x 3 setups x 39 probes, protocol A, 200 "
        "demonstrations; random, majority, Resemble top 1 and top 24 (+ N = 1..35 sweep) over "
        "the whole training pool; polar and refined; each run writes records.jsonl and "
        "summary.json",
        f"- **protocol total: {protocol_wall:.2f} s wall, {protocol_cpu:.2f} s CPU** (target "
        f"<= {TARGET_S:.0f} s wall on 2 cores: {verdict} it); peak RSS "
        f"{peak_rss_mib():,.0f} MiB",
        "",
        "| stage | wall s | CPU s | peak RSS so far (MiB) | notes |",
        "|---|---:|---:|---:|---|",
    ]
    lines += [f"| {s} | {w:.2f} | {c:.2f} | {rss:,.0f} | {note} |"
              for s, w, c, rss, note in rows]
    lines += ["", "CPU s counts every thread of the process (BLAS uses both cores in Resemble's "
              "similarity products), so on a busy machine it is the fairer figure; peak RSS is "
              "the process maximum up to the end of each stage."]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--persons", type=int, default=97_000)
    ap.add_argument("--eval-size", type=int, default=800)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workdir", default=str(OUT / "cache"),
                    help="Where the survey file, catalog and run directories go.")
    ap.add_argument("--out", default=str(OUT / "protocol.md"), help="Markdown report.")
    args = ap.parse_args()
    write_report(run(args), args.out)


if __name__ == "__main__":
    main()
