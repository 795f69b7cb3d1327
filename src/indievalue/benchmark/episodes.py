"""Episodes: what a predictor may see (demonstrations, visible answers, probe options) with the
gold answers kept apart.

Protocol A: one episode per person and setup; its demonstrations exclude all the setup's probes
and all probes share one draw. Protocol B: one episode per person and probe; demonstrations
exclude only that probe, with a fresh draw per episode.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from indievalue.benchmark.setups import ProbeSetup
from indievalue.catalog.spec import COUNTRY_ENTRY, Form, StatementSpec
from indievalue.catalog.store import Catalog, render_demonstration
from indievalue.errors import IndieValueError

Protocol = Literal["A", "B"]
DemographicsMode = Literal["off", "on", "only"]
MAX_DEMOS = 200
STREAM_DEMOS = 3


@dataclass(frozen=True)
class Episodes:
    """A batch of episodes of one setup. Row ``e`` is one episode.

    ``visible`` holds the person's answers (demo form) to every question that is not a probe of
    the episode (the demonstration pool), -1 elsewhere, and nothing at all when no
    demonstrations are given; ``demo_qidx``/``demo_answers`` are the sampled demonstrations in
    draw order (-1 padded). Nothing here reveals a probe's answer.
    """

    protocol: Protocol
    setup: int
    demo_form: Form
    probe_form: Form
    spec: StatementSpec = field(repr=False)
    person_ids: np.ndarray  # (E,) int64
    keys: np.ndarray  # (E,) int64, a stable id of each episode (for per-episode randomness)
    probe_qidx: np.ndarray  # (E, m) int16 question indices
    demo_qidx: np.ndarray  # (E, d) int16, -1 padded
    demo_answers: np.ndarray  # (E, d) int8 option index in demo_form, -1 padded
    visible: np.ndarray = field(repr=False)  # (E, Q) int8
    demographics: tuple[tuple[str, ...], ...] | None = None  # statements per episode

    def __len__(self) -> int:
        return len(self.person_ids)

    @property
    def n_options(self) -> np.ndarray:
        """(E, m) number of options of each probe in the probe form."""
        return self.spec.option_counts(self.probe_form)[self.probe_qidx]

    def subset(self, rows: np.ndarray) -> Episodes:
        return Episodes(
            self.protocol, self.setup, self.demo_form, self.probe_form, self.spec,
            self.person_ids[rows], self.keys[rows], self.probe_qidx[rows], self.demo_qidx[rows],
            self.demo_answers[rows], self.visible[rows],
            tuple(self.demographics[i] for i in rows) if self.demographics is not None else None,
        )

    def demonstration_lines(self, e: int) -> list[str]:
        """Rendered known statements of episode ``e``: demographics first, then the demos."""
        lines = [render_demonstration(s) for s in (self.demographics or ())[e]] \
            if self.demographics is not None else []
        for q, a in zip(self.demo_qidx[e], self.demo_answers[e], strict=True):
            if q < 0:
                break
            lines.append(render_demonstration(
                self.spec.questions[q].options(self.demo_form)[a].text))
        return lines

    def shown_codes(self, did: str = COUNTRY_ENTRY) -> np.ndarray | None:
        """(E,) the raw code of demographic entry ``did`` each episode's demographics show
        (-1 where none); None when no episode shows one. For an entry whose option groups
        several codes, the group's first code."""
        entry = next((d for d in self.spec.demographics if d.did == did), None)
        if self.demographics is None or entry is None:
            return None
        code_of: dict[str, int] = {}
        for code, text in entry.statement_table().items():
            code_of.setdefault(text, code)
        codes = np.array([next((code_of[s] for s in shown if s in code_of), -1)
                          for shown in self.demographics], dtype=np.int64)
        return codes if (codes >= 0).any() else None

    def option_texts(self, e: int, j: int) -> list[str]:
        """Raw statements of probe ``j`` of episode ``e`` (options are not capitalised)."""
        q = self.spec.questions[int(self.probe_qidx[e, j])]
        return [o.text for o in q.options(self.probe_form)]


@dataclass(frozen=True)
class EpisodeSet:
    """Episodes of one setup and their gold answers (kept out of what predictors receive)."""

    episodes: Episodes
    gold: np.ndarray  # (E, m) option index in probe_form


def episode_key(person_id: np.ndarray, setup: int, probe_q: np.ndarray | int) -> np.ndarray:
    return (np.asarray(person_id, dtype=np.int64) * 4 + setup) * 512 + np.asarray(probe_q)


def build_episodes(
    cat: Catalog,
    person_ids: np.ndarray,
    setup: ProbeSetup,
    *,
    protocol: Protocol = "A",
    demos: int = MAX_DEMOS,
    demo_form: Form = "polar",
    probe_form: Form = "polar",
    demographics: DemographicsMode = "off",
    demo_category: str | None = None,
    seed: int = 0,
) -> EpisodeSet:
    """Episodes of ``setup`` for ``person_ids`` (eval order). Deterministic in ``seed``.

    ``demo_category`` (a category key) restricts demonstrations and visible answers to the
    non-probe questions of that category (the category-transfer analysis).
    """
    if not 0 <= demos <= MAX_DEMOS:
        raise ValueError(f"demonstration count must be within 0..{MAX_DEMOS}")
    spec = cat.spec
    rows = cat.rows(person_ids)
    demo_mat = cat.matrix(demo_form)[rows]
    probe_mat = cat.matrix(probe_form)[rows]
    probes = np.array([spec.index(q) for q in setup.qids], dtype=np.int16)
    n_q = len(spec.questions)
    d = 0 if demographics == "only" else demos
    rng = np.random.default_rng([seed, STREAM_DEMOS, setup.index, 0 if protocol == "A" else 1])
    if protocol == "A":
        owner = np.arange(len(rows))
        probe_qidx = np.broadcast_to(probes, (len(rows), len(probes))).copy()
        hidden = np.zeros((len(rows), n_q), dtype=bool)
        hidden[:, probes] = True
        keys = episode_key(person_ids, setup.index, 511)
    else:
        owner = np.repeat(np.arange(len(rows)), len(probes))
        probe_qidx = np.tile(probes, len(rows))[:, None]
        hidden = np.zeros((len(owner), n_q), dtype=bool)
        hidden[np.arange(len(owner)), probe_qidx[:, 0]] = True
        keys = episode_key(np.asarray(person_ids)[owner], setup.index, probe_qidx[:, 0])
    if demo_category is not None:
        if demo_category not in {c.key for c in spec.categories}:
            raise IndieValueError(f"unknown category {demo_category!r}; use one of "
                                  + ", ".join(c.key for c in spec.categories))
        hidden[:, [q.category != demo_category for q in spec.questions]] = True
    visible = np.where(hidden, -1, demo_mat[owner]).astype(np.int8)
    if d == 0:
        visible[:] = -1  # nothing but (optionally) demographics may be seen
    # A uniform sample without replacement, in random order: sort random keys, with
    # ineligible questions pushed to the end.
    scores = rng.random(visible.shape)
    scores[visible < 0] = np.inf
    order = np.argsort(scores, axis=1, kind="stable")[:, :d].astype(np.int16)
    ok = np.take_along_axis(visible >= 0, order.astype(np.int64), axis=1)
    demo_qidx = np.where(ok, order, -1).astype(np.int16)
    demo_answers = np.where(
        ok, np.take_along_axis(visible, order.astype(np.int64), axis=1), -1).astype(np.int8)
    demo_statements = None
    if demographics != "off":
        per_person = [tuple(s for _, s in cat.demographic_statements(int(p))) for p in person_ids]
        demo_statements = tuple(per_person[i] for i in owner)
    gold = np.take_along_axis(probe_mat[owner], probe_qidx.astype(np.int64), axis=1)
    episodes = Episodes(
        protocol, setup.index, demo_form, probe_form, spec,
        np.asarray(person_ids, dtype=np.int64)[owner], keys, probe_qidx, demo_qidx,
        demo_answers, visible, demo_statements,
    )
    return EpisodeSet(episodes, gold.astype(np.int8))
