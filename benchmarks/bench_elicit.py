"""Benchmark of the interactive elicitation step: the time from an answer to the next question
(every candidate question and option scored through the value model), on a catalog with the
WVS-7 questions (253), for a saved value model.

    python benchmarks/bench_elicit.py --catalog CATALOG_DIR --model MODEL_DIR [--threads 1 2]

A step is what ``indievalue ask`` and ``indievalue serve`` compute after each answer:
:meth:`Elicitation.next_question` (one batch of every (question, option) hypothesis) plus
the predictions of every unasked question. Each setting answers ``--steps`` questions as an
eval person would (their recorded answers) starting after k answers, and reports the median
wall time and process CPU time per step. The table lands in ``benchmarks/out/elicit.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

from _common import cpu_model, write_report

from indievalue.benchmark.evalset import select_eval_set
from indievalue.catalog.spec import Form
from indievalue.elicit import CRITERIA, Elicitation
from indievalue.elicit.load import open_value_model

OUT = Path(__file__).resolve().parent / "out" / "elicit.md"
FORMS: tuple[Form, ...] = ("polar", "refined")
START_AT = (0, 10, 30, 60)


def machine() -> str:
    import torch

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"{platform.node() or 'host'}: {cpu_model()}, {os.cpu_count()} logical cores, "
            f"Python {platform.python_version()}, torch {torch.__version__}; "
            f"load average (1/5/15 min) at the end: {load}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--catalog", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--steps", type=int, default=5, help="timed steps per setting")
    ap.add_argument("--criterion", choices=CRITERIA, default="information")
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args()

    opened = open_value_model(args.catalog, args.model)
    cat = opened.catalog
    person = cat.row(int(select_eval_set(cat, 800, 0).person_ids[0]))
    rows = ["| form | threads | answers so far | hypotheses | wall ms (median) | "
            "CPU ms (median) |", "|---|---|---|---|---|---|"]
    for threads in args.threads:
        opened.scorer.threads = threads
        for form in FORMS:
            truth = cat.matrix(form)[person]
            for start in START_AT:
                session = Elicitation(opened.scorer, form=form, criterion=args.criterion)
                for q in range(len(cat.spec.questions)):
                    if session.n_answered == start:
                        break
                    if truth[q] >= 0:
                        session.answer(q, int(truth[q]))
                session.next_question()  # warm-up (first call allocates)
                walls, cpus = [], []
                hyps = 0
                for _ in range(args.steps):
                    question = session.next_question()
                    assert question is not None
                    session.answer(question.index, max(int(truth[question.index]), 0))
                    w, c = time.perf_counter(), time.process_time()
                    session.next_question()
                    session.predictions()
                    walls.append(time.perf_counter() - w)
                    cpus.append(time.process_time() - c)
                    hyps = session.n_hypotheses
                rows.append(f"| {form} | {threads} | {start} | {hyps} | "
                            f"{1000 * statistics.median(walls):.0f} | "
                            f"{1000 * statistics.median(cpus):.0f} |")
                print(rows[-1], flush=True)
    text = "\n".join([
        "# Elicitation step time", "",
        f"Catalog `{args.catalog}` ({len(cat.spec.questions)} questions), model "
        f"`{args.model}` ({opened.scorer.describe()}), criterion {args.criterion}.", "", *rows,
        "",
        f"Machine: {machine()}.", ""])
    write_report(text, args.out)


if __name__ == "__main__":
    main()
