"""``indievalue evaluate``, ``indievalue score`` and ``indievalue predictors``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args, get_origin

import typer
from rich.table import Table

from indievalue.cli.catalog_cmd import real_banner, synthetic_banner
from indievalue.cli.console import new_progress, out
from indievalue.cli.options import (
    CATALOG,
    CONFIG,
    DEMO_FORM,
    DEMOGRAPHICS,
    DEMOS,
    FORM,
    OPTIONS,
    PREDICTOR,
    PROBE_FORM,
    PROTOCOL,
    SEED,
    DemographicsChoice,
    FormChoice,
    ProtocolChoice,
    build_config,
    default,
)

if TYPE_CHECKING:  # the library is imported by each command, so `--help` stays fast
    from pydantic.fields import FieldInfo

    from indievalue.predictors.base import PredictorStats
    from indievalue.runs.evaluate import Progress as ProgressFn


@contextmanager
def progress_bar(label: str) -> Iterator[ProgressFn]:
    """A live display of records done / total and the running accuracy (on stderr), drawn
    from the first update on: a run that fails while it is set up shows no bar."""
    bar = new_progress("acc {task.fields[acc]}{task.fields[lm]}", remaining=False)
    task = bar.add_task(label, total=None, acc="-", lm="")

    def update(done: int, total: int, correct: int, answered: int,
               stats: PredictorStats | None = None) -> None:
        if not bar.live.is_started:
            bar.start()
        acc = f"{100 * correct / answered:.2f}" if answered else "-"
        lm = ""
        if stats is not None:
            lm = (f" | cache {stats.cache_hits} hit / {stats.cache_misses} miss | retries "
                  f"{stats.retries} | parse failures {stats.parse_failures} | faults "
                  f"{sum(stats.faults.values())}")
        bar.update(task, completed=done, total=total, acc=acc, lm=lm)

    try:
        yield update
    finally:
        if bar.live.is_started:
            bar.stop()


def print_summary(summary: dict[str, Any], run_dir: Path) -> None:
    synthetic_banner(bool(summary.get("synthetic")))
    sigma = summary.get("sigma_inequity")
    out.print(
        f"{summary['label']}: overall {summary['overall']:.2f} "
        f"(95% CI {summary['overall_ci95'][0]:.2f}–{summary['overall_ci95'][1]:.2f}); "
        "per setup " + " / ".join(f"{v:.2f}" for v in summary["per_setup"])
        + (f"; σ_INEQUITY {sigma:.2f}" if sigma is not None else "")
        + (f"; parse failures {summary['parse_failures']}" if summary["parse_failures"] else "")
    )
    out.print(f"run directory: {run_dir}")


def type_text(f: FieldInfo) -> str:
    """An option's type as a user reads it: ``int (≥1, ≤500)``, ``visible | demos``,
    ``str | none``."""
    def name(t: Any) -> str:
        if get_origin(t) is not None and str(get_origin(t)).endswith("Literal"):
            return " | ".join(str(a) for a in get_args(t))
        args = get_args(t)
        if args and type(None) in args:
            rest = [name(a) for a in args if a is not type(None)]
            return " | ".join(rest) + " | none"
        if args:
            return " | ".join(name(a) for a in args)
        return getattr(t, "__name__", str(t))

    bounds = [f"{sign}{getattr(m, a)}" for m in f.metadata
              for a, sign in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<"))
              if getattr(m, a, None) is not None]
    return name(f.annotation) + (f" ({', '.join(bounds)})" if bounds else "")


def default_text(f: FieldInfo) -> str:
    return "required" if f.is_required() else repr(f.get_default(call_default_factory=True))


def register(app: typer.Typer) -> None:
    @app.command("evaluate")
    def evaluate_cmd(
        catalog: Path = CATALOG,
        predictor: str | None = PREDICTOR,
        form: FormChoice | None = FORM,
        out_dir: Path = typer.Option(..., "--out", help="Run directory (resumed if it exists)."),
        protocol: ProtocolChoice | None = PROTOCOL,
        demos: int | None = DEMOS,
        demo_form: FormChoice | None = DEMO_FORM,
        probe_form: FormChoice | None = PROBE_FORM,
        demographics: DemographicsChoice | None = DEMOGRAPHICS,
        demo_category: str | None = typer.Option(
            None, "--demo-category",
            help="Category key (SV, HW, SC, EV, CO, MI, SE, PM, ST, RV, EN, PI, PC): draw "
            "demonstrations only from that category's non-probe questions."),
        train_continent: str | None = typer.Option(
            None, "--train-continent",
            help="Fit the predictor only on training persons of this continent."),
        seed: int | None = SEED,
        eval_ids: Path | None = typer.Option(
            None, "--eval-ids", help="File of eval person ids, one per line."),
        eval_size: int | None = typer.Option(
            None, "--eval-size", min=1,
            help="Size of the drawn eval set (ignored with --eval-ids)" + default("eval_size")
            + "."),
        option: list[str] = OPTIONS,
        config: Path | None = CONFIG,
    ) -> None:
        """Run a predictor on the benchmark; write spec.json, records.jsonl, summary.json/.md."""
        from indievalue.catalog.store import Catalog
        from indievalue.predictors.base import make_predictor
        from indievalue.runs.evaluate import evaluate

        cfg = build_config(
            config, option, predictor=predictor, form=form, protocol=protocol, demos=demos,
            demo_form=demo_form, probe_form=probe_form, demographics=demographics,
            demo_category=demo_category, train_continent=train_continent, seed=seed,
            eval_size=eval_size, eval_ids_file=eval_ids)
        # A bad catalog, predictor name or option fails here, before the progress bar.
        cat = Catalog.load(catalog)
        pred = make_predictor(cfg.predictor, cfg.predictor_options, seed=cfg.seed)
        with progress_bar(f"{cfg.predictor} ({cfg.probe_form})") as update:
            summary = evaluate(cat, cfg, out_dir, predictor=pred, progress=update)
        print_summary(summary, out_dir)
        real_banner(cat.spec)

    @app.command("score")
    def score_cmd(
        run_dir: Path = typer.Argument(..., help="Run directory."),
        as_json: bool = typer.Option(False, "--json", help="Print summary.json."),
    ) -> None:
        """Recompute every metric from records.jsonl (no predictor is run)."""
        from indievalue.runs.summary import score, summary_line

        summary = score(run_dir)
        if as_json:
            print(json.dumps(summary.to_json(), indent=2))
        else:
            synthetic_banner(summary.synthetic)
            out.print(summary_line(summary), markup=False)  # PARTIAL first when incomplete
            out.print(f"run directory: {run_dir}")

    @app.command("predictors")
    def predictors_cmd(
        name: str | None = typer.Argument(
            None, help="A predictor: list its options with type, default and description."),
    ) -> None:
        """List registered predictors and their options (with NAME: one predictor in detail)."""
        from indievalue.predictors.base import available_predictors, get_predictor

        if name is not None:
            cls = get_predictor(name)
            table = Table("option", "type", "default", "description",
                          title=f"{name} (probabilities: "
                          f"{'yes' if cls.gives_probabilities else 'no'})")
            for key, f in cls.Options.model_fields.items():
                table.add_row(key, type_text(f), default_text(f), f.description or "")
            out.print(table)
            return
        table = Table("predictor", "options (default)", "probabilities")
        for pname in available_predictors():
            cls = get_predictor(pname)
            fields = ", ".join(f"{k}={default_text(f)}"
                               for k, f in cls.Options.model_fields.items())
            table.add_row(pname, fields or "-", "yes" if cls.gives_probabilities else "no")
        out.print(table)
