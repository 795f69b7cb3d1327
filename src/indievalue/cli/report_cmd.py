"""``indievalue report`` and ``indievalue analyze ...``: thin wrappers over
:mod:`indievalue.report.build` and :mod:`indievalue.analyses`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from indievalue.cli.catalog_cmd import FormChoice, synthetic_banner
from indievalue.cli.console import out
from indievalue.cli.eval_cmd import ProtocolChoice, load_config, progress_bar
from indievalue.errors import IndieValueError
from indievalue.predictors.base import parse_option_pairs

analyze_app = typer.Typer(
    help="The paper's analyses, one command each: each creates the runs it needs (reusing "
    "finished ones in its --out) and writes a figure plus its table (Markdown and CSV).",
    no_args_is_help=True,
)

CATALOG = typer.Option(..., "--catalog", help="Catalog directory.")
PREDICTOR = typer.Option(None, "--predictor",
                         help="Registered predictor name (see `indievalue predictors`).")
OPTIONS = typer.Option([], "--option", help="Predictor option KEY=VALUE (repeatable).")
CONFIG = typer.Option(None, "--config",
                      help="YAML file with `predictor:` and an `options:` mapping.")
FORM = typer.Option(FormChoice.polar, "--form",
                    help="Statement form of demonstrations and probes.")
PROTOCOL = typer.Option(ProtocolChoice.A, "--protocol", help="A: 39 probes per episode; B: one.")
SEED = typer.Option(0, "--seed", help="Seed for the eval set, demonstrations and predictor.")
EVAL_SIZE = typer.Option(800, "--eval-size", min=1, help="Size of the drawn eval set.")


def _predictor(name: str | None, option: list[str], config: Path | None) -> tuple[str,
                                                                                 dict[str, Any]]:
    cfg = load_config(config)
    chosen = name or cfg.get("predictor")
    if not chosen:
        raise IndieValueError("give --predictor (or `predictor:` in --config)")
    return str(chosen), {**cfg.get("options", {}), **parse_option_pairs(option)}


def _done(result: Any) -> None:
    synthetic_banner(bool(result.synthetic))
    out.print(f"figure: {result.figure}")
    out.print(f"table: {result.markdown} (CSV: {', '.join(str(p) for p in result.tables)})")
    if result.runs:
        out.print(f"runs: {len(result.runs)} under {result.runs[0].parent}")


@analyze_app.command("demos")
def demos_cmd(
    catalog: Path = CATALOG,
    predictor: str | None = PREDICTOR,
    option: list[str] = OPTIONS,
    config: Path | None = CONFIG,
    out_dir: Path = typer.Option(..., "--out", help="Output directory (runs go to OUT/runs)."),
    demos: str = typer.Option("0,50,100,150,200", "--demos",
                              help="Comma-separated demonstration counts (0-200)."),
    form: FormChoice = FORM,
    protocol: ProtocolChoice = PROTOCOL,
    seed: int = SEED,
    eval_size: int = EVAL_SIZE,
) -> None:
    """Accuracy by number of demonstrations, without / with demographics (Figures 4, 10).

    Also runs demographics alone, and t-tests per-person accuracies: off vs on at each count,
    each count vs demographics only.
    """
    from indievalue.analyses.common import parse_int_list
    from indievalue.analyses.demos import demos_analysis

    name, options = _predictor(predictor, option, config)
    counts = parse_int_list(demos, "--demos", 0, 200)
    _done(demos_analysis(catalog, name, out_dir, options=options, demos=counts,
                         form=form.value, protocol=protocol.value, seed=seed,
                         eval_size=eval_size, progress=progress_bar))


@analyze_app.command("transfer")
def transfer_cmd(
    catalog: Path = CATALOG,
    predictor: str | None = PREDICTOR,
    option: list[str] = OPTIONS,
    config: Path | None = CONFIG,
    out_dir: Path = typer.Option(..., "--out", help="Output directory (runs go to OUT/runs)."),
    persons: int = typer.Option(100, "--persons", min=1,
                                help="Persons drawn (seeded) from the eval set."),
    form: FormChoice = FORM,
    protocol: ProtocolChoice = PROTOCOL,
    seed: int = SEED,
    eval_size: int = EVAL_SIZE,
) -> None:
    """Demonstrations from one category, probes from all: a 13 x 13 matrix (Figure 8).

    Runs on --persons drawn (seeded) from the eval set; the ids go to OUT/transfer_ids.txt.
    """
    from indievalue.analyses.transfer import transfer_analysis

    name, options = _predictor(predictor, option, config)
    _done(transfer_analysis(catalog, name, out_dir, options=options, persons=persons,
                            form=form.value, protocol=protocol.value, seed=seed,
                            eval_size=eval_size, progress=progress_bar))


@analyze_app.command("continents")
def continents_cmd(
    catalog: Path = CATALOG,
    predictor: str | None = PREDICTOR,
    option: list[str] = OPTIONS,
    config: Path | None = CONFIG,
    out_dir: Path = typer.Option(..., "--out", help="Output directory (runs go to OUT/runs)."),
    form: FormChoice = FORM,
    protocol: ProtocolChoice = PROTOCOL,
    demos: int = typer.Option(200, "--demos", min=0, max=200,
                              help="Demonstrations per episode."),
    seed: int = SEED,
    eval_size: int = EVAL_SIZE,
) -> None:
    """Fit on each continent's training persons, test on each continent (Figure 6).

    One run per training continent and one on all; the predictor must learn from the pool
    (e.g. majority, resemble) for the rows to differ.
    """
    from indievalue.analyses.continents import continents_analysis

    name, options = _predictor(predictor, option, config)
    _done(continents_analysis(catalog, name, out_dir, options=options, form=form.value,
                              protocol=protocol.value, demos=demos, seed=seed,
                              eval_size=eval_size, progress=progress_bar))


@analyze_app.command("evenness")
def evenness_cmd(
    catalog: Path = CATALOG,
    out_dir: Path = typer.Option(..., "--out", help="Output directory."),
    form: FormChoice = FORM,
) -> None:
    """Shannon evenness J′ of the answers of each continent's persons (Figure 7); no runs."""
    from indievalue.analyses.evenness import evenness_analysis

    _done(evenness_analysis(catalog, out_dir, form=form.value))


def register(app: typer.Typer) -> None:
    @app.command("report")
    def report_cmd(
        run_dirs: list[Path] | None = typer.Argument(
            None, help="Run directories (from `indievalue evaluate` or `indievalue run`)."),
        out_dir: Path = typer.Option(..., "--out", help="Directory for report.md, report.html, "
                                     "figures/ and tables/."),
        focus: Path | None = typer.Option(
            None, "--focus", help="Run whose per-group accuracies are plotted (default: the "
            "first run)."),
        title: str = typer.Option("indievalue report", "--title", help="Report title."),
    ) -> None:
        """Compare runs in report.md and a self-contained report.html.

        Table-3-style comparison, per-category heatmap, σ_INEQUITY by dimension, per-group
        accuracy, calibration, parse failures and provenance. Reads only the run directories.
        """
        from indievalue.report.build import build_report

        if not run_dirs:
            raise IndieValueError("give at least one run directory")
        files = build_report(run_dirs, out_dir, focus=focus, title=title)
        synthetic_banner(files.synthetic)
        out.print(f"report: {files.html}")
        out.print(f"markdown: {files.markdown} ({len(files.figures)} figures, "
                  f"{len(files.tables)} CSV tables)")

    app.add_typer(analyze_app, name="analyze")
