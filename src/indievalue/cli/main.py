"""Entry point: the typer app built from the command modules; user errors become one line."""

from __future__ import annotations

import sys

import typer

from indievalue.cli import (
    catalog_cmd,
    datasets_cmd,
    embed_cmd,
    eval_cmd,
    import_cmd,
    report_cmd,
    run_cmd,
    synth_cmd,
    train_cmd,
)
from indievalue.errors import IndieValueError

app = typer.Typer(
    name="indievalue",
    help="Individualistic value reasoning on the World Values Survey (wave 7): build per-person "
    "value-statement catalogs, evaluate predictors on the IndieValue protocol, read the results.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

catalog_cmd.register(app)
datasets_cmd.register(app)
eval_cmd.register(app)
import_cmd.register(app)
run_cmd.register(app)
report_cmd.register(app)
embed_cmd.register(app)
synth_cmd.register(app)
train_cmd.register(app)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except IndieValueError as exc:
        print("error: " + " ".join(str(exc).split()), file=sys.stderr)  # always one line
        sys.exit(2)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":  # pragma: no cover
    main()
