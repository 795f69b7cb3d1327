"""Catalog build benchmark: wall time and peak memory of building a catalog from a full-size
(97,000-person) WVS-7 CSV, through the Python API and through the ``indievalue`` command.

Target (issue: catalog): <= 5 s and <= 1 GB peak RSS on 2 cores.

    python benchmarks/bench_catalog.py [--persons 97000] [--repeats 3]
                                       [--out benchmarks/out/catalog.md]

The input file is generated inside the benchmark: with ``indievalue.synth`` (the calibrated
synthetic population) when it is importable and works, otherwise with ``_wvsdata`` (uniform
valid codes, 5% WVS missing codes, padded to the official file's 613 columns). Each build runs
in a fresh child process; its peak RSS comes from ``wait4`` on that child, so the parent's
copy of the generated data does not count.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from _common import cpu_model

HERE = Path(__file__).resolve().parent
TARGET_SECONDS = 5.0
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


@dataclass(frozen=True)
class Run:
    wall_s: float  # measured by the parent: process start to exit
    build_s: float | None  # build_catalog() alone, measured in the child (API runs only)
    cpu_s: float  # user + system CPU time of the whole process (insensitive to other load)
    max_rss: int  # bytes


def run_measured(cmd: list[str]) -> tuple[Run, str]:
    """Start ``cmd``, wait for it with wait4, return wall time, peak RSS and its stdout."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{stderr}")
    return Run(wall, None, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024), stdout


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
        "niceness of the benchmark": str(os.nice(0)),
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
    ap.add_argument("--out", type=Path, help="also write the markdown report here")
    args = ap.parse_args()

    exe = shutil.which("indievalue") or str(Path(sys.executable).parent / "indievalue")
    with tempfile.TemporaryDirectory(prefix="bench-catalog-") as tmp:
        src = Path(tmp) / "wvs7.csv"
        t0 = time.perf_counter()
        generator = generate(src, args.persons, args.generator)
        gen_s = time.perf_counter() - t0
        with src.open() as fh:
            n_cols = len(fh.readline().split(","))
        size = src.stat().st_size
        host = machine()

        api: list[Run] = []
        cli: list[Run] = []
        for i in range(args.repeats):
            out = Path(tmp) / f"api{i}"
            run, stdout = run_measured([sys.executable, "-c", CHILD, str(src), str(out)])
            times = json.loads(stdout)
            api.append(Run(run.wall_s, times["build_s"], run.cpu_s, run.max_rss))
            shutil.rmtree(out)
            out = Path(tmp) / f"cli{i}"
            run, _ = run_measured([exe, "catalog", "build", "--wvs", str(src), "--out", str(out)])
            cli.append(run)
            shutil.rmtree(out)

    def row(name: str, runs: list[Run], seconds: list[float]) -> str:
        med, best = statistics.median(seconds), min(seconds)
        peak = max(r.max_rss for r in runs)
        cpu = statistics.median(r.cpu_s for r in runs)
        mem_ok = peak <= TARGET_BYTES
        ok = " / ".join("yes" if t <= TARGET_SECONDS and mem_ok else "**no**" for t in (med, cpu))
        return (f"| {name} | {med:.2f} s | {best:.2f} s | {cpu:.2f} s | {fmt_mb(peak)} "
                f"| {ok} |")

    lines = [
        "# Catalog build benchmark",
        "",
        f"Command: `python benchmarks/bench_catalog.py --persons {args.persons} "
        f"--repeats {args.repeats}`",
        "",
        f"Input: {args.persons:,} persons, {n_cols} columns, {size / 2**20:.0f} MiB CSV, "
        f"generated in {gen_s:.1f} s by {generator}.",
        "",
        "| machine | |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in host.items()],
        "",
        f"Target: <= {TARGET_SECONDS:.0f} s and <= 1 GiB peak RSS on 2 cores "
        f"({args.repeats} runs each, each in a fresh process).",
        "",
        "| what is timed | wall, median | wall, best | CPU of the process, median "
        "| peak RSS | meets target (by wall / by CPU) |",
        "|---|---|---|---|---|---|",
        row("`build_catalog()` (Python API; wall excludes imports, CPU includes them)", api,
            [r.build_s or 0.0 for r in api]),
        row("`indievalue catalog build --wvs FILE --out DIR` (whole process)", cli,
            [r.wall_s for r in cli]),
        "",
        "CPU time is user + system time of the whole child process (start-up included); "
        "on a shared machine it is the load-independent figure, since wall time grows with "
        "the other processes' load (see the load average above).",
        "",
    ]
    report = "\n".join(lines)
    print(report)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(report, encoding="utf-8")


if __name__ == "__main__":
    main()
