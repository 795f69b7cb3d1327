"""The survey spec file format, as typed models: what a user writes to turn a person-level
survey into a catalog (docs/design/survey-specs.md explains it with examples).

The models check the *shape* of a spec file (keys, types, ranges) and export the JSON Schema
shipped as ``catalog/data/survey-spec.schema.json`` (``tests/catalog/test_survey_spec_schema.py``
keeps the file equal to the export). Whether the content hangs together (codes partition the
options, refined options nest in polar ones, the protocol fits the questions) is checked when
the expanded :class:`~indievalue.catalog.spec.StatementSpec` is built.

A spec is one YAML file with every section, or a directory with ``spec.yaml`` (the header:
``version``, ``survey``, ``categories``, ``protocol``), ``values/*.yaml`` (lists of value
blocks, read in file-name order), ``demographics.yaml`` (a list of demographic entries) and
``maps/*.tsv`` (code maps, ``code<TAB>name`` with a header line). The built-in WVS-7 spec is
such a directory.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints

SCHEMA_ID = "https://indievalue.invalid/survey-spec.schema.json"
SCHEMA_FILE = "survey-spec.schema.json"
RANGE_PATTERN = r"^-?[0-9]+\.\.-?[0-9]+$"

#: One survey code, or an inclusive range written ``"18..24"``.
CodeItem = StrictInt | Annotated[str, StringConstraints(pattern=RANGE_PATTERN)]
#: ``[codes, answer phrase]``: the codes selecting an option and the words filled into the
#: template's ``{answer}``.
OptionPair = tuple[Annotated[list[CodeItem], Field(min_length=1)], str]
Name = Annotated[str, StringConstraints(min_length=1)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SurveyModel(_Model):
    """Where the data come from. Required for every survey but the built-in WVS-7."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$",
                      description="Short identifier (lower case, digits, underscores).")
    title: Name = Field(description="One-line description of the survey.")
    id_column: Name = Field(description="Data column holding each respondent's integer id.")
    source: Name = Field(description="Where the data are published.")
    citation: Name = Field(description="How to cite the data.")
    licence: Name = Field(description="The data's licence or terms of use.")
    url: str | None = Field(None, description="A page about the data.")
    persons: int | None = Field(None, ge=1, description="Respondents in the published data "
                                "(shown in listings; the catalog counts the file's rows).")


class StrataModel(_Model):
    """Balance the eval set over the groups of one demographic entry."""

    entry: Name = Field(description="Demographic entry id whose groups are balanced.")
    take_all: list[str] = Field(default_factory=list, description="Groups whose eligible "
                                "persons all enter the final draw.")
    groups: list[str] | None = Field(None, description="Groups that get equal quotas, in draw "
                                     "order; default: every other group of the entry. A group "
                                     "is a name of the entry's code map, or an option's "
                                     "statement for an entry with options.")


class CapModel(_Model):
    """Thin large code groups of one demographic column inside each stratum."""

    column: Name = Field(description="Raw demographic column (read by some entry).")
    codes: list[StrictInt] = Field(min_length=1, description="Codes whose groups are capped.")
    per_group: int = Field(ge=1, description="Persons kept per code group at an eval set of "
                           "at_size persons (scaled with the size).")
    at_size: int = Field(ge=1, description="The eval-set size per_group refers to.")


class EvalSetModel(_Model):
    size: int = Field(ge=1, description="Evaluation persons drawn (--eval-size overrides).")
    min_valid_demographics: int = Field(0, ge=0, description="Valid demographic entries a "
                                        "person of a quota group needs.")
    strata: StrataModel | None = Field(None, description="Balancing; none: a plain draw.")
    cap: CapModel | None = Field(None, description="Capping of large code groups.")


class ProtocolModel(_Model):
    """How the benchmark uses the survey: probe setups, demonstrations, the eval set."""

    setups: int = Field(ge=1, le=4, description="Probe setups (each holds out its probes).")
    probes_per_category: int = Field(ge=1, description="Probes each setup takes from every "
                                     "category (setup k: positions k*n .. k*n+n-1, wrapping).")
    demos: int = Field(ge=1, le=200, description="Demonstrations per episode in the main "
                       "setting (at most the questions left after the probes are used).")
    demo_counts: list[Annotated[int, Field(ge=0, le=200)]] = Field(
        default_factory=list, description="Demonstration counts of the sweep (benchmarks, "
        "`analyze demos`).")
    min_valid_answers: int = Field(ge=0, description="Valid answers a person needs to be "
                                   "eligible for the eval set.")
    eval_set: EvalSetModel


class ValueBlockModel(_Model):
    """Consecutive value questions sharing one statement template."""

    ids: list[Name] = Field(min_length=1, description="Question ids = data column names.")
    category: Name = Field(description="Category key (from `categories`).")
    type: Name = Field(description="Item type, free text (e.g. mc_3, scale_6).")
    template: Name = Field(description="Statement with {answer} and, with subjects, {subject}.")
    polar_template: str | None = Field(None, description="Template of the polar form only.")
    refined_template: str | None = Field(None, description="Template of the refined form only.")
    subjects: list[str] | None = Field(None, description="Per question, filled into {subject}.")
    recode: dict[int, StrictInt] | None = Field(
        None, description="Survey value -> code used by the options (codes must lie in 0..16); "
        "values not listed count as missing. Absent: the values are the codes.")
    polar: list[OptionPair] = Field(min_length=2, description="Coarse options: "
                                    "[[codes], answer phrase].")
    refined: list[OptionPair] | None = Field(None, description="Fine options, each inside one "
                                             "polar option, in polar order; absent = polar.")


class DemographicModel(_Model):
    """A demographic variable and how a respondent's code becomes a statement."""

    id: Name = Field(description="Entry id (unique).")
    column: Name = Field(description="Data column read.")
    label: str = Field("", description="Short human label.")
    dimension: str | None = Field(None, description="Fairness dimension this entry defines "
                                  "(groups compared by σ_INEQUITY), if any.")
    template: Name = Field(description="Statement with {answer}.")
    options: list[OptionPair] | None = Field(None, description="[[codes], answer phrase] groups.")
    map: Name | dict[int, str] | None = Field(
        None, description="Code map instead of options: a name (from `maps` or maps/NAME.tsv) "
        "or an inline mapping code -> name.")


class SpecFileModel(_Model):
    """A survey spec: every section in one YAML file (or the header of a spec directory)."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="indievalue survey spec",
                              json_schema_extra={"$id": SCHEMA_ID})

    version: Name = Field(description="Version of the wording; bump it when a statement or "
                          "grouping changes (the content hash changes by itself).")
    survey: SurveyModel | None = None
    categories: list[tuple[Name, Name]] = Field(min_length=1, description="[key, name] pairs "
                                                "in benchmark order.")
    protocol: ProtocolModel | None = Field(None, description="Benchmark parameters; required "
                                           "with `survey` (WVS-7: the reference protocol).")
    values: list[ValueBlockModel] | None = Field(None, description="Value question blocks "
                                                 "(a spec directory: values/*.yaml).")
    demographics: list[DemographicModel] | None = Field(
        None, description="Demographic entries (a spec directory: demographics.yaml).")
    maps: dict[str, dict[int, str]] | None = Field(None, description="Named code maps (a spec "
                                                   "directory: maps/NAME.tsv).")


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a single-file spec, as shipped."""
    schema = SpecFileModel.model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


def json_schema_text() -> str:
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"
