"""``indievalue import inspect|batch`` and ``indievalue export batch``: language-model answers
recorded by other routes (an Inspect eval, a provider's Batch API) in and out of run
directories. Thin wrappers over :mod:`indievalue.lm.inspect_log`, :mod:`indievalue.lm.batch`
and :func:`indievalue.lm.plan.import_answers`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from indievalue.cli.catalog_cmd import synthetic_banner
from indievalue.cli.console import out
from indievalue.cli.eval_cmd import print_summary, progress_bar
from indievalue.cli.options import (
    CATALOG,
    CONFIG,
    DEMO_FORM,
    DEMOGRAPHICS,
    DEMOS,
    FORM,
    OPTIONS,
    PROBE_FORM,
    PROTOCOL,
    SEED,
    DemographicsChoice,
    FormChoice,
    ProtocolChoice,
    build_config,
    default,
)

import_app = typer.Typer(
    help="Make a run directory from language-model answers recorded elsewhere (an Inspect "
    "eval log, a Batch API result file); score, report and compare it like any run.",
    no_args_is_help=True,
)
export_app = typer.Typer(
    help="Write the evaluation's prompts for another route (Batch API request files).",
    no_args_is_help=True,
)

RUN_OUT = typer.Option(..., "--out", help="Run directory to make (resumed if it holds this "
                       "import already).")
CATALOG_OVERRIDE = typer.Option(
    None, "--catalog", help="Catalog directory, when it is no longer where the source was "
    "made (its content hash must match).")


def _report(result: Any, run_dir: Path) -> None:
    print_summary(result.summary, run_dir)
    unused = ", ".join(f"{k} {v}" for k, v in sorted(result.unused.items()))
    out.print(f"answers: {result.answered} of {result.episodes} episodes"
              + (f"; not used: {unused}" if unused else ""), markup=False)
    if result.missing:
        out.print(f"{result.missing} episodes without an answer are recorded with status "
                  "error", markup=False)


@import_app.command("inspect")
def import_inspect_cmd(
    log: Path = typer.Argument(..., help="Inspect eval log (.eval or .json) of the "
                               "indievalue/indievalue task."),
    out_dir: Path = RUN_OUT,
    catalog: Path | None = CATALOG_OVERRIDE,
) -> None:
    """An Inspect eval log of `inspect eval indievalue/indievalue` as a run directory."""
    from indievalue.lm.inspect_log import read_inspect_log
    from indievalue.lm.plan import import_answers

    rec = read_inspect_log(log)
    with progress_bar(f"inspect ({rec.model})") as update:
        result = import_answers(rec, out_dir, catalog=catalog, progress=update)
    _report(result, out_dir)


@import_app.command("batch")
def import_batch_cmd(
    results: Path = typer.Argument(..., help="Batch API result file (JSONL)."),
    plan: Path = typer.Option(..., "--plan", help="The plan file `indievalue export batch` "
                              "wrote beside the requests (REQUESTS.plan.json)."),
    out_dir: Path = RUN_OUT,
    catalog: Path | None = CATALOG_OVERRIDE,
) -> None:
    """A Batch API result file as a run directory: bad, foreign or repeated lines are counted
    and their episodes recorded with status error."""
    from indievalue.lm.batch import read_batch_results
    from indievalue.lm.plan import import_answers

    rec = read_batch_results(results, plan)
    with progress_bar(f"batch ({rec.model})") as update:
        result = import_answers(rec, out_dir, catalog=catalog, progress=update)
    _report(result, out_dir)


@export_app.command("batch")
def export_batch_cmd(
    catalog: Path = CATALOG,
    out_file: Path = typer.Option(..., "--out", help="Request file to write (JSONL); the plan "
                                  "goes beside it as NAME.plan.json."),
    model: str | None = typer.Option(None, "--model", help="Model named in every request."),
    form: FormChoice | None = FORM,
    protocol: ProtocolChoice | None = PROTOCOL,
    demos: int | None = DEMOS,
    demo_form: FormChoice | None = DEMO_FORM,
    probe_form: FormChoice | None = PROBE_FORM,
    demographics: DemographicsChoice | None = DEMOGRAPHICS,
    demo_category: str | None = typer.Option(
        None, "--demo-category", help="Category key: demonstrations only from it."),
    seed: int | None = SEED,
    eval_ids: Path | None = typer.Option(
        None, "--eval-ids", help="File of eval person ids, one per line."),
    eval_size: int | None = typer.Option(
        None, "--eval-size", min=1, help="Size of the drawn eval set" + default("eval_size")
        + "."),
    option: list[str] = OPTIONS,
    config: Path | None = CONFIG,
) -> None:
    """Every episode as an OpenAI Batch API request line (prompt_template, system_prompt,
    temperature, top_p and max_new_tokens as --option)."""
    from indievalue.catalog.store import Catalog
    from indievalue.lm.batch import export_batch

    cfg = build_config(
        config, option, predictor="replay", form=form, protocol=protocol, demos=demos,
        demo_form=demo_form, probe_form=probe_form, demographics=demographics,
        demo_category=demo_category, seed=seed, eval_size=eval_size, eval_ids_file=eval_ids)
    options = dict(cfg.predictor_options)
    name = model or str(options.pop("model", "") or "")
    options.pop("model", None)
    cat = Catalog.load(catalog)
    done = export_batch(cat, cfg.replace(predictor_options=options), out_file, name)
    synthetic_banner(cat.synthetic)
    out.print(f"{done.n_requests} requests: {done.requests}", markup=False)
    out.print(f"plan: {done.plan} (give it to `indievalue import batch --plan`)", markup=False)


def register(app: typer.Typer) -> None:
    app.add_typer(import_app, name="import")
    app.add_typer(export_app, name="export")
