"""``indievalue evaluate``, ``indievalue score`` and ``indievalue predictors``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Any

import typer
import yaml
from rich.table import Table

from indievalue.cli.catalog_cmd import FormChoice, synthetic_banner
from indievalue.cli.console import new_progress, out
from indievalue.errors import IndieValueError
from indievalue.predictors.base import (
    available_predictors,
    get_predictor,
    make_predictor,
    parse_option_pairs,
)
from indievalue.runs.evaluate import EvalRequest, evaluate
from indievalue.runs.evaluate import Progress as ProgressFn
from indievalue.runs.summary import score_run


class ProtocolChoice(str, Enum):
    A = "A"
    B = "B"


class DemographicsChoice(str, Enum):
    off = "off"
    on = "on"
    only = "only"


@contextmanager
def progress_bar(label: str) -> Iterator[ProgressFn]:
    """A live display of records done / total and the running accuracy (on stderr)."""
    with new_progress("acc {task.fields[acc]}{task.fields[lm]}", remaining=False) as bar:
        task = bar.add_task(label, total=None, acc="-", lm="")

        def update(done: int, total: int, correct: int, answered: int,
                   stats: dict[str, Any] | None = None) -> None:
            acc = f"{100 * correct / answered:.2f}" if answered else "-"
            lm = ""
            if stats is not None:
                faults = sum(stats.get("faults", {}).values())
                lm = (f" | cache {stats.get('cache_hits', 0)} hit / "
                      f"{stats.get('cache_misses', 0)} miss | retries {stats.get('retries', 0)}"
                      f" | parse failures {stats.get('parse_failures', 0)} | faults {faults}")
            bar.update(task, completed=done, total=total, acc=acc, lm=lm)

        yield update


def load_config(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise IndieValueError(f"{path}: no such file") from None
    except (OSError, yaml.YAMLError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise IndieValueError(f"{path}: not a readable YAML file ({first})") from None
    if not isinstance(data, dict) or not isinstance(data.get("options", {}), dict):
        raise IndieValueError(f"{path}: expected a mapping with an 'options' mapping")
    unknown = set(data) - {"predictor", "options"}
    if unknown:
        raise IndieValueError(f"{path}: unknown key(s) {', '.join(sorted(unknown))} "
                              "(allowed: predictor, options)")
    return data


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


def register(app: typer.Typer) -> None:
    @app.command("evaluate")
    def evaluate_cmd(
        catalog: Path = typer.Option(..., "--catalog", help="Catalog directory."),
        predictor: str | None = typer.Option(
            None, "--predictor", help="Registered predictor name (see `indievalue predictors`)."),
        form: FormChoice = typer.Option(
            ..., "--form", help="Statement form of demonstrations and probes."),
        out_dir: Path = typer.Option(..., "--out", help="Run directory (resumed if it exists)."),
        protocol: ProtocolChoice = typer.Option(ProtocolChoice.A, "--protocol",
                                                help="A: 39 probes per episode; B: one."),
        demos: int = typer.Option(200, "--demos", min=0, max=200,
                                  help="Demonstrations per episode."),
        demo_form: FormChoice | None = typer.Option(
            None, "--demo-form", help="Override the demonstrations' form."),
        probe_form: FormChoice | None = typer.Option(
            None, "--probe-form", help="Override the probes' form."),
        demographics: DemographicsChoice = typer.Option(
            DemographicsChoice.off, "--demographics",
            help="Demographic statements: off, on (before the demonstrations), only."),
        demo_category: str | None = typer.Option(
            None, "--demo-category",
            help="Category key (SV, HW, SC, EV, CO, MI, SE, PM, ST, RV, EN, PI, PC): draw "
            "demonstrations only from that category's non-probe questions."),
        train_continent: str | None = typer.Option(
            None, "--train-continent",
            help="Fit the predictor only on training persons of this continent."),
        seed: int = typer.Option(0, "--seed", help="Seed for eval set, demonstrations, predictor."),
        eval_ids: Path | None = typer.Option(
            None, "--eval-ids", help="File of eval person ids, one per line."),
        eval_size: int = typer.Option(800, "--eval-size", min=1,
                                      help="Size of the drawn eval set (ignored with --eval-ids)."),
        option: list[str] = typer.Option(
            [], "--option", help="Predictor option KEY=VALUE (repeatable)."),
        config: Path | None = typer.Option(
            None, "--config", help="YAML file with `predictor:` and an `options:` mapping."),
    ) -> None:
        """Run a predictor on the benchmark; write spec.json, records.jsonl, summary.json/.md."""
        cfg = load_config(config)
        name = predictor or cfg.get("predictor")
        if not name:
            raise IndieValueError("give --predictor (or `predictor:` in --config)")
        options = {**cfg.get("options", {}), **parse_option_pairs(option)}
        request = EvalRequest(
            protocol=protocol.value, demos=demos,
            demo_form=(demo_form or form).value, probe_form=(probe_form or form).value,
            demographics=demographics.value, demo_category=demo_category,
            train_continent=train_continent, seed=seed,
            eval_size=eval_size,
            eval_ids_file=eval_ids,
        )
        pred = make_predictor(name, options, seed=seed)  # bad names and options fail here
        with progress_bar(f"{name} ({form.value})") as update:
            summary = evaluate(catalog, pred, out_dir, request, progress=update)
        print_summary(summary, out_dir)

    @app.command("score")
    def score_cmd(
        run_dir: Path = typer.Argument(..., help="Run directory."),
        as_json: bool = typer.Option(False, "--json", help="Print summary.json."),
    ) -> None:
        """Recompute every metric from records.jsonl (no predictor is run)."""
        summary = score_run(run_dir)
        if as_json:
            print(json.dumps(summary, indent=2))
        else:
            print_summary(summary, run_dir)

    @app.command("predictors")
    def predictors_cmd() -> None:
        """List registered predictors and their options."""
        table = Table("predictor", "options (default)", "probabilities")
        for name in available_predictors():
            cls = get_predictor(name)
            fields = ", ".join(f"{k}={f.default!r}" for k, f in cls.Options.model_fields.items())
            table.add_row(name, fields or "-", "yes" if cls.gives_probabilities else "no")
        out.print(table)
