"""``indievalue report`` and ``indievalue analyze ...``: thin wrappers over
:mod:`indievalue.report.build` and :mod:`indievalue.analyses`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from indievalue.cli.catalog_cmd import FormChoice, synthetic_banner
from indievalue.cli.console import out
from indievalue.cli.eval_cmd import progress_bar
from indievalue.cli.options import (
    CATALOG,
    CONFIG,
    EVAL_SIZE,
    FORM,
    OPTIONS,
    PREDICTOR,
    PROTOCOL,
    SEED,
    ProtocolChoice,
    build_config,
    default,
)
from indievalue.errors import IndieValueError

if TYPE_CHECKING:  # imported when a command runs: `--help` does not load the data stack
    from indievalue.runs.config import EvalConfig

analyze_app = typer.Typer(
    help="The paper's analyses, one command each: each creates the runs it needs (reusing "
    "finished ones in its --out) and writes a figure plus its table (Markdown and CSV).",
    no_args_is_help=True,
)

# Settings every run-making analysis takes from its configuration; the rest it varies itself
# (or does not offer), so a config file setting them is refused rather than ignored.
COMMON = {"predictor", "predictor_options", "protocol", "demo_form", "probe_form", "seed",
          "eval_size"}


def analysis_config(command: str, catalog: Path, config: Path | None, option: list[str],
                    also: frozenset[str] = frozenset(), **flags: Any) -> tuple[EvalConfig, Any]:
    """The analysis's one configuration, and its catalog opened (both fail before any run)."""
    from indievalue.catalog.store import Catalog

    cfg = build_config(config, option, **flags)
    unused = sorted(cfg.model_fields_set - COMMON - also)
    if unused:
        raise IndieValueError(f"{config}: analyze {command} does not take "
                              f"{', '.join(unused)} (it sets what it varies itself)")
    if cfg.demo_form != cfg.probe_form:
        raise IndieValueError(f"{config}: analyze {command} runs demonstrations and probes in "
                              "one form; set form, not demo_form and probe_form apart")
    return cfg, Catalog.load(catalog)


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
    form: FormChoice | None = FORM,
    protocol: ProtocolChoice | None = PROTOCOL,
    seed: int | None = SEED,
    eval_size: int | None = EVAL_SIZE,
) -> None:
    """Accuracy by number of demonstrations, without / with demographics (Figures 4, 10).

    Also runs demographics alone, and t-tests per-person accuracies: off vs on at each count,
    each count vs demographics only.
    """
    from indievalue.analyses.common import parse_int_list
    from indievalue.analyses.demos import demos_analysis

    counts = parse_int_list(demos, "--demos", 0, 200)
    cfg, cat = analysis_config("demos", catalog, config, option, predictor=predictor,
                               form=form, protocol=protocol, seed=seed, eval_size=eval_size)
    _done(demos_analysis(cat, cfg.predictor, out_dir, options=cfg.predictor_options,
                         demos=counts, form=cfg.probe_form, protocol=cfg.protocol,
                         seed=cfg.seed, eval_size=cfg.eval_size, progress=progress_bar))


@analyze_app.command("transfer")
def transfer_cmd(
    catalog: Path = CATALOG,
    predictor: str | None = PREDICTOR,
    option: list[str] = OPTIONS,
    config: Path | None = CONFIG,
    out_dir: Path = typer.Option(..., "--out", help="Output directory (runs go to OUT/runs)."),
    persons: int = typer.Option(100, "--persons", min=1,
                                help="Persons drawn (seeded) from the eval set."),
    form: FormChoice | None = FORM,
    protocol: ProtocolChoice | None = PROTOCOL,
    seed: int | None = SEED,
    eval_size: int | None = EVAL_SIZE,
) -> None:
    """Demonstrations from one category, probes from all: a 13 x 13 matrix (Figure 8).

    Runs on --persons drawn (seeded) from the eval set; the ids go to OUT/transfer_ids.txt.
    """
    from indievalue.analyses.transfer import transfer_analysis

    cfg, cat = analysis_config("transfer", catalog, config, option,
                               predictor=predictor, form=form, protocol=protocol, seed=seed,
                               eval_size=eval_size)
    _done(transfer_analysis(cat, cfg.predictor, out_dir, options=cfg.predictor_options,
                            persons=persons, form=cfg.probe_form, protocol=cfg.protocol,
                            seed=cfg.seed, eval_size=cfg.eval_size, progress=progress_bar))


@analyze_app.command("continents")
def continents_cmd(
    catalog: Path = CATALOG,
    predictor: str | None = PREDICTOR,
    option: list[str] = OPTIONS,
    config: Path | None = CONFIG,
    out_dir: Path = typer.Option(..., "--out", help="Output directory (runs go to OUT/runs)."),
    form: FormChoice | None = FORM,
    protocol: ProtocolChoice | None = PROTOCOL,
    demos: int | None = typer.Option(None, "--demos", min=0, max=200,
                                     help="Demonstrations per episode" + default("demos")
                                     + "."),
    seed: int | None = SEED,
    eval_size: int | None = EVAL_SIZE,
) -> None:
    """Fit on each continent's training persons, test on each continent (Figure 6).

    One run per training continent and one on all; the predictor must learn from the pool
    (e.g. majority, resemble) for the rows to differ.
    """
    from indievalue.analyses.continents import continents_analysis

    cfg, cat = analysis_config("continents", catalog, config, option, frozenset({"demos"}),
                               predictor=predictor, form=form,
                               protocol=protocol, demos=demos, seed=seed, eval_size=eval_size)
    _done(continents_analysis(cat, cfg.predictor, out_dir, options=cfg.predictor_options,
                              form=cfg.probe_form, protocol=cfg.protocol, demos=cfg.demos,
                              seed=cfg.seed, eval_size=cfg.eval_size, progress=progress_bar))


@analyze_app.command("evenness")
def evenness_cmd(
    catalog: Path = CATALOG,
    out_dir: Path = typer.Option(..., "--out", help="Output directory."),
    form: FormChoice = typer.Option(FormChoice.polar, "--form",
                                    help="Statement form of the answers."),
) -> None:
    """Shannon evenness J′ of the answers of each continent's persons (Figure 7); no runs."""
    from indievalue.analyses.evenness import evenness_analysis
    from indievalue.catalog.store import Catalog

    _done(evenness_analysis(Catalog.load(catalog), out_dir, form=form.value))


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
        for line in files.partial:  # incomplete runs: PARTIAL: n of N expected records (run)
            out.print(line, markup=False)
        out.print(f"report: {files.html}")
        out.print(f"markdown: {files.markdown} ({len(files.figures)} figures, "
                  f"{len(files.tables)} CSV tables)")

    app.add_typer(analyze_app, name="analyze")
