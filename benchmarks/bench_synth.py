"""Time generating and writing the full-size synthetic population.

Generates the 97,112 persons of ``indievalue synth`` (seed 0) ``--repeats`` times and writes
the last one as CSV, reporting the best and median wall time of each step and the peak RSS as
markdown, printed and saved to ``benchmarks/out/synth.md``.

    python benchmarks/bench_synth.py [--persons 97112] [--repeats 3] [--seed 0]

Target: generation <= 60 s on 2 cores.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from bench_protocol import machine, peak_rss_mib

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
TARGET_S = 60.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--persons", type=int, default=97_112)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    from indievalue.synth import GENERATOR_VERSION, generate_population, write_wvs

    gen: list[float] = []
    cpu: list[float] = []
    df = None
    for _ in range(args.repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        df = generate_population(args.persons, args.seed)
        gen.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    assert df is not None
    with tempfile.TemporaryDirectory() as tmp:
        t0, c0 = time.perf_counter(), time.process_time()
        path = write_wvs(df, Path(tmp) / "synthetic.csv")
        write_s, write_cpu = time.perf_counter() - t0, time.process_time() - c0
        size_mib = path.stat().st_size / 2**20
    verdict = "meets" if min(gen) <= TARGET_S else "MISSES"
    lines = [
        "# Synthetic population: generation and write time", "",
        f"Command: `python benchmarks/bench_synth.py --persons {args.persons} "
        f"--repeats {args.repeats} --seed {args.seed}`", "",
        f"Machine: {machine()}; generator {GENERATOR_VERSION}.", "",
        "| step | wall, best | wall, median | CPU, best | runs |", "|---|---|---|---|---|",
        f"| generate {args.persons:,} persons (377 columns) | {min(gen):.1f} s | "
        f"{statistics.median(gen):.1f} s | {min(cpu):.1f} s | {len(gen)} |",
        f"| write CSV ({size_mib:.0f} MiB) | {write_s:.1f} s | {write_s:.1f} s | "
        f"{write_cpu:.1f} s | 1 |", "",
        f"Peak RSS {peak_rss_mib():.0f} MiB. Target: generation <= {TARGET_S:.0f} s on 2 cores "
        f"({verdict}). Wall times on a shared machine: other processes inflate them.", "",
    ]
    text = "\n".join(lines)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "synth.md").write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
