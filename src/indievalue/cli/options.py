"""The command-line flags of the evaluation configuration, shared by ``evaluate`` and
``analyze``, and how flags plus ``--config FILE`` become one :class:`EvalConfig`.

Every flag defaults to None ("not given"), so a value in the config file stands unless the
flag is given; the defaults shown in the help are :class:`EvalConfig`'s.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from indievalue.cli.catalog_cmd import FormChoice

if TYPE_CHECKING:  # imported when a command runs: `--help` does not load the data stack
    from indievalue.runs.config import EvalConfig

#: :class:`EvalConfig`'s defaults as the help shows them, restated because runs.config imports
#: numpy, pandas and pyarrow (tests/cli/test_startup.py checks that the two agree).
DEFAULTS: dict[str, Any] = {
    "protocol": "A", "demos": 200, "demo_form": "polar", "probe_form": "polar",
    "demographics": "off", "demo_category": None, "train_continent": None, "seed": 0,
    "eval_size": None, "eval_ids_file": None,
}

#: How the help shows a default that is not a plain value.
SHOWN = {"eval_size": "the catalog spec's; 800 for WVS-7"}


class ProtocolChoice(str, Enum):
    A = "A"
    B = "B"


class DemographicsChoice(str, Enum):
    off = "off"
    on = "on"
    only = "only"


def default(name: str) -> str:
    """`` (default: X)`` for the help of the flag of config field ``name`` (the flag itself
    defaults to None: not given)."""
    value = DEFAULTS[name]
    return f" (default: {SHOWN.get(name, value)})"


CATALOG = typer.Option(..., "--catalog", help="Catalog directory.")
PREDICTOR = typer.Option(
    None, "--predictor", help="Registered predictor name (see `indievalue predictors`).")
OPTIONS = typer.Option(
    [], "--option", help="Predictor option KEY=VALUE (repeatable); wins over the config file's "
    "`options:`.")
CONFIG = typer.Option(
    None, "--config", help="YAML file of settings: `predictor:`, an `options:` mapping, and any "
    "of protocol, demos, form (both forms), demo_form, probe_form, demographics, demo_category, "
    "train_continent, seed, eval_size, eval_ids_file. Flags given on the command line win.")
FORM = typer.Option(None, "--form", help="Statement form of demonstrations and probes"
                    + default("probe_form") + ".")
PROTOCOL = typer.Option(None, "--protocol",
                        help="A: 39 probes per episode; B: one" + default("protocol") + ".")
SEED = typer.Option(None, "--seed", help="Seed for the eval set, demonstrations and predictor"
                    + default("seed") + ".")
EVAL_SIZE = typer.Option(None, "--eval-size", min=1,
                         help="Size of the drawn eval set" + default("eval_size") + ".")
DEMOS = typer.Option(None, "--demos", min=0, max=200,
                     help="Demonstrations per episode" + default("demos") + ".")
DEMO_FORM = typer.Option(None, "--demo-form", help="Override the demonstrations' form.")
PROBE_FORM = typer.Option(None, "--probe-form", help="Override the probes' form.")
DEMOGRAPHICS = typer.Option(None, "--demographics", help="Demographic statements: off, on "
                            "(before the demonstrations), only" + default("demographics") + ".")


def build_config(config_file: Path | None, option: list[str], **flags: Any) -> EvalConfig:
    """One :class:`EvalConfig` from ``--config``, ``--option`` pairs and the other flags
    (keyword = config field name, or ``form``; None = not given)."""
    from indievalue.predictors.base import parse_option_pairs
    from indievalue.runs.config import make_config

    values = {k: v.value if isinstance(v, Enum) else v for k, v in flags.items()}
    values["predictor_options"] = parse_option_pairs(option) or None
    return make_config(values, config_file)


__all__ = [
    "CATALOG",
    "CONFIG",
    "DEMOGRAPHICS",
    "DEMOS",
    "DEMO_FORM",
    "EVAL_SIZE",
    "FORM",
    "OPTIONS",
    "PREDICTOR",
    "PROBE_FORM",
    "PROTOCOL",
    "SEED",
    "DemographicsChoice",
    "FormChoice",
    "ProtocolChoice",
    "build_config",
    "default",
]
