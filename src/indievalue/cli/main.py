"""Entry point: the typer app built from the command modules; user errors become one line."""

from __future__ import annotations

import sys

import typer

from indievalue.cli import (
    catalog_cmd,
    datasets_cmd,
    elicit_cmd,
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
elicit_cmd.register(app)


def _click_error_types() -> tuple[type[Exception], type[Exception]]:
    """click's ClickException and NoArgsIsHelpError as the installed typer raises them (typer
    0.2x vendors click, older typer uses click itself: found from a class typer exports)."""
    mro = typer.BadParameter.__mro__
    base = next(c for c in mro if c.__name__ == "ClickException")
    usage = next(c for c in mro if c.__name__ == "UsageError")
    subclasses: list[type] = usage.__subclasses__()
    no_args = next((c for c in subclasses if c.__name__ == "NoArgsIsHelpError"),
                   None)
    return base, no_args or type("_Never", (Exception,), {})


def _one_line(message: str) -> None:
    print("error: " + " ".join(message.split()), file=sys.stderr)


def main() -> None:
    """Console-script entry point: every user mistake, including a malformed command line,
    ends in one ``error:`` line and exit 2."""
    click_error, no_args_help = _click_error_types()
    try:
        code = app(standalone_mode=False)
    except IndieValueError as exc:
        _one_line(str(exc))
        sys.exit(2)
    except no_args_help:  # the help was printed; a bare group is not an error to explain
        sys.exit(2)
    except click_error as exc:
        ctx = getattr(exc, "ctx", None)
        hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        _one_line(f"{exc.format_message()}{hint}")  # type: ignore[attr-defined]
        sys.exit(int(getattr(exc, "exit_code", 2)) or 2)
    except (KeyboardInterrupt, typer.Abort):
        print("error: interrupted", file=sys.stderr)
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":  # pragma: no cover
    main()
