"""The survey-spec JSON Schema shipped as package data is the typed models' export, and every
spec the package ships (the built-in WVS-7 header, the real-data surveys) is a valid document."""

from __future__ import annotations

import json
from collections.abc import Callable
from importlib import resources
from typing import Any

import pytest
import yaml

from indievalue.catalog.spec_format import SCHEMA_FILE, SpecFileModel, json_schema_text
from indievalue.catalog.spec_io import load_spec
from indievalue.datasets import DATASETS


def shipped_schema() -> str:
    return (resources.files("indievalue.catalog") / "data" / SCHEMA_FILE).read_text("utf-8")


def test_the_shipped_schema_is_the_models_export() -> None:
    # Regenerate after changing catalog/spec_format.py:
    # python -c "from indievalue.catalog.spec_format import json_schema_text as t; print(t(), end='')" > src/indievalue/catalog/data/survey-spec.schema.json  # noqa: E501
    assert shipped_schema() == json_schema_text()


def test_the_schema_names_every_section_and_forbids_others() -> None:
    schema = json.loads(shipped_schema())
    assert schema["$schema"].endswith("2020-12/schema")
    assert set(schema["properties"]) == {"version", "survey", "categories", "protocol", "values",
                                         "demographics", "maps"}
    assert schema["required"] == ["version", "categories"]
    assert schema["additionalProperties"] is False
    for name in ("ValueBlockModel", "DemographicModel", "ProtocolModel", "SurveyModel"):
        assert schema["$defs"][name]["additionalProperties"] is False
        assert schema["$defs"][name]["description"]
    code = schema["$defs"]["ValueBlockModel"]["properties"]["polar"]["items"]["prefixItems"][0]
    assert {"type": "integer"} in code["items"]["anyOf"]  # a code, or a "lo..hi" range


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_shipped_survey_specs_are_valid_documents(name: str) -> None:
    ds = DATASETS[name]
    text = (resources.files("indievalue.datasets") / ds.spec_file).read_text("utf-8")
    doc = SpecFileModel.model_validate(yaml.safe_load(text))
    assert doc.survey is not None and doc.survey.name == name and doc.protocol is not None
    spec = ds.spec
    assert spec.survey is not None and spec.survey.persons == doc.survey.persons
    assert all(d.dimension for d in spec.demographics[:1])


def test_the_builtin_header_is_a_valid_document() -> None:
    text = (resources.files("indievalue.catalog") / "data" / "spec.yaml").read_text("utf-8")
    doc = SpecFileModel.model_validate(yaml.safe_load(text))
    assert doc.survey is None and doc.values is None  # its values live in values/*.yaml


def test_a_copy_of_the_builtin_spec_directory_loads_as_a_user_spec(tmp_path: Any) -> None:
    import shutil

    from indievalue.catalog.spec_io import builtin_spec

    src = resources.files("indievalue.catalog") / "data"
    with resources.as_file(src) as path:
        shutil.copytree(path, tmp_path / "wvs", ignore=shutil.ignore_patterns("*.json"))
    assert load_spec(tmp_path / "wvs").content_hash == builtin_spec().content_hash


def test_datasets_schema_command(cli: Callable[..., Any]) -> None:
    r = cli("datasets", "schema")
    assert r.code == 0 and json.loads(r.stdout) == json.loads(shipped_schema())
