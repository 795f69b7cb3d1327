"""Training units (PROTOCOL §6.2): demo form × probe form × demonstration count × N persons per
question, optionally restricted to the training persons of one continent.

A unit is named the reference way, ``<demo><count>_<probe>1_n<N>_<questions>[_<Continent>]``:
``p200_r1_n200_full`` (200 polar demonstrations, refined probe options, 200 persons per
question, all 253 questions), ``rmixed_p1_n100_full``, ``prand_p1_n50_full_Europe``, and
``demo_r1_n400_full`` for demographics-only demonstrations. Spaces in a continent become ``-``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from indievalue.catalog.spec import Form
from indievalue.errors import IndieValueError

CountKind = Literal["fixed", "mixed", "rand", "demographics"]
QuestionSet = Literal["full", "probe"]
MIXED_RANGE = (50, 200)  # `mixed`: a uniform integer in [50, 200] per visited person
RAND_RANGE = (100, 200)  # `rand`: a uniform integer in [100, 200]
MAX_DEMOS = 200
CONTINENTS = ("Africa", "Asia", "Europe", "North America", "Oceania", "South America")

_LETTER = {"polar": "p", "refined": "r"}
_FORM = {"p": "polar", "r": "refined"}
_NAME = re.compile(
    r"^(?:(?P<df>[pr])(?P<count>\d+|mixed|rand)|(?P<demo>demo))_(?P<pf>[pr])1_n(?P<n>\d+)"
    r"_(?P<qs>full|probe)(?:_(?P<cont>[A-Za-z][A-Za-z-]*))?$"
)


@dataclass(frozen=True)
class Unit:
    """One training unit: N persons per question, each giving one independent example."""

    demo_form: Form
    probe_form: Form
    kind: CountKind
    n: int
    count: int = 0  # the fixed demonstration count (kind "fixed")
    continent: str | None = None
    questions: QuestionSet = "full"

    def __post_init__(self) -> None:
        if self.n < 1:
            raise IndieValueError(f"unit {self.name}: N must be at least 1")
        if self.kind == "fixed" and not 1 <= self.count <= MAX_DEMOS:
            raise IndieValueError(f"unit {self.name}: the demonstration count must be within "
                                  f"1..{MAX_DEMOS}")
        if self.continent is not None and self.continent not in CONTINENTS:
            raise IndieValueError(f"unknown continent {self.continent!r}; use one of "
                                  + ", ".join(CONTINENTS))

    @property
    def name(self) -> str:
        if self.kind == "demographics":
            head = "demo"
        else:
            spec = str(self.count) if self.kind == "fixed" else self.kind
            head = _LETTER[self.demo_form] + spec
        tail = f"_{self.continent.replace(' ', '-')}" if self.continent else ""
        return f"{head}_{_LETTER[self.probe_form]}1_n{self.n}_{self.questions}{tail}"

    @property
    def count_range(self) -> tuple[int, int]:
        """Smallest and largest demonstration count a person can be drawn (0 for demographics)."""
        if self.kind == "fixed":
            return self.count, self.count
        if self.kind == "mixed":
            return MIXED_RANGE
        if self.kind == "rand":
            return RAND_RANGE
        return 0, 0

    def describe(self) -> str:
        demos = {"fixed": f"{self.count} {self.demo_form} demonstrations",
                 "mixed": f"{MIXED_RANGE[0]}-{MIXED_RANGE[1]} {self.demo_form} demonstrations",
                 "rand": f"{RAND_RANGE[0]}-{RAND_RANGE[1]} {self.demo_form} demonstrations",
                 "demographics": "demographic statements only"}[self.kind]
        where = f", {self.continent} persons only" if self.continent else ""
        qs = "" if self.questions == "full" else ", probe questions only"
        return f"{demos}, {self.probe_form} probe, {self.n} persons per question{where}{qs}"


def parse_unit(name: str) -> Unit:
    """The unit a reference-style name describes (inverse of :attr:`Unit.name`)."""
    m = _NAME.match(name.strip())
    if m is None:
        raise IndieValueError(
            f"not a unit name: {name!r} (expected e.g. p200_r1_n200_full, pmixed_p1_n100_full, "
            "prand_r1_n50_full_Europe or demo_p1_n400_full)")
    cont = m["cont"].replace("-", " ") if m["cont"] else None
    if cont is not None:
        known = {c.lower(): c for c in CONTINENTS}
        cont = known.get(cont.lower(), cont)
    probe_form: Form = "polar" if m["pf"] == "p" else "refined"
    n = int(m["n"])
    qs: QuestionSet = "full" if m["qs"] == "full" else "probe"
    if m["demo"]:
        return Unit(probe_form, probe_form, "demographics", n, continent=cont, questions=qs)
    demo_form: Form = "polar" if m["df"] == "p" else "refined"
    count = m["count"]
    if count in ("mixed", "rand"):
        kind: CountKind = "mixed" if count == "mixed" else "rand"
        return Unit(demo_form, probe_form, kind, n, continent=cont, questions=qs)
    return Unit(demo_form, probe_form, "fixed", n, count=int(count), continent=cont,
                questions=qs)


def parse_units(spec: str) -> tuple[Unit, ...]:
    """Comma-separated unit names; a unit may not appear twice."""
    units = tuple(parse_unit(part) for part in spec.split(",") if part.strip())
    if not units:
        raise IndieValueError("no units given")
    names = [u.name for u in units]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise IndieValueError(f"unit {dup[0]} appears twice (raise its N instead)")
    return units
