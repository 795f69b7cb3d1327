"""``indievalue run``: the main job (:mod:`indievalue.analyses.mainjob`)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from indievalue.cli.options import EVAL_SIZE


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run(
        wvs: Path | None = typer.Option(
            None, "--wvs", help="Your WVS-7 file (.csv, .sav, .dta). Default: the embedded "
            "synthetic population (generated once and cached)."),
        survey: str | None = typer.Option(
            None, "--survey", help="Run on real people instead: a shipped dataset "
            "(`indievalue datasets list`; needs the real extra) or a survey spec with --data."),
        data: Path | None = typer.Option(
            None, "--data", help="The data file of a --survey spec of your own."),
        out_dir: Path = typer.Option(Path("runs/main"), "--out", help="Output directory."),
        seed: int = typer.Option(0, "--seed", help="Seed for the eval set and all draws."),
        eval_size: int | None = EVAL_SIZE,
    ) -> None:
        """Build (or reuse) the catalog, draw the eval set, run every statistical baseline on
        polar and refined statements, and print the comparison table."""
        from indievalue.analyses.mainjob import run_main_job
        from indievalue.cli.console import err, out, print_table
        from indievalue.cli.eval_cmd import progress_bar

        def log(text: str) -> None:
            style = "bold yellow" if text.startswith("SYNTHETIC") else \
                "bold green" if text.startswith("REAL") else None
            err.print(escape(text), style=style)

        result = run_main_job(wvs=wvs, out=out_dir, seed=seed, eval_size=eval_size,
                              survey=survey, data=data, progress=progress_bar,
                              status=err.status, log=log)
        label = "SYNTHETIC population — " if result.synthetic else \
            "REAL data — " if result.real_note else ""
        title = f"{label}accuracy (%), {result.setting}"
        print_table(result.table, title, result.synthetic)
        out.print(f"results: {result.table_file}; run directories under {result.runs_dir}")
        if result.report is not None:
            out.print(f"report: {result.report}")
