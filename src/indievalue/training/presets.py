"""Named training mixtures: the paper's IndieValueReasoner models (PROTOCOL §6.3).

A mixture is a union of units (:mod:`indievalue.training.units`); its per-question total is the
sum of the units' N. Provenance: [C] the unit list is spelled out in the reference code's model
names, [I] inferred from the paper's description (Table 17), [U] our choice where neither says.
docs/design/training.md explains each choice.
"""

from __future__ import annotations

from dataclasses import dataclass

from indievalue.errors import IndieValueError
from indievalue.training.units import CONTINENTS, Unit, parse_unit


@dataclass(frozen=True)
class Preset:
    """A named mixture of units."""

    name: str
    paper: str  # the paper's name for the model (or figure / table)
    units: tuple[Unit, ...]
    provenance: str  # [C], [I] or [U] with a short reason

    @property
    def per_question(self) -> int:
        """Examples per value question over all units."""
        return sum(u.n for u in self.units)

    def examples(self, n_questions: int = 253) -> int:
        return self.per_question * n_questions


def _units(*names: str) -> tuple[Unit, ...]:
    return tuple(parse_unit(n) for n in names)


def _four(count: str, n: int, continent: str | None = None) -> tuple[Unit, ...]:
    """The four (demo form × probe form) units with one count spec."""
    tail = f"_{continent.replace(' ', '-')}" if continent else ""
    return _units(*(f"{d}{count}_{p}1_n{n}_full{tail}" for p in "pr" for d in "pr"))


def _eight(n: int) -> tuple[Unit, ...]:
    """``all_mixed-all_200``: the four mixed units and the four fixed-200 units."""
    return _four("mixed", n) + _four("200", n)


def _build() -> dict[str, Preset]:
    presets = [
        Preset("p-mixed-n800", "[probe=p, demo=mixed, N=800]",
               _units("pmixed_p1_n400_full", "rmixed_p1_n400_full"),
               "[I] polar probes only; demonstrations split polar/refined as in the p+r models"),
        Preset("r-mixed-n800", "[probe=r, demo=mixed, N=800]",
               _units("pmixed_r1_n400_full", "rmixed_r1_n400_full"),
               "[I] refined probes only; demonstrations split polar/refined"),
        Preset("pr-200-n800", "[probe=p+r, demo=200, N=800]; Table 4 'Stmts 800'",
               _four("200", 200), "[C] model name p200_p1-r200_p1-p200_r1-r200_r1-n200_full"),
        Preset("pr-mixed-n800", "[probe=p+r, demo=mixed, N=800]", _four("mixed", 200),
               "[C] model name pmixed_p1-rmixed_p1-pmixed_r1-rmixed_r1-n200_full"),
        Preset("pr-mix200-n800", "[probe=p+r, demo=mixed+200, N=800]", _eight(100),
               "[I] all_mixed-all_200 at unit N=100 (Table 17: 200 per probe form x count)"),
        Preset("pr-mix200-n1600", "[probe=p+r, demo=mixed+200, N=1600] (best model)",
               _eight(200), "[I] all_mixed-all_200-n200"),
    ]
    for n_unit in (25, 50, 75):
        total = 8 * n_unit
        presets.append(Preset(
            f"pr-mix200-n{total}", f"Figure 5 left (data size {total} per question)",
            _eight(n_unit), f"[C] all_mixed-all_200-n{n_unit}"))
    for d in (50, 100, 150):
        presets.append(Preset(
            f"pr-{d}-n800", f"Figure 5 right (trained on {d} demonstrations)",
            _four(str(d), 200), f"[C] p{d}_p1-r{d}_p1-p{d}_r1-r{d}_r1-n200_full"))
    presets += [
        Preset("demogr-n800", "Table 4 'Demogr. 800' (demographics only)",
               _units("demo_p1_n400_full", "demo_r1_n400_full"),
               "[U] demographics-demo units, 400 per probe form"),
        Preset("demogr-stmts-n800", "Table 4 'Demogr. 400 + Stmts 400'",
               _units("demo_p1_n200_full", "demo_r1_n200_full") + _four("200", 100),
               "[U] 400 demographics examples + the four 200-demo units at N=100"),
    ]
    for cont in CONTINENTS:
        key = cont.lower().replace(" ", "-")
        presets.append(Preset(
            f"continent-{key}-n200", f"Figure 6 row '{cont}'", _four("200", 50, cont),
            f"[C] the four 200-demo units at N=50, {cont} training persons only"))
    presets.append(Preset("continent-all-n200", "Figure 6 row 'All'", _four("200", 50),
                          "[C] the four 200-demo units at N=50, unrestricted"))
    return {p.name: p for p in presets}


PRESETS: dict[str, Preset] = _build()


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise IndieValueError(f"unknown preset {name!r}; see `indievalue train-data "
                              "--list-presets`") from None
