"""Unit names and the presets' composition (PROTOCOL §6.2-6.3, docs/design/training.md)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from indievalue.errors import IndieValueError
from indievalue.training.presets import PRESETS, get_preset
from indievalue.training.units import CONTINENTS, Unit, parse_unit, parse_units

DOC = Path(__file__).resolve().parents[2] / "docs" / "design" / "training.md"


@pytest.mark.parametrize("name", [
    "p200_r1_n200_full", "rmixed_p1_n100_full", "prand_r1_n50_full", "demo_p1_n400_full",
    "p50_p1_n3_probe", "r200_r1_n50_full_North-America", "demo_r1_n7_full_Oceania",
])
def test_unit_names_round_trip(name: str) -> None:
    assert parse_unit(name).name == name


def test_unit_fields() -> None:
    u = parse_unit("rmixed_p1_n100_full_South-America")
    assert (u.demo_form, u.probe_form, u.kind, u.n, u.continent) == \
        ("refined", "polar", "mixed", 100, "South America")
    assert u.count_range == (50, 200)
    assert parse_unit("prand_r1_n5_full").count_range == (100, 200)
    assert parse_unit("p75_r1_n5_full").count_range == (75, 75)
    demo = parse_unit("demo_r1_n5_full")
    assert demo.kind == "demographics" and demo.count_range == (0, 0)
    assert parse_unit("p1_p1_n1_full_europe").continent == "Europe"  # case-insensitive


@pytest.mark.parametrize("bad", ["p200_r2_n200_full", "x200_r1_n2_full", "p0_p1_n5_full",
                                 "p201_p1_n5_full", "p200_p1_n0_full", "p200_p1_n5_some",
                                 "p200_p1_n5_full_Atlantis", ""])
def test_bad_unit_names_are_one_line_errors(bad: str) -> None:
    with pytest.raises(IndieValueError):
        parse_unit(bad)


def test_parse_units_refuses_duplicates() -> None:
    assert len(parse_units("p200_p1_n5_full, r200_p1_n5_full")) == 2
    with pytest.raises(IndieValueError, match="twice"):
        parse_units("p200_p1_n5_full,p200_p1_n5_full")


def _four(count: str, n: int, tail: str = "") -> set[str]:
    return {f"{d}{count}_{p}1_n{n}_full{tail}" for d in "pr" for p in "pr"}


def test_presets_compose_as_documented() -> None:
    """The paper models' units and per-question totals (PROTOCOL §6.3 table, Table 17)."""
    names = {k: {u.name for u in p.units} for k, p in PRESETS.items()}
    assert names["pr-200-n800"] == _four("200", 200)
    assert names["pr-mixed-n800"] == _four("mixed", 200)
    assert names["pr-mix200-n800"] == _four("mixed", 100) | _four("200", 100)
    assert names["pr-mix200-n1600"] == _four("mixed", 200) | _four("200", 200)
    assert names["p-mixed-n800"] == {"pmixed_p1_n400_full", "rmixed_p1_n400_full"}
    assert names["r-mixed-n800"] == {"pmixed_r1_n400_full", "rmixed_r1_n400_full"}
    assert names["demogr-n800"] == {"demo_p1_n400_full", "demo_r1_n400_full"}
    assert names["demogr-stmts-n800"] == \
        {"demo_p1_n200_full", "demo_r1_n200_full"} | _four("200", 100)
    for d in (50, 100, 150):
        assert names[f"pr-{d}-n800"] == _four(str(d), 200)
    for n in (25, 50, 75):
        assert names[f"pr-mix200-n{8 * n}"] == _four("mixed", n) | _four("200", n)
    for cont in CONTINENTS:
        key = cont.lower().replace(" ", "-")
        assert names[f"continent-{key}-n200"] == _four("200", 50, "_" + cont.replace(" ", "-"))
    assert names["continent-all-n200"] == _four("200", 50)
    for name, preset in PRESETS.items():
        # every preset's name ends in its per-question total
        assert name.endswith(f"-n{preset.per_question}"), name
        assert preset.examples() == 253 * preset.per_question


def test_probe_forms_of_single_form_models() -> None:
    assert {u.probe_form for u in get_preset("p-mixed-n800").units} == {"polar"}
    assert {u.probe_form for u in get_preset("r-mixed-n800").units} == {"refined"}
    for preset in ("pr-200-n800", "pr-mix200-n1600", "demogr-stmts-n800"):
        units = get_preset(preset).units
        per_form = {f: sum(u.n for u in units if u.probe_form == f)
                    for f in ("polar", "refined")}
        assert per_form["polar"] == per_form["refined"]  # Table 17: half per probe form


def test_every_preset_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    for name, preset in PRESETS.items():
        row = next((ln for ln in text.splitlines() if ln.startswith(f"| `{name}`")), None)
        assert row is not None, f"{name} missing from {DOC.name}"
        assert re.search(rf"\|\s*{preset.per_question}\s*\|", row), name


def test_unknown_preset() -> None:
    with pytest.raises(IndieValueError, match="list-presets"):
        get_preset("pr-9000")


def test_unit_validation() -> None:
    with pytest.raises(IndieValueError):
        Unit("polar", "polar", "fixed", 5, count=0)
    with pytest.raises(IndieValueError):
        Unit("polar", "polar", "mixed", 0)
