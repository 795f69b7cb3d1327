"""Catalog build and command-line start-up benchmark, this checkout beside a previous version.

Measures, each in a fresh child process and for both versions of the package, alternating:

- ``indievalue --help``, ``indievalue catalog build --help`` and two argument errors
  (start-up: what the command line imports before it does anything);
- ``build_catalog()`` through the Python API (wall of the call alone; CPU of the process);
- the whole ``indievalue catalog build --wvs FILE --out DIR`` process,

on a full-size (97,000-person) WVS-7 CSV. The previous version is ``--baseline REV`` (default:
the commit before the start-up and build optimisations), exported with ``git archive`` into a
temporary folder and put first on ``PYTHONPATH``; the current one is this checkout. Every
figure is the minimum over ``--repeats`` (peak RSS: the maximum), so the machine's other load
inflates them as little as it can; CPU time (user + system of the child) is given beside wall.

Targets: ``--help`` and argument errors <= 0.3 s; the whole build process <= 3.6 s; peak RSS
<= 1 GiB (on 2 idle cores).

    python benchmarks/bench_catalog.py [--persons 97000] [--repeats 3] [--survey FILE]
                                       [--baseline REV] [--out benchmarks/out/catalog.md]

The input file is generated inside the benchmark (``indievalue.synth`` when it works, else
``_wvsdata``) unless ``--survey`` names one. Peak RSS comes from ``wait4`` on each child.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from _common import cpu_model

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BASELINE = "ae304a2"  # before the lazy CLI imports and the build's parallel writes
TARGET_START_S = 0.3
TARGET_BUILD_S = 3.6
TARGET_BYTES = 1 << 30

# Runs in the child: times build_catalog alone (imports excluded) and reports as JSON.
CHILD = """
import json, sys, time
t0 = time.perf_counter()
from indievalue.catalog.build import build_catalog
from indievalue.catalog.spec_io import builtin_spec
builtin_spec()
t1 = time.perf_counter()
build_catalog(sys.argv[1], sys.argv[2])
t2 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "build_s": t2 - t1}))
"""
CLI = [sys.executable, "-m", "indievalue.cli.main"]
STARTUP = [("`indievalue --help`", ["--help"], 0),
           ("`indievalue catalog build --help`", ["catalog", "build", "--help"], 0),
           ("`indievalue evaluate --no-such-option` (argument error)",
            ["evaluate", "--no-such-option"], 2),
           ("`indievalue run --seed x` (argument error)", ["run", "--seed", "x"], 2)]
API = "`build_catalog()` (Python API; wall of the call alone, CPU of the process)"
WHOLE = "`indievalue catalog build --wvs FILE --out DIR` (whole process)"


@dataclass(frozen=True)
class Run:
    wall_s: float  # process start to exit (API runs: build_catalog() alone, from the child)
    cpu_s: float  # user + system CPU time of the whole process (insensitive to other load)
    max_rss: int  # bytes


def run_measured(cmd: list[str], env: dict[str, str], expect: int = 0) -> tuple[Run, str]:
    """Start ``cmd``, wait for it with wait4, return wall time, CPU, peak RSS and stdout."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        code = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if code != expect:
        raise SystemExit(f"{' '.join(cmd)} exited {code}, expected {expect}:\n{stderr}")
    return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024), stdout


def generate(path: Path, persons: int, which: str) -> str:
    """Write the input CSV; return a description of the generator used."""
    if which in ("auto", "synth"):
        try:
            from indievalue.synth import generate_population, write_wvs

            write_wvs(generate_population(persons, 0), path)
            return "indievalue.synth (calibrated synthetic population, seed 0)"
        except Exception as exc:
            if which == "synth":
                raise
            note = f"; indievalue.synth unavailable: {type(exc).__name__}: {exc}"[:160]
    else:
        note = ""
    sys.path.insert(0, str(HERE))
    from _wvsdata import OFFICIAL_WIDTH, write_wvs_csv

    write_wvs_csv(path, persons, seed=0)
    return f"benchmarks/_wvsdata.py (uniform codes, 5% missing, {OFFICIAL_WIDTH} columns){note}"


def export_revision(rev: str, into: Path) -> Path:
    """``rev``'s ``src/`` exported under ``into`` (the folder to put on PYTHONPATH)."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "src"],
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into / "src"


def machine() -> dict[str, str]:
    model = cpu_model("unknown")
    mem = "unknown"
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kb / 2**20:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    import numpy
    import pyarrow

    return {
        "cpus (nproc)": str(len(os.sched_getaffinity(0))),
        "cpu model": model,
        "memory": mem,
        "load average (1 min) before": f"{os.getloadavg()[0]:.2f}",
        "python": platform.python_version(),
        "numpy / pyarrow": f"{numpy.__version__} / {pyarrow.__version__}",
    }


def fmt_mb(n: int) -> str:
    return f"{n / 2**20:,.0f} MiB"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--persons", type=int, default=97_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--generator", choices=["auto", "synth", "simple"], default="auto")
    ap.add_argument("--survey", type=Path, help="Use this WVS-7 CSV instead of generating one.")
    ap.add_argument("--baseline", default=BASELINE,
                    help="Git revision of the previous version (default: %(default)s).")
    ap.add_argument("--out", type=Path, help="also write the markdown report here")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-catalog-") as tmp_name:
        tmp = Path(tmp_name)
        envs = {"previous": {**os.environ,
                             "PYTHONPATH": str(export_revision(args.baseline, tmp))},
                "current": {**os.environ, "PYTHONPATH": str(ROOT / "src")}}
        if args.survey:
            src, generator, gen_s = args.survey, f"{args.survey} (given)", 0.0
        else:
            src = tmp / "wvs7.csv"
            t0 = time.perf_counter()
            generator = generate(src, args.persons, args.generator)
            gen_s = time.perf_counter() - t0
        with src.open() as fh:
            n_cols = len(fh.readline().split(","))
        size = src.stat().st_size
        host = machine()

        rows: dict[str, dict[str, list[Run]]] = {}  # what -> version -> runs
        for i in range(args.repeats):
            for version, env in envs.items():
                def add(what: str, run: Run, version: str = version) -> None:
                    rows.setdefault(what, {}).setdefault(version, []).append(run)

                for label, argv, code in STARTUP:
                    add(label, run_measured([*CLI, *argv], env, code)[0])
                out = tmp / f"api-{version}-{i}"
                run, stdout = run_measured([sys.executable, "-c", CHILD, str(src), str(out)], env)
                add(API, Run(json.loads(stdout)["build_s"], run.cpu_s, run.max_rss))
                shutil.rmtree(out)
                out = tmp / f"cli-{version}-{i}"
                add(WHOLE, run_measured([*CLI, "catalog", "build", "--wvs", str(src), "--out",
                                         str(out)], env)[0])
                shutil.rmtree(out)
        load_after = f"{os.getloadavg()[0]:.2f}"

    def cells(runs: list[Run]) -> str:
        return (f"{min(r.wall_s for r in runs):.2f} s | {min(r.cpu_s for r in runs):.2f} s | "
                f"{fmt_mb(max(r.max_rss for r in runs))}")

    targets = {label: f"<= {TARGET_START_S} s" for label, _, _ in STARTUP}
    targets[WHOLE] = f"<= {TARGET_BUILD_S} s, <= 1 GiB"

    lines = [
        "# Catalog build and start-up benchmark",
        "",
        f"Command: `python benchmarks/bench_catalog.py --persons {args.persons} "
        f"--repeats {args.repeats}" + (f" --survey {args.survey}" if args.survey else "")
        + (f" --baseline {args.baseline}" if args.baseline != BASELINE else "") + "`",
        "",
        f"Input: {args.persons if not args.survey else 'given file'}, {n_cols} columns, "
        f"{size / 2**20:.0f} MiB CSV, by {generator}"
        + (f" in {gen_s:.1f} s" if gen_s else "") + ".",
        "",
        "| machine | |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in host.items()],
        f"| load average (1 min) after | {load_after} |",
        "",
        f"Previous version: `{args.baseline}` (git archive, on PYTHONPATH); current: this "
        f"checkout. {args.repeats} runs of each, alternating, each in a fresh process; every "
        "figure is the minimum over the runs (peak RSS: the maximum).",
        "",
        "| what is timed | previous: wall | CPU | peak RSS | current: wall | CPU | peak RSS "
        "| target (idle, 2 cores) |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for what, by_version in rows.items():
        lines.append(f"| {what} | {cells(by_version['previous'])} | "
                     f"{cells(by_version['current'])} | {targets.get(what, '')} |")
    lines += [
        "",
        "CPU time is user + system time of the whole child process (start-up included); on a "
        "shared machine it is the load-independent figure, since wall time grows with the "
        "other processes' load (see the load averages above).",
        "",
    ]
    report = "\n".join(lines)
    print(report)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(report, encoding="utf-8")


if __name__ == "__main__":
    main()
