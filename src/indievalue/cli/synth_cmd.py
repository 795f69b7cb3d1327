"""``indievalue synth``: write a synthetic WVS-7 respondent file; and the cached default one."""

from __future__ import annotations

import os
from pathlib import Path

import typer

#: ``indievalue.synth.generate.default.DEFAULT_PERSONS``, restated: importing indievalue.synth
#: loads numpy and scipy, which `--help` must not wait for (tests/cli/test_startup.py checks it).
DEFAULT_PERSONS = 97_112


def register(app: typer.Typer) -> None:
    @app.command("synth")
    def synth_command(
        persons: int = typer.Option(DEFAULT_PERSONS, "--persons", "-n",
                                    help="Number of respondents (default: full size, the 66 "
                                         "countries at their real sample sizes)."),
        seed: int = typer.Option(0, "--seed", help="Random seed; the same seed gives the "
                                                   "same file."),
        out: Path = typer.Option(..., "--out", "-o",
                                 help="Output file: .csv, .sav (SPSS) or .dta (Stata)."),
    ) -> None:
        """Write a SYNTHETIC respondent file in the official WVS-7 layout.

        The real WVS-7 file cannot be redistributed; this one is generated from a model
        calibrated to published aggregates, and its `version` column starts with SYNTHETIC
        so every reader can tell.
        """
        from indievalue.cli.console import err
        from indievalue.synth.generate.default import synth

        with err.status(f"generating {persons:,} synthetic respondents"):
            path = synth(persons, seed, out)
        err.print(f"wrote {path} ({persons:,} persons, seed {seed}, "
                      f"{os.path.getsize(path) / 1e6:.1f} MB)")
