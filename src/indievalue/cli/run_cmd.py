"""``indievalue run``: the main job."""

from __future__ import annotations

from pathlib import Path

import typer

from indievalue.pipeline import run_main_job


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run(
        wvs: Path | None = typer.Option(
            None, "--wvs", help="Your WVS-7 file (.csv, .sav, .dta). Default: the embedded "
            "synthetic population (generated once and cached)."),
        out_dir: Path = typer.Option(Path("runs/main"), "--out", help="Output directory."),
        seed: int = typer.Option(0, "--seed", help="Seed for the eval set and all draws."),
    ) -> None:
        """Build (or reuse) the catalog, draw the eval set, run every statistical baseline on
        polar and refined statements, and print the comparison table."""
        run_main_job(wvs=wvs, out=out_dir, seed=seed)
