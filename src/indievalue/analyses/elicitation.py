"""``indievalue analyze elicitation``: how many questions it takes to know a person.

For a seeded subset of the eval set, each of the protocol's probe setups and each form,
three question orders are simulated with the persons' recorded answers — **adaptive** (the
elicitation algorithm, :mod:`indievalue.elicit`), **static** (one questionnaire chosen
greedily on training persons) and **random** — over the questions a person may be asked (a
valid answer, not a probe of the setup). After k = 1 … K answers the predictor predicts the
setup's 39 probes from those answers alone; a person's accuracy at k is the mean over the
setups (PROTOCOL §4.1), and each curve is the mean over persons with a seeded bootstrap
interval.

The orders are the expensive part and are kept under ``OUT/orders/`` (one CSV per form,
setup and order); a rerun with the same settings reuses them, other settings are refused.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from indievalue.analyses.common import (
    EVAL_IDS,
    AnalysisResult,
    ProgressFactory,
    open_catalog,
    setups_text,
    write_outputs,
)
from indievalue.analyses.transfer import draw_subset
from indievalue.benchmark.episodes import Episodes, episode_key
from indievalue.benchmark.evalset import select_eval_set, training_rows, write_eval_ids
from indievalue.benchmark.setups import ProbeSetup, probe_setups
from indievalue.catalog.spec import FORMS, Form
from indievalue.catalog.store import Catalog
from indievalue.elicit.orders import (
    StepProgress,
    adaptive_orders,
    follow_order,
    random_orders,
    static_greedy_order,
)
from indievalue.elicit.scoring import CRITERIA, Criterion, Scorer, make_scorer
from indievalue.errors import IndieValueError
from indievalue.fsutil import atomic_write_text, write_json
from indievalue.metrics.accuracy import bootstrap_ci
from indievalue.predictors.base import Predictor, TrainingPool, make_predictor
from indievalue.report.document import Block, Table, Text
from indievalue.report.style import (
    BLUE,
    GREY,
    ORANGE,
    figure_function,
    new_figure,
    title,
    wrap,
)

POLICIES = ("adaptive", "static", "random")
POLICY_COLOURS = {"adaptive": BLUE, "static": ORANGE, "random": GREY}
REPORT_K = (1, 5, 10, 20, 30, 40, 60)
SUBSET_IDS = "elicitation_ids.txt"
SETTINGS = "elicitation_settings.json"
STREAM_STATIC = 42
MAX_K = 200


@dataclass(frozen=True)
class ElicitationResult(AnalysisResult):
    """Where the outputs went, and the per-person accuracy curves (policy, form) → (P, K)."""

    curves: Mapping[tuple[str, str], np.ndarray] | None = None


def _settings(cat: Catalog, predictor: Predictor, options: Mapping[str, Any], persons: int,
              k: int, forms: Sequence[Form], criterion: Criterion, static_persons: int,
              seed: int, eval_size: int | None) -> dict[str, Any]:
    return {"catalog_hash": cat.content_hash, "predictor": predictor.name,
            "options": {key: str(v) for key, v in sorted(options.items())},
            "persons": persons, "k": k, "forms": list(forms), "criterion": criterion,
            "static_persons": static_persons, "seed": seed, "eval_size": eval_size}


def _check_settings(out: Path, settings: dict[str, Any]) -> None:
    """Refuse an --out that holds an analysis with other settings (its stored orders would
    not fit)."""
    path = out / SETTINGS
    if path.is_file():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            old = None
        if old != settings:
            raise IndieValueError(f"{out}: holds an elicitation analysis with other settings "
                                  f"({SETTINGS}); choose another --out")


class OrderStore:
    """``OUT/orders/NAME.csv``: a row label (a person id), then the question ids asked in
    order. A stored file is reused when its labels are the ones asked for."""

    def __init__(self, out: Path, cat: Catalog):
        self.dir = out / "orders"
        self.qids = np.array([*cat.spec.qids, ""], dtype=object)  # index -1 -> ""
        self.index = {q: i for i, q in enumerate(cat.spec.qids)}

    def get(self, name: str, labels: np.ndarray, make: Callable[[], np.ndarray]) -> np.ndarray:
        path = self.dir / f"{name}.csv"
        if path.is_file():
            frame = pd.read_csv(path, keep_default_na=False, dtype=str)
            if frame["person_id"].astype(np.int64).tolist() == labels.tolist():
                cells = frame.drop(columns="person_id").to_numpy()
                return np.vectorize(lambda q: self.index.get(q, -1), otypes=[np.int64])(cells)
        order = make()
        frame = pd.DataFrame(self.qids[order], columns=[f"q{i + 1}" for i in
                                                        range(order.shape[1])])
        frame.insert(0, "person_id", labels)
        self.dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, frame.to_csv(index=False))
        return order


def probe_accuracy(predictor: Predictor, cat: Catalog, person_ids: np.ndarray,
                   setup: ProbeSetup, form: Form, order: np.ndarray) -> np.ndarray:
    """(P, K) each person's accuracy on the setup's probes after the first k = 1..K answers
    of ``order`` (P, K; -1 padded)."""
    rows = cat.rows(person_ids)
    truth = cat.matrix(form)[rows].astype(np.int64)
    n_p, k_max = order.shape
    probes = np.array([cat.spec.index(q) for q in setup.qids], dtype=np.int64)
    gold = truth[:, probes]
    answers = np.where(order >= 0, np.take_along_axis(truth, np.maximum(order, 0), 1), -1)
    out = np.zeros((n_p, k_max))
    batch = max(1, predictor.batch_size // k_max)
    for s in range(0, n_p, batch):
        sl = slice(s, s + batch)
        n = len(order[sl])
        keep = np.arange(k_max)[None, :] < np.arange(1, k_max + 1)[:, None]  # (K, K)
        dq = np.where(keep[None], order[sl][:, None, :], -1).reshape(n * k_max, k_max)
        da = np.where(dq >= 0, np.repeat(answers[sl], k_max, axis=0), -1)
        visible = np.full((len(dq), truth.shape[1]), -1, dtype=np.int8)
        r, c = np.nonzero(dq >= 0)
        visible[r, dq[r, c]] = da[r, c]
        pids = np.repeat(person_ids[sl], k_max)
        episodes = Episodes("A", setup.index, form, form, cat.spec, pids,
                            episode_key(pids, setup.index, 511),
                            np.broadcast_to(probes.astype(np.int16), (len(dq), len(probes)))
                            .copy(), dq.astype(np.int16), da.astype(np.int8), visible)
        choices = predictor.predict(episodes).choices.reshape(n, k_max, len(probes))
        out[sl] = (choices == gold[sl][:, None, :]).mean(axis=2)
    return out


def elicitation_analysis(
    catalog: Catalog | str | Path,
    out: str | Path,
    *,
    predictor: str = "value-model",
    options: Mapping[str, Any] | None = None,
    persons: int = 100,
    k: int = 60,
    forms: Sequence[Form] = FORMS,
    criterion: Criterion = "information",
    static_persons: int = 200,
    seed: int = 0,
    eval_size: int | None = None,
    threads: int = 1,
    progress: ProgressFactory | None = None,
) -> ElicitationResult:
    """Simulate the three orders (reusing stored ones) and write elicitation.png / .md /
    CSVs under ``out`` (see the module docstring)."""
    if not 1 <= k <= MAX_K:
        raise IndieValueError(f"--max-k must be within 1..{MAX_K}")
    if criterion not in CRITERIA:
        raise IndieValueError(f"--criterion must be one of {', '.join(CRITERIA)}")
    if static_persons < 1:
        raise IndieValueError("--static-persons must be at least 1")
    cat = open_catalog(catalog)
    out = Path(out)
    options = dict(options or {})
    pred = make_predictor(predictor, options, seed=seed)
    if not pred.gives_probabilities:
        raise IndieValueError(f"predictor {predictor} gives no probabilities; the elicitation "
                              "needs one that does (e.g. value-model, resemble)")
    pred.check_catalog(cat)
    evalset = select_eval_set(cat, eval_size, seed)
    chosen = draw_subset(evalset.person_ids, persons, seed)
    settings = _settings(cat, pred, options, len(chosen), k, forms, criterion, static_persons,
                         seed, len(evalset.person_ids))
    _check_settings(out, settings)
    pool = training_rows(cat, evalset.person_ids)
    pred.fit(TrainingPool(cat, pool))  # a predictor that cannot fit leaves nothing behind
    out.mkdir(parents=True, exist_ok=True)
    write_eval_ids(out / EVAL_IDS, evalset.person_ids)
    write_eval_ids(out / SUBSET_IDS, chosen)
    write_json(out / SETTINGS, settings)
    scorer = make_scorer(pred, cat.spec, threads)
    store = OrderStore(out, cat)
    static_rows = np.sort(np.random.default_rng([seed, STREAM_STATIC]).choice(
        pool, min(static_persons, len(pool)), replace=False))
    sim = Simulation(cat, scorer, store, chosen, k, criterion, seed, progress)
    curves: dict[tuple[str, str], np.ndarray] = {}
    for form in forms:
        fixed = sim.static(form, static_rows)
        acc = {p: np.zeros((len(chosen), k)) for p in POLICIES}
        for setup in probe_setups(cat.spec):
            for policy, order in sim.orders(form, setup, fixed).items():
                acc[policy] += probe_accuracy(pred, cat, chosen, setup, form, order)
        for policy in POLICIES:
            curves[(policy, form)] = acc[policy] / len(probe_setups(cat.spec))
    return _write(cat, out, curves, chosen, k, scorer.describe(), criterion, static_rows,
                  seed)


@dataclass(frozen=True)
class Simulation:
    """Makes (or reads back) the three orders of one form and setup."""

    cat: Catalog
    scorer: Scorer
    store: OrderStore
    person_ids: np.ndarray
    k: int
    criterion: Criterion
    seed: int
    progress: ProgressFactory | None

    def _staged(self, label: str, work: Callable[[StepProgress | None], np.ndarray]
                ) -> np.ndarray:
        if self.progress is None:
            return work(None)
        with self.progress(label) as update:
            return work(update)

    def static(self, form: Form, rows: np.ndarray) -> np.ndarray:
        """The static questionnaire of ``form``, chosen on training ``rows``."""
        truth = self.cat.matrix(form)[rows].astype(np.int64)
        label = f"static order ({form}, {len(rows)} training persons)"
        return self.store.get(f"{form}-static", np.array([0]), lambda: self._staged(
            label, lambda tick: static_greedy_order(self.scorer, form, truth, self.k, tick)
        )[None, :])[0]

    def orders(self, form: Form, setup: ProbeSetup, fixed: np.ndarray
               ) -> dict[str, np.ndarray]:
        truth = self.cat.matrix(form)[self.cat.rows(self.person_ids)].astype(np.int64)
        allowed = truth >= 0
        allowed[:, [self.cat.spec.index(q) for q in setup.qids]] = False
        label = f"adaptive ({form}, setup {setup.index}, {len(truth)} persons)"
        adaptive = self.store.get(
            f"{form}-setup{setup.index}-adaptive", self.person_ids, lambda: self._staged(
                label, lambda tick: adaptive_orders(self.scorer, form, truth, allowed, self.k,
                                                    self.criterion, tick)))
        return {"adaptive": adaptive, "static": follow_order(fixed, allowed, self.k),
                "random": random_orders(allowed, self.k, self.seed,
                                        episode_key(self.person_ids, setup.index, 0))}


# -- outputs -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Point:
    mean: float
    lo: float
    hi: float


def summarise(values: np.ndarray, seed: int) -> Point:
    lo, hi = bootstrap_ci(values, seed=seed)
    return Point(float(values.mean() * 100), lo, hi)


def questions_to_match(adaptive: np.ndarray, level: float) -> int | None:
    """The fewest questions at which the adaptive mean curve reaches ``level`` (percent)."""
    reached = np.flatnonzero(adaptive.mean(axis=0) * 100 >= level)
    return int(reached[0]) + 1 if len(reached) else None


@figure_function
def curves_figure(points: Mapping[tuple[str, str], list[Point]], forms: Sequence[str],
                  k: int, *, heading: str) -> Figure:
    fig = new_figure(2.9)
    axes = fig.subplots(1, len(forms), squeeze=False)[0]
    xs = np.arange(1, k + 1)
    for ax, form in zip(axes, forms, strict=True):
        for policy in POLICIES:
            pts = points[(policy, form)]
            ax.fill_between(xs, [p.lo for p in pts], [p.hi for p in pts],
                            color=POLICY_COLOURS[policy], alpha=0.18, lw=0)
            ax.plot(xs, [p.mean for p in pts], color=POLICY_COLOURS[policy], lw=1.4,
                    label=policy)
        if k >= 40:  # the level the adaptive order should reach by k = 20
            level = points[("random", form)][39].mean
            ax.axhline(level, color=GREY, lw=0.7, ls=":")
            ax.annotate("random at k=40", (1.5, level), xytext=(0, 2),
                        textcoords="offset points", fontsize=6.5, color=GREY)
            ax.axvline(20, color=GREY, lw=0.7, ls=":")
        ax.set_xlabel("questions answered (k)")
        ax.set_ylabel(f"{form} probe accuracy (%)")
        ax.set_xlim(1, k)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.yaxis.grid(True, color="#E4E4E4", lw=0.6)
        ax.set_axisbelow(True)
        title(ax, f"{form} statements")
    axes[0].legend(loc="lower right")
    fig.suptitle(wrap(heading, 85), fontsize=9, fontweight="bold", x=0.01, ha="left")
    return fig


def _write(cat: Catalog, out: Path, curves: Mapping[tuple[str, str], np.ndarray],
           person_ids: np.ndarray, k: int, model: str, criterion: str,
           static_rows: np.ndarray, seed: int) -> ElicitationResult:
    forms = list(dict.fromkeys(f for _, f in curves))
    points = {key: [summarise(v[:, j], seed) for j in range(k)] for key, v in curves.items()}
    frame = pd.DataFrame([
        {"policy": p, "form": f, "k": j + 1, "mean": pt.mean, "lo": pt.lo, "hi": pt.hi,
         "persons": len(person_ids)}
        for (p, f), pts in points.items() for j, pt in enumerate(pts)])
    shown = [j for j in REPORT_K if j <= k]
    rows, summary = [], []
    for form in forms:
        for policy in POLICIES:
            rows.append([form, policy] + [
                f"{points[(policy, form)][j - 1].mean:.2f} "
                f"[{points[(policy, form)][j - 1].lo:.1f}, "
                f"{points[(policy, form)][j - 1].hi:.1f}]" for j in shown])
        summary.append(_targets(form, curves, points, k, seed))
    fig = curves_figure(points, forms, k, heading=f"Accuracy on held-out probes after k "
                        f"answered questions ({model}; {len(person_ids)} persons)")
    blocks: list[Block] = [
        Table(["form", "order"] + [f"k={j}" for j in shown], rows,
              numeric=[False, False] + [True] * len(shown), csv="elicitation.csv",
              caption="Probe accuracy (%) after k answers, mean over persons of the mean over "
              f"the {setups_text(cat.spec)}, with 95% bootstrap intervals over persons."),
        *([Text(" ".join(summary))] if any(summary) else []),
        Text(f"Adaptive: the next question maximises the expected gain in top-probability "
             f"({criterion}) over all unasked questions under the model's own predictive "
             f"distribution. Static: one order chosen greedily on {len(static_rows)} "
             "training persons. Random: a seeded permutation per person and setup. Persons: "
             f"`{SUBSET_IDS}`; orders: `orders/`."),
    ]
    result = write_outputs(out, "elicitation", "Active elicitation", fig,
                           "Accuracy on the held-out probes against the number of answered "
                           "questions; bands: 95% bootstrap intervals over persons.", blocks,
                           {"elicitation": frame}, cat.synthetic)
    return ElicitationResult(result.figure, result.markdown, result.tables, result.synthetic,
                             [], curves)


def _targets(form: str, curves: Mapping[tuple[str, str], np.ndarray],
             points: Mapping[tuple[str, str], list[Point]], k: int, seed: int) -> str:
    """A few sentences per form: the questions the adaptive order needs to match random at
    40, adaptive at 20 − random at 40, and adaptive − static at 10 and 20 (paired
    differences, bootstrap intervals over persons)."""
    parts = []
    if k >= 40:
        level = points[("random", form)][39].mean
        need = questions_to_match(curves[("adaptive", form)], level)
        parts.append(f"{form}: random order reaches {level:.2f} % after 40 questions; the "
                     f"adaptive order reaches that after "
                     + (f"{need} ({40 / need:.1f}× fewer)." if need else f"more than {k}."))
        diff = curves[("adaptive", form)][:, 19] - curves[("random", form)][:, 39]
        pt = summarise(diff, seed)
        parts.append(f"{form}: adaptive at k=20 − random at k=40: {pt.mean:+.2f} points "
                     f"[{pt.lo:+.2f}, {pt.hi:+.2f}].")
    for j in (10, 20):
        if j <= k:
            diff = curves[("adaptive", form)][:, j - 1] - curves[("static", form)][:, j - 1]
            pt = summarise(diff, seed)
            parts.append(f"{form}: adaptive − static at k={j}: {pt.mean:+.2f} points "
                         f"[{pt.lo:+.2f}, {pt.hi:+.2f}].")
    return " ".join(parts)
