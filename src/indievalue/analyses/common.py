"""What every analysis shares: the eval set on disk, creating (or resuming) its runs, and
writing one figure plus its table as Markdown and CSV."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from indievalue.benchmark.evalset import select_eval_set, write_eval_ids
from indievalue.catalog.store import Catalog
from indievalue.errors import IndieValueError
from indievalue.fsutil import atomic_write_bytes, atomic_write_text
from indievalue.metrics.accuracy import person_accuracy
from indievalue.predictors.base import make_predictor
from indievalue.report.document import Block, Document, Image, to_markdown
from indievalue.report.style import png_bytes
from indievalue.runs.config import EvalConfig
from indievalue.runs.evaluate import Progress, evaluate
from indievalue.runs.files import read_run

#: Given a label, a context manager yielding a progress callback (the CLI's progress bar).
ProgressFactory = Callable[[str], AbstractContextManager[Progress | None]]
EVAL_IDS = "eval_ids.txt"
SYNTHETIC_NOTE = ("the catalog was built from a generated population, not real survey "
                  "responses; these numbers say nothing about real people.")


@dataclass(frozen=True)
class AnalysisResult:
    """Where an analysis wrote its outputs."""

    figure: Path
    markdown: Path
    tables: list[Path]
    synthetic: bool
    runs: list[Path] = field(default_factory=list)


def setups_text(spec: Any) -> str:
    """"three probe setups" — how many setups the spec's protocol has, in words."""
    from indievalue.benchmark.setups import probe_setups

    n = len(probe_setups(spec))
    words = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five"}
    return "probe setup" if n == 1 else f"{words.get(n, str(n))} probe setups"


def open_catalog(catalog: Catalog | str | Path) -> Catalog:
    return catalog if isinstance(catalog, Catalog) else Catalog.load(catalog)


def eval_ids_file(cat: Catalog, out: Path, eval_size: int | None, seed: int) -> Path:
    """Draw the eval set (deterministic in the seed) and write it to ``out/eval_ids.txt``."""
    ids = select_eval_set(cat, eval_size, seed).person_ids  # before anything is created
    out.mkdir(parents=True, exist_ok=True)
    path = out / EVAL_IDS
    write_eval_ids(path, ids)
    return path


@dataclass
class Runner:
    """Creates the runs of one analysis under ``out/runs``; an existing run directory with the
    same spec is resumed (finished ones cost nothing), a different spec is refused."""

    catalog: Catalog
    predictor: str
    options: Mapping[str, Any]
    out: Path
    progress: ProgressFactory | None = None

    def __post_init__(self) -> None:
        # Resolve and validate the predictor before any run starts.
        self.describe = make_predictor(self.predictor, self.options).describe()

    def config(self, **settings: Any) -> EvalConfig:
        """A run of the analysis's predictor (and options) with ``settings``."""
        return EvalConfig(predictor=self.predictor, predictor_options=dict(self.options),
                          **settings)

    def run(self, name: str, config: EvalConfig, label: str) -> Path:
        run_dir = self.out / "runs" / name
        ctx = self.progress(label) if self.progress else nullcontext(None)
        with ctx as update:
            evaluate(self.catalog, config, run_dir, label=label, progress=update)
        return run_dir


@dataclass(frozen=True)
class Setup:
    """What every run-making analysis starts from."""

    catalog: Catalog
    out: Path
    runner: Runner
    eval_ids: Path


def start(catalog: Catalog | str | Path, predictor: str, options: Mapping[str, Any] | None,
          out: str | Path, eval_size: int | None, seed: int,
          progress: ProgressFactory | None) -> Setup:
    """Open the catalog, validate the predictor and write the eval set under ``out``."""
    cat = open_catalog(catalog)
    out = Path(out)
    runner = Runner(cat, predictor, dict(options or {}), out, progress)
    return Setup(cat, out, runner, eval_ids_file(cat, out, eval_size, seed))


def person_scores(run_dir: Path) -> pd.Series:
    """acc(i) x 100 of every person of a run, indexed by person id."""
    return person_accuracy(read_run(run_dir).records) * 100


def parse_int_list(text: str, what: str, lo: int, hi: int) -> list[int]:
    """"0,50,100" → [0, 50, 100]; each within lo..hi, no repeats."""
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise IndieValueError(f"{what}: expected comma-separated integers, got {text!r}") \
            from None
    if not values:
        raise IndieValueError(f"{what}: give at least one value")
    bad = [v for v in values if not lo <= v <= hi]
    if bad:
        raise IndieValueError(f"{what}: {bad[0]} is outside {lo}..{hi}")
    if len(set(values)) != len(values):
        raise IndieValueError(f"{what}: a value appears twice")
    return values


def write_outputs(out: Path, stem: str, title: str, fig: Figure, caption: str,
                  blocks: list[Block], tables: Mapping[str, pd.DataFrame],
                  synthetic: bool) -> AnalysisResult:
    """``out/STEM.png``, ``out/STEM.md`` (figure, then ``blocks``) and one CSV per table."""
    out.mkdir(parents=True, exist_ok=True)
    png = out / f"{stem}.png"
    data = png_bytes(fig)
    atomic_write_bytes(png, data)
    csvs = []
    for name, frame in tables.items():
        path = out / f"{name}.csv"
        atomic_write_text(path, frame.to_csv(index=False, float_format="%.4f"))
        csvs.append(path)
    doc = Document(title, SYNTHETIC_NOTE if synthetic else None,
                   [Image(stem, data, caption), *blocks], [])
    md = out / f"{stem}.md"
    atomic_write_text(md, to_markdown(doc, figure_dir="."))
    return AnalysisResult(png, md, csvs, synthetic)
