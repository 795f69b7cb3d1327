"""``indievalue ask`` (elicitation in the terminal), ``indievalue serve`` (the same on a local
web page) and ``indievalue analyze elicitation`` (the benchmark): thin wrappers over
:mod:`indievalue.elicit` and :mod:`indievalue.analyses.elicitation`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Any

import typer

from indievalue.cli.catalog_cmd import FormChoice, synthetic_banner
from indievalue.cli.console import err, new_progress, out
from indievalue.errors import IndieValueError

CATALOG = typer.Option(..., "--catalog", help="Catalog directory (the statements).")
MODEL = typer.Option(..., "--model", help="Directory of a value model trained on the catalog "
                     "(`indievalue train value-model`).")
TOP = 8  # predictions shown after each answer
THREADS = typer.Option(1, "--threads", min=0, help="torch CPU threads per step (0 = torch's "
                       "default; 2 halves a step on an idle 2-core machine, and slows it on a "
                       "busy one).")


class CriterionChoice(str, Enum):
    information = "information"
    accuracy = "accuracy"
    logloss = "logloss"


CRITERION = typer.Option(CriterionChoice.information, "--criterion",
                         help="What the next question should do to the predictions of the "
                         "unasked ones: move them most (information), make the most top "
                         "predictions right (accuracy) or lower their log loss (logloss).")


@contextmanager
def step_bar(label: str) -> Iterator[Any]:
    """A progress bar over the steps of one long stage (drawn from the first step on)."""
    bar = new_progress(remaining=True)
    task = bar.add_task(label, total=None)

    def update(done: int, total: int) -> None:
        if not bar.live.is_started:
            bar.start()
        bar.update(task, completed=done, total=total)

    try:
        yield update
    finally:
        if bar.live.is_started:
            bar.stop()


def _show_question(session: Any, question: Any) -> None:
    out.print()
    out.print(f"[bold]Question {session.n_answered + 1}[/bold] · {question.qid} · "
              f"{question.category}")
    out.print("Which statement fits you best?")
    for i, text in enumerate(question.options, 1):
        out.print(f"  [bold]{i}[/bold]  {text[:1].upper() + text[1:]}")
    out.print("  [dim]s skip · u undo · q quit[/dim]")


def _show_state(session: Any) -> None:
    from rich.table import Table

    preds = sorted(session.predictions(), key=lambda p: -p.confidence)[:TOP]
    left = len(session.predictions())
    out.print(f"Expected accuracy on the {left} unasked questions: "
              f"[bold]{100 * session.expected_accuracy():.1f} %[/bold]")
    table = Table(title="What the model now expects of you (most confident first)",
                  title_justify="left", show_edge=False)
    table.add_column("question", no_wrap=True)
    table.add_column("predicted statement")
    table.add_column("probability", justify="right")
    for p in preds:
        table.add_row(p.qid, p.statement[:1].upper() + p.statement[1:],
                      f"{100 * p.confidence:.0f} %")
    out.print(table)


def _read(prompt: str) -> str:
    try:
        return out.input(prompt).strip().lower()
    except EOFError:
        return "q"


def ask(catalog: Path, model: Path, form: str = "refined", criterion: str = "information",
        save: Path | None = None, max_questions: int | None = None, threads: int = 1) -> int:
    """The terminal session: one question at a time until q, no question left or
    ``max_questions``; returns the number of answers."""
    from indievalue.elicit.load import open_value_model
    from indievalue.elicit.session import Elicitation, write_survey_row

    if save is not None and save.suffix.lower() != ".csv":
        raise IndieValueError(f"{save}: the answers are saved as a WVS-7 CSV; use a .csv name")
    opened = open_value_model(catalog, model, threads)
    synthetic_banner(opened.catalog.synthetic)
    session = Elicitation(opened.scorer, form=form, criterion=criterion)  # type: ignore[arg-type]
    out.print(f"Expected accuracy before any answer: "
              f"{100 * session.expected_accuracy():.1f} %")
    while max_questions is None or session.n_answered < max_questions:
        question = session.next_question()
        if question is None:
            out.print("No question left to ask.")
            break
        _show_question(session, question)
        reply = _read("> ")
        if reply in ("q", "quit", "exit"):
            break
        if reply in ("s", "skip"):
            session.skip(question.index)
            continue
        if reply in ("u", "undo"):
            if session.n_answered:
                session.undo()
            continue
        if not reply.isdigit() or not 1 <= int(reply) <= len(question.options):
            err.print(f"answer with a number from 1 to {len(question.options)}, s, u or q")
            continue
        session.answer(question.index, int(reply) - 1)
        _show_state(session)
    if save is not None:
        write_survey_row(save, session.survey_row())
        out.print(f"answers saved to {save} ({session.n_answered} answered; build a catalog "
                  f"with `indievalue catalog build --wvs {save}`)")
    return session.n_answered


ELICIT_FORM = typer.Option(FormChoice.refined, "--form",
                           help="Statements to choose from and to predict.")


def register(app: typer.Typer) -> None:
    @app.command("ask")
    def ask_cmd(
        catalog: Path = CATALOG,
        model: Path = MODEL,
        form: FormChoice = ELICIT_FORM,
        criterion: CriterionChoice = CRITERION,
        save: Path | None = typer.Option(None, "--save", help="Write the answers to this CSV "
                                         "(one respondent in the WVS-7 column format)."),
        max_questions: int | None = typer.Option(None, "--max", min=1,
                                                 help="Stop after this many answers."),
        threads: int = THREADS,
    ) -> None:
        """Get to know a person in few questions: each question is the one whose answer is
        expected to teach the value model the most about the rest; after every answer, the
        model's surest predictions and its expected accuracy on what is still unasked."""
        ask(catalog, model, form.value, criterion.value, save, max_questions, threads)

    @app.command("serve")
    def serve_cmd(
        catalog: Path = CATALOG,
        model: Path = MODEL,
        form: FormChoice = ELICIT_FORM,
        criterion: CriterionChoice = CRITERION,
        host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (the "
                                 "default serves this computer only)."),
        port: int = typer.Option(8000, "--port", min=1, max=65535, help="Port."),
        threads: int = THREADS,
    ) -> None:
        """The elicitation as a local web page: questions, the model's predictions updating
        after every answer, the expected accuracy and a map of where the person sits among
        the population. Answers live in the page only (download them as a survey row)."""
        from indievalue.errors import require
        from indievalue.web.app import create_app

        (uvicorn,) = require("uvicorn", purpose="indievalue serve",
                             install="'indievalue[serve]'")
        with err.status("loading the model and placing the population on the map"):
            app_ = create_app(catalog, model, form=form.value, criterion=criterion.value,
                              threads=threads)
        out.print(f"open http://{host}:{port}/ (Ctrl+C to stop)")
        uvicorn.run(app_, host=host, port=port, log_level="warning")

    from indievalue.cli.report_cmd import analyze_app

    @analyze_app.command("elicitation")
    def elicitation_cmd(
        catalog: Path = typer.Option(..., "--catalog", help="Catalog directory."),
        out_dir: Path = typer.Option(..., "--out", help="Output directory."),
        predictor: str = typer.Option("value-model", "--predictor",
                                      help="A predictor that gives probabilities."),
        option: list[str] = typer.Option(
            [], "--option", help="Predictor option KEY=VALUE (repeatable), e.g. "
            "model_dir=models/value-model."),
        persons: int = typer.Option(100, "--persons", min=1,
                                    help="Persons drawn (seeded) from the eval set."),
        max_k: int = typer.Option(60, "--max-k", min=1, max=200,
                                  help="Questions asked per person."),
        form: str = typer.Option("both", "--form", help="polar, refined or both."),
        criterion: CriterionChoice = CRITERION,
        static_persons: int = typer.Option(200, "--static-persons", min=1,
                                           help="Training persons the static order is "
                                           "chosen on."),
        seed: int = typer.Option(0, "--seed", help="Seed of the eval set, persons, orders."),
        eval_size: int | None = typer.Option(
            None, "--eval-size", min=1,
            help="Eval set size (default: the catalog spec's; 800 for WVS-7)."),
        threads: int = THREADS,
    ) -> None:
        """Questions needed to know a person: probe accuracy after k = 1..K answers when the
        questions come in the adaptive order, one static greedy order, or at random."""
        from indievalue.analyses.elicitation import elicitation_analysis
        from indievalue.predictors.base import parse_option_pairs

        forms = {"both": ("polar", "refined"), "polar": ("polar",),
                 "refined": ("refined",)}.get(form)
        if forms is None:
            raise IndieValueError(f"--form must be polar, refined or both, not {form!r}")
        result = elicitation_analysis(
            catalog, out_dir, predictor=predictor, options=parse_option_pairs(option),
            persons=persons, k=max_k, forms=forms, criterion=criterion.value,  # type: ignore[arg-type]
            static_persons=static_persons, seed=seed, eval_size=eval_size, threads=threads,
            progress=step_bar)
        synthetic_banner(result.synthetic)
        out.print(f"figure: {result.figure}")
        out.print(f"table: {result.markdown} (CSV: "
                  f"{', '.join(str(p) for p in result.tables)})")
