"""``indievalue report``: one Markdown and one self-contained HTML report over run directories.

The report reads only run directories (spec.json, summary.json, records.jsonl). Output::

    OUT/report.md      figures linked from OUT/figures/, tables from OUT/tables/
    OUT/report.html    the same content, figures embedded as base64 PNG
    OUT/figures/*.png
    OUT/tables/*.csv
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from indievalue import __version__
from indievalue.errors import IndieValueError
from indievalue.fsutil import atomic_write_bytes, atomic_write_text
from indievalue.report import tables as tb
from indievalue.report.document import (
    Block,
    Details,
    Document,
    Image,
    Section,
    Table,
    Text,
    to_html,
    to_markdown,
)
from indievalue.report.groups import GroupStat, group_accuracy
from indievalue.report.plots import ReliabilityPoint, form_comparison, heatmap, lines, reliability
from indievalue.report.runs import Run, load_run, load_runs
from indievalue.report.style import png_bytes

FIGURES = ("comparison", "categories", "sigma", "groups", "reliability", "sweep")
TABLES = ("comparison", "categories", "sigma", "groups", "lm", "probability", "sweep", "runs")
SYNTHETIC_NOTE = ("at least one run used a generated population, not real survey responses; "
                  "its numbers say nothing about real people.")


@dataclass(frozen=True)
class ReportFiles:
    markdown: Path
    html: Path
    figures: list[Path]
    tables: list[Path]
    synthetic: bool
    #: One line per incomplete run: ``PARTIAL: n of N expected records (NAME)``.
    partial: list[str] = field(default_factory=list)


def _focus(runs: Sequence[Run], focus: str | Path | None) -> Run:
    if focus is None:
        return runs[0]
    want = Path(focus).resolve()
    for r in runs:
        if r.path.resolve() == want:
            return r
    raise IndieValueError(f"--focus {focus}: not one of the report's run directories")


def build_document(runs: Sequence[Run], focus: Run, title: str,
                   real_note: str | None = None) -> tuple[Document, dict[str, tb.Built]]:
    """The report's content; also returns the tables to write as CSV (by file stem).
    ``real_note``: the source and citation of real survey data (the REAL banner)."""
    csvs: dict[str, tb.Built] = {}
    synthetic = any(r.synthetic for r in runs)
    intro: list[Block] = [Text(
        f"{len(runs)} run(s); generated {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC by "
        f"indievalue {__version__} from run directories only (records, spec, summary).")]
    sections = []

    # Table 3: the comparison
    rows = tb.comparison_rows(runs)
    comp = tb.comparison_table(rows)
    csvs["comparison"] = comp
    fig = form_comparison([(r.name, r.by_form) for r in rows],
                          title="Overall accuracy by probe form")
    sections.append(Section("comparison", "Comparison (Table 3 style)", [
        comp.table,
        Image("comparison", png_bytes(fig), "Overall accuracy per predictor and probe form; "
              "error bars: 95% bootstrap interval over persons."),
    ]))

    # Figure 2: per-category heatmap
    cats, values, names = tb.matrix_table(
        runs, lambda s: s.per_category, lambda s: s.overall, "Overall", "category",
        "tables/categories.csv",
        "Accuracy (%) per question category (mean over persons and setups of the share "
        "correct among the category's 3 probes).")
    csvs["categories"] = cats
    fig = heatmap(values, names, [r.name for r in runs], title="Accuracy (%) by category",
                  colorbar_label="accuracy (%)", separate_last_row=True)
    sections.append(Section("categories", "Accuracy by question category (Figure 2)", [
        Image("categories", png_bytes(fig), "Per-category accuracy of each run (columns); "
              "last row: overall accuracy."),
        cats.table,
    ]))

    # Table 15 and Figure 9: fairness
    sig, values, names = tb.matrix_table(
        runs, lambda s: s.sigma_by_dimension, lambda s: s.sigma_inequity, "σ_INEQUITY (mean)",
        "dimension", "tables/sigma.csv", "σ per dimension: sample standard deviation "
        "(ddof=1) of the dimension's group accuracies; σ_INEQUITY is their mean. Lower is "
        "more equitable.")
    csvs["sigma"] = sig
    fairness: list[Block] = [sig.table]
    if any(r.summary.sigma_by_dimension for r in runs):
        fig = heatmap(values, names, [r.name for r in runs],
                      title="σ of group accuracies by demographic dimension",
                      colorbar_label="σ (percentage points)", fmt="{:.2f}",
                      separate_last_row=True)
        fairness.insert(0, Image("sigma", png_bytes(fig), "Value Inequity Index by dimension "
                                 "(grey: fewer than two groups among the eval persons)."))
    groups = focus.summary.groups
    if any(groups.values()):
        stats = {d: [GroupStat(g, s.accuracy, s.n) for g, s in gs.items()]
                 for d, gs in groups.items()}
        fig = group_accuracy(stats, focus.summary.sigma_by_dimension, focus.summary.overall,
                             title=f"{focus.name}")
        fairness += [
            Image("groups", png_bytes(fig), f"Group accuracy per dimension for {focus.name}; "
                  "bars start at the run's overall accuracy (choose the run with --focus)."),
            tb.extremes_table(focus),
        ]
        csvs["groups"] = tb.Built(Table([], []), tb.groups_frame(runs))
    sections.append(Section("fairness", "Equity across groups (Table 15, Figure 9)", fairness))

    # LM health, calibration, cluster-size sweep
    lm = tb.lm_table(runs)
    if lm is not None:
        csvs["lm"] = lm
    sections.append(Section("lm", "Parse failures and response cache", [
        lm.table if lm is not None else
        Text("No run recorded parse failures, errors or response-cache statistics.")]))
    prob = tb.probability_table(runs)
    if prob is not None:
        csvs["probability"] = prob
        series = [(r.name, [ReliabilityPoint(b.confidence, b.accuracy, b.n)
                            for b in r.summary.probability.reliability])
                  for r in runs if r.summary.probability is not None]
        fig = reliability(series, title="Reliability of predicted probabilities")
        sections.append(Section("calibration", "Calibration", [
            prob.table, Image("reliability", png_bytes(fig),
                              "Reliability diagram: accuracy of the chosen option against its "
                              "predicted probability (10 bins); marker area: the bin's share of "
                              "probes.")]))
    sweep = tb.sweep_table(runs)
    if sweep is not None:
        csvs["sweep"] = sweep
        series2 = [(r.name, {int(k): v for k, v in r.summary.sweep.items()})
                   for r in runs if r.summary.sweep]
        fig = lines(series2, title="Resemble: accuracy by cluster size", xlabel="cluster size N",
                    ylabel="accuracy (%)")
        sections.append(Section("sweep", "Cluster-size sweep (Table 20)", [
            sweep.table, Image("sweep", png_bytes(fig), "Accuracy for every cluster size "
                               "recorded by the run; star: best N.")]))

    # Runs and provenance
    listing = tb.runs_table(runs)
    csvs["runs"] = listing
    sections.append(Section("runs", "Runs and provenance", [
        listing.table,
        *(Details(r.name, [tb.provenance_table(r)]) for r in runs),
    ]))
    banner = SYNTHETIC_NOTE if synthetic else real_note
    return Document(title, banner, intro, sections, warnings=partial_notes(runs),
                    label="SYNTHETIC" if synthetic else "REAL"), csvs


def partial_notes(runs: Sequence[Run]) -> list[str]:
    """A warning for each incomplete run, starting ``PARTIAL: n of N expected records``."""
    return [f"{r.partial} in run {r.name}: its numbers cover only the records written so far "
            "(rerun `indievalue evaluate` with the same options to finish it)."
            for r in runs if r.partial]


def build_report(run_dirs: Sequence[str | Path], out: str | Path,
                 focus: str | Path | None = None,
                 title: str = "indievalue report",
                 real_note: str | None = None,
                 runs: Sequence[Run] | None = None) -> ReportFiles:
    """Write report.md, report.html, figures/ and tables/ under ``out``. ``runs``: the
    directories already loaded with :func:`load_runs` (their records are then not read
    again)."""
    runs = load_runs(run_dirs) if runs is None else runs
    chosen = _focus(runs, focus)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise IndieValueError(f"--out {out}: exists and is not a directory")
    doc, csvs = build_document(runs, chosen, title, real_note)
    fig_dir, tab_dir = out / "figures", out / "tables"
    fig_dir.mkdir(parents=True, exist_ok=True)
    tab_dir.mkdir(parents=True, exist_ok=True)
    figures = []
    for img in doc.images():
        path = fig_dir / f"{img.stem}.png"
        atomic_write_bytes(path, img.png)
        figures.append(path)
    for stem in FIGURES:  # drop figures of an earlier report that this one does not have
        stale = fig_dir / f"{stem}.png"
        if stale not in figures and stale.exists():
            stale.unlink()
    written = []
    for stem, built in csvs.items():
        path = tab_dir / f"{stem}.csv"
        atomic_write_text(path, built.frame.to_csv(index=False, float_format="%.4f"))
        written.append(path)
    for stem in TABLES:
        stale = tab_dir / f"{stem}.csv"
        if stale not in written and stale.exists():
            stale.unlink()
    md, page = out / "report.md", out / "report.html"
    atomic_write_text(md, to_markdown(doc))
    atomic_write_text(page, to_html(doc))
    return ReportFiles(md, page, figures, written, doc.label == "SYNTHETIC" and bool(doc.banner),
                       [f"{r.partial} ({r.name})" for r in runs if r.partial])


__all__ = ["ReportFiles", "build_document", "build_report", "load_run", "load_runs"]
