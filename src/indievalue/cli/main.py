"""Entry point: builds the typer app from the command modules and turns user errors into one line."""

from __future__ import annotations

import sys

import typer

from indievalue.cli import catalog_cmd, eval_cmd, run_cmd
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
eval_cmd.register(app)
run_cmd.register(app)

for _optional in ("synth_cmd",):
    try:
        _mod = __import__(f"indievalue.cli.{_optional}", fromlist=["register"])
    except ModuleNotFoundError as _exc:  # a command module not present in this build
        if _exc.name != f"indievalue.cli.{_optional}":
            raise
    else:
        _mod.register(app)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except IndieValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":  # pragma: no cover
    main()
