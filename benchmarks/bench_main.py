"""The main job (``indievalue run``) on a fresh machine, this checkout beside a previous version.

Each version runs the whole command in a fresh process with an empty cache (``XDG_CACHE_HOME``
pointing at a new folder, so the synthetic population is generated and written as on a first
run) and a new ``--out``: population, catalog build, eval set, the ten runs (random, majority,
Resemble top 1 and top 24, oracle; polar and refined), ``table.md`` and the report. The child
wraps the main job's steps with a stopwatch (wall and CPU per step) before calling the command
line's entry point, so the figures are those of ``indievalue run`` itself. The previous version
is ``--baseline REV`` (default: the commit before the performance work), exported with ``git
archive`` and put first on ``PYTHONPATH``. The two versions' records are compared byte for byte.

    python benchmarks/bench_main.py [--baseline REV] [--repeats 1] [--out benchmarks/out/main.md]

Target: <= 45 s wall on 2 idle cores. Peak RSS comes from ``wait4`` on each child.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import cpu_model, write_report

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BASELINE = "ae304a2"  # before Resemble's popcount engine and the start-up work
TARGET_S = 45.0

# The child: time the main job's steps, then run `indievalue run --out OUT` in this process.
CHILD = r"""
import json, sys, time
W0, C0 = time.perf_counter(), time.process_time()
steps = []

def timed(label, fn):
    def wrapper(*args, **kwargs):
        w, c = time.perf_counter(), time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            name = label(*args, **kwargs) if callable(label) else label
            steps.append([name, time.perf_counter() - w, time.process_time() - c])
    return wrapper

from indievalue.cli.main import main
from indievalue.analyses import mainjob
imports = [time.perf_counter() - W0, time.process_time() - C0]
mainjob.source_file = timed("synthetic population (generate, write CSV)", mainjob.source_file)
mainjob.ensure_catalog = timed("catalog build", mainjob.ensure_catalog)
mainjob.evaluate = timed(lambda cat, config, out, **kw: "run " + out.name, mainjob.evaluate)
mainjob.write_report = timed("table + report", mainjob.write_report)
if hasattr(mainjob, "comparison"):
    mainjob.comparison = timed("table (comparison)", mainjob.comparison)
sys.argv = ["indievalue", "run", "--out", sys.argv[1]]
try:
    main()
except SystemExit as exc:
    if exc.code not in (0, None):
        raise
print(json.dumps({"imports": imports, "steps": steps,
                  "total": [time.perf_counter() - W0, time.process_time() - C0]}))
"""


def export_revision(rev: str, into: Path) -> Path:
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "src"],
                             capture_output=True, check=True).stdout
    into.mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into / "src"


def run_job(env: dict[str, str], out: Path) -> dict[str, Any]:
    """One fresh `indievalue run`; its steps, and the process's wall, CPU and peak RSS."""
    with tempfile.TemporaryFile("w+") as stdout, tempfile.TemporaryFile("w+") as stderr:
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-c", CHILD, str(out)], stdout=stdout,
                                stderr=stderr, text=True, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        stdout.seek(0)
        stderr.seek(0)
        text, err = stdout.read(), stderr.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"indievalue run failed:\n{err[-3000:]}")
    result: dict[str, Any] = json.loads(text.strip().splitlines()[-1])
    result.update(wall=wall, cpu=usage.ru_utime + usage.ru_stime,
                  rss_mib=usage.ru_maxrss / 1024, load=f"{os.getloadavg()[0]:.1f}")
    return result


def same_records(a: Path, b: Path) -> str:
    names = sorted(p.name for p in (a / "runs").iterdir())
    differ = [n for n in names if not filecmp.cmp(a / "runs" / n / "records.jsonl",
                                                  b / "runs" / n / "records.jsonl",
                                                  shallow=False)]
    return (f"yes, all {len(names)} runs byte-identical" if not differ
            else f"**no**: {', '.join(differ)} differ")


def best(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Every figure the minimum over the repeats (peak RSS: the maximum)."""
    steps: dict[str, list[float]] = {}
    for r in results:
        merged: dict[str, list[float]] = {}
        for name, wall, cpu in r["steps"]:
            acc = merged.setdefault(name, [0.0, 0.0])
            acc[0] += wall
            acc[1] += cpu
        for name, (wall, cpu) in merged.items():
            old = steps.get(name)
            steps[name] = [wall, cpu] if old is None else [min(old[0], wall), min(old[1], cpu)]
    return {"steps": steps, "wall": min(r["wall"] for r in results),
            "cpu": min(r["cpu"] for r in results),
            "imports": [min(r["imports"][i] for r in results) for i in (0, 1)],
            "rss_mib": max(r["rss_mib"] for r in results),
            "loads": ", ".join(r["load"] for r in results)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--baseline", default=BASELINE)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--out", default=str(HERE / "out" / "main.md"), help="Markdown report.")
    args = ap.parse_args()

    load_before = f"{os.getloadavg()[0]:.1f}"
    with tempfile.TemporaryDirectory(prefix="bench-main-") as tmp_name:
        tmp = Path(tmp_name)
        paths = {"previous": str(export_revision(args.baseline, tmp / "previous")),
                 "current": str(ROOT / "src")}
        results: dict[str, list[dict[str, Any]]] = {v: [] for v in paths}
        outs: dict[str, Path] = {}
        for i in range(args.repeats):
            for version, path in paths.items():
                cache = tmp / f"cache-{version}-{i}"  # empty: the population is not cached
                env = {**os.environ, "PYTHONPATH": path, "XDG_CACHE_HOME": str(cache)}
                outs[version] = tmp / f"out-{version}-{i}"
                results[version].append(run_job(env, outs[version]))
        identical = same_records(outs["previous"], outs["current"])

    b = {v: best(rs) for v, rs in results.items()}
    names = list(dict.fromkeys([*b["previous"]["steps"], *b["current"]["steps"]]))

    def cells(version: str, name: str) -> str:
        step = b[version]["steps"].get(name)
        return "– | –" if step is None else f"{step[0]:.2f} | {step[1]:.2f}"

    lines = [
        "# Main job benchmark (fresh machine)",
        "",
        "- command: `python benchmarks/bench_main.py "
        + " ".join(sys.argv[1:]).strip() + "`",
        f"- machine: {cpu_model()}, {len(os.sched_getaffinity(0))} cores; Python "
        f"{platform.python_version()}; load average {load_before} before, at the end of each "
        "job: " + "; ".join(f"{v}: {b[v]['loads']}" for v in b),
        f"- previous version: `{args.baseline}` (git archive on PYTHONPATH); current: this "
        f"checkout; {args.repeats} fresh job(s) each, alternating; figures are minima over them",
        f"- records of the two versions: {identical}",
        "",
    ]
    for v in b:
        verdict = "meets" if b[v]["wall"] <= TARGET_S else "misses"
        lines.append(f"- **{v}: {b[v]['wall']:.1f} s wall, {b[v]['cpu']:.1f} s CPU** (whole "
                     f"process), peak RSS {b[v]['rss_mib']:,.0f} MiB; target <= "
                     f"{TARGET_S:.0f} s wall on 2 idle cores: {verdict} it as measured")
    lines += ["", "| step | previous wall s | previous CPU s | current wall s | current CPU s |",
              "|---|---:|---:|---:|---:|",
              f"| start-up (imports) | {b['previous']['imports'][0]:.2f} | "
              f"{b['previous']['imports'][1]:.2f} | {b['current']['imports'][0]:.2f} | "
              f"{b['current']['imports'][1]:.2f} |"]
    lines += [f"| {name} | {cells('previous', name)} | {cells('current', name)} |"
              for name in names]
    lines += [f"| **whole process** | **{b['previous']['wall']:.2f}** | "
              f"**{b['previous']['cpu']:.2f}** | **{b['current']['wall']:.2f}** | "
              f"**{b['current']['cpu']:.2f}** |", "",
              "CPU s counts every thread of the process (user + system); on a machine shared "
              "with other work it is the load-independent figure. A run's time includes its "
              "records and scoring; `table + report` includes reading the runs' records for "
              "the report (and, in the current version, for table.md once)."]
    write_report("\n".join(lines) + "\n", args.out)


if __name__ == "__main__":
    main()
