"""What to evaluate: one frozen configuration for the Python API, the command line and config
files.

Three layers of the same fields, so a setting is declared once:

- :class:`EvalSettings` — what, with a catalog and an eval set, determines a run's records: the
  predictor and its options, the protocol, the demonstrations, the forms, demographics, the
  demonstration category, the training continent and the seed.
- :class:`EvalConfig` — the settings plus how the eval set is chosen (``eval_size`` or
  ``eval_ids_file``). ``evaluate`` takes one; ``indievalue evaluate`` and ``indievalue analyze``
  build one from ``--config FILE`` and their flags (:func:`make_config`).
- :class:`~indievalue.runs.spec.RunSpec` — the settings plus what they resolved to (catalog
  hash, eval-set digest, setups), frozen into every run directory's ``spec.json``.

A new protocol setting is one field of :class:`EvalSettings` (with its description): config
files, ``RunSpec``/``spec.json`` and the resume check see it from there. Then give it a flag in
``cli/eval_cmd.py`` and use it where episodes are built.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError

from indievalue.benchmark.episodes import (
    MAX_DEMOS,
    DemographicsMode,
    EpisodeSet,
    Protocol,
    build_episodes,
)
from indievalue.benchmark.evalset import (
    EvalSet,
    read_eval_ids,
    select_eval_set,
)
from indievalue.benchmark.setups import probe_setups
from indievalue.catalog.spec import Form
from indievalue.catalog.store import Catalog
from indievalue.errors import IndieValueError


class EvalSettings(BaseModel):
    """Everything besides the catalog and the eval set that determines a run's records."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    predictor: str = Field(description="Registered predictor name (`indievalue predictors`).")
    predictor_options: dict[str, Any] = Field(
        default_factory=dict, validation_alias=AliasChoices("predictor_options", "options"),
        description="Predictor options; validated by the predictor's typed options (a run "
        "spec records them validated, every default filled in). `options` in config files.")
    protocol: Protocol = Field(
        default="A",
        description="A: all probes of a setup in one episode; B: one probe per episode.")
    demos: int = Field(default=200, ge=0, le=MAX_DEMOS,
                       description=f"Demonstrations per episode (0-{MAX_DEMOS}).")
    demo_form: Form = Field(default="polar", description="Form of the demonstrations.")
    probe_form: Form = Field(default="polar", description="Form of the probe options.")
    demographics: DemographicsMode = Field(
        default="off", description="Demographic statements: none, before the demonstrations, or "
        "instead of them.")
    demo_category: str | None = Field(
        default=None, description="Category key restricting demonstrations, or None for all.")
    train_continent: str | None = Field(
        default=None, description="Continent the training pool is restricted to, or None.")
    seed: int = Field(default=0,
                      description="Seed of the eval-set draw, demonstrations and predictor.")

    def settings(self) -> dict[str, Any]:
        """The :class:`EvalSettings` fields of this object, by name."""
        return {name: getattr(self, name) for name in EvalSettings.model_fields}


class EvalConfig(EvalSettings):
    """What to evaluate: the settings plus the choice of eval set."""

    eval_size: int | None = Field(
        default=None, ge=1, description="Size of the drawn eval set, None for the catalog "
        "spec's (800 for WVS-7); ignored with eval_ids_file.")
    eval_ids_file: Path | None = Field(
        default=None, description="File of eval person ids, one per line, instead of a drawn set.")

    def replace(self, **changes: Any) -> EvalConfig:
        """A validated copy with ``changes`` (``model_copy`` would not validate them)."""
        return type(self).model_validate({**self.model_dump(), **changes})


#: Keys a config file may hold besides the field names.
FILE_ALIASES = {"options": "predictor_options", "form": "demo_form and probe_form"}


def read_config_file(path: Path) -> dict[str, Any]:
    """The mapping of a YAML config file, its keys checked (values are checked when the
    configuration is built). ``options`` stands for ``predictor_options`` and ``form`` for
    ``demo_form`` and ``probe_form`` together. Paths are relative to the current directory,
    as on the command line."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise IndieValueError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise IndieValueError(f"{path}: not a readable YAML file ({first})") from None
    if not isinstance(data, dict):
        raise IndieValueError(f"{path}: expected a mapping of settings")
    allowed = set(EvalConfig.model_fields) | set(FILE_ALIASES)
    unknown = sorted(str(k) for k in data if k not in allowed)
    if unknown:
        raise IndieValueError(f"{path}: unknown key(s) {', '.join(unknown)} "
                              f"(allowed: {', '.join(sorted(allowed))})")
    if "options" in data and "predictor_options" in data:
        raise IndieValueError(f"{path}: give options or predictor_options, not both")
    if isinstance(data.get("demographics"), bool):  # YAML 1.1 reads bare on / off as booleans
        data["demographics"] = "on" if data["demographics"] else "off"
    options = data.pop("options", data.pop("predictor_options", {}))
    if not isinstance(options, dict):
        raise IndieValueError(f"{path}: options: expected a mapping of predictor options")
    return {**data, "predictor_options": options}


def _expand_form(values: Mapping[str, Any]) -> dict[str, Any]:
    """``form`` sets both forms; an explicit ``demo_form``/``probe_form`` beside it wins."""
    out = {k: v for k, v in values.items() if k != "form"}
    if values.get("form") is not None:
        out.setdefault("demo_form", values["form"])
        out.setdefault("probe_form", values["form"])
    return out


def make_config(flags: Mapping[str, Any], file: Path | None = None) -> EvalConfig:
    """The configuration of ``file`` (a YAML config file, optional) with ``flags`` on top.

    ``flags`` maps field names (and ``form``) to command-line values; None means "not given"
    and leaves the file's value (or the default) alone. ``predictor_options`` merge key by key,
    the flags' winning. Invalid values raise one line naming the flag or the file.
    """
    from_file = _expand_form(read_config_file(file)) if file is not None else {}
    given = _expand_form({k: v for k, v in flags.items() if v is not None})
    merged = {**from_file, **given}
    merged["predictor_options"] = {**from_file.get("predictor_options", {}),
                                   **given.get("predictor_options", {})}
    if not merged.get("predictor"):
        raise IndieValueError("give --predictor (or `predictor:` in --config)")
    try:
        return EvalConfig.model_validate(merged)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]) if first["loc"] else "config"
        where = f"--{name.replace('_', '-')}" if name in given or file is None \
            else f"{file}: {name}"
        raise IndieValueError(f"{where}: {first['msg']}") from None


def draw_eval_set(catalog: Catalog, config: EvalConfig) -> EvalSet:
    """The eval persons of ``config``: its ``eval_ids_file``, or a seeded draw of
    ``eval_size`` (every route to a run directory draws them here)."""
    if config.eval_ids_file:
        return read_eval_ids(config.eval_ids_file, catalog, config.seed)
    return select_eval_set(catalog, config.eval_size, config.seed)


def episode_sets(catalog: Catalog, person_ids: Any,
                 config: EvalSettings) -> list[EpisodeSet]:
    """One episode set per probe setup for ``person_ids`` under ``config``'s settings."""
    return [build_episodes(catalog, person_ids, s, protocol=config.protocol,
                           demos=config.demos, demo_form=config.demo_form,
                           probe_form=config.probe_form, demographics=config.demographics,
                           demo_category=config.demo_category, seed=config.seed)
            for s in probe_setups(catalog.spec)]
