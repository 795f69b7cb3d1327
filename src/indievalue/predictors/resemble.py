"""Resemble: predict what the most similar people of the training pool answered.

Similarity between an eval person and a pool person = number of questions the eval person's
episode shows on which both gave the same valid answer (a one-hot dot product, so missing
answers never match). The top ``top_k`` neighbours (ties broken by lower person id) vote on each
probe; missing votes count as a candidate that never wins a tie. Vote shares are the
probabilities. One pass also yields the votes of every cluster size 1..``sweep``.

Two engines compute the ranking, with the same neighbours in the same order: ``popcount``
(:mod:`indievalue.predictors._popcount`: answers as one-hot bit rows, similarity as the popcount
of their AND; the default, numpy >= 2.0) and ``matmul`` (:mod:`indievalue.predictors._matmul`:
float32 one-hot products; the reference, and the engine where numpy lacks ``bitwise_count``).

The ranked-neighbour memo (``_MEMO``) is process-wide state, kept on purpose: ranking is most of
Resemble's cost, and the main job runs top 24 and then top 1 on the same episodes, so top 1
reads the lists top 24 ranked instead of ranking again. What it holds, and why the order of
runs cannot change a record:

- Key: sha256 of the engine, the catalog's content hash, the pool rows, the demonstration form, the
  episodes' person ids and exactly what they show (the ``context`` answers); value: the (E, k)
  pool indices, best first. Least recently used entries go beyond ``MEMO_SIZE`` (64 lists of
  E x k int64, a few MB at most).
- The ranking is a total order (similarity descending, then lower person id), so the first k
  of a longer list are exactly the top-k list. A hit returns that prefix; a request for more
  neighbours than the entry holds ranks again and replaces it. Records are therefore the same
  in any run order and with or without the memo; only the time taken depends on the order.
- It is not locked: ``evaluate`` predicts from one thread. Two threads predicting with
  Resemble at once could race on it (a KeyError when one evicts the entry the other has just
  found); give each its own process. ``_MEMO.clear()`` empties it.

See docs/design/architecture.md ("State that outlives a call").
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import Literal

import numpy as np
from pydantic import Field

from indievalue.benchmark.episodes import Episodes
from indievalue.catalog.spec import Form
from indievalue.predictors._matmul import MatmulRanker
from indievalue.predictors._popcount import AVAILABLE, PoolBits, pack
from indievalue.predictors.base import (
    Predictions,
    Predictor,
    PredictorOptions,
    TrainingPool,
    empty_probs,
    pool_sample,
    register_predictor,
)

MEMO_SIZE = 64  # ranked lists kept: one per batch of episodes (E x k ints, < 100 KB each)
_MEMO: OrderedDict[str, np.ndarray] = OrderedDict()
Engine = Literal["popcount", "matmul"]


class ResembleOptions(PredictorOptions):
    top_k: int = Field(24, ge=1, le=500, description="Neighbours voting (1 = top 1).")
    pool: Literal["all"] | int = Field(
        "all", description="'all' or the size of a seeded sample of the training pool.")
    context: Literal["visible", "demos"] = Field(
        "visible", description="Compare on all non-probe answers shown ('visible', the paper's "
        "setting) or on the sampled demonstrations only ('demos').")
    sweep: int = Field(35, ge=0, le=500,
                       description="Also record votes for cluster sizes 1..sweep (0 = off).")


@register_predictor("resemble")
class ResemblePredictor(Predictor):
    Options = ResembleOptions
    gives_probabilities = True
    options: ResembleOptions
    #: How similarities are computed; both give the same neighbours in the same order (module
    #: docstring). Not an option: it changes the time taken, never a record or the run spec.
    engine: Engine = "popcount" if AVAILABLE else "matmul"

    def fit(self, pool: TrainingPool) -> ResemblePredictor:
        rows = pool.rows
        if self.options.pool != "all":
            size = int(self.options.pool)
            if size < 1 or size > len(rows):
                from indievalue.errors import IndieValueError

                raise IndieValueError(f"resemble: pool must be 1..{len(rows)} or 'all'")
            rows = pool_sample(rows, size, self.seed)
        ids = pool.catalog.person_ids[rows]
        rows = rows[np.argsort(ids, kind="stable")]  # index order = person-id order (ties)
        self._catalog = pool.catalog
        self._rows = rows
        self._ranker: tuple[str, Form, PoolBits | MatmulRanker] | None = None
        return self

    def _pool_ranker(self, form: Form) -> PoolBits | MatmulRanker:
        """The pool's table for ``form`` in this engine's layout: built once per form, not per
        batch (the last form's only)."""
        if self._ranker is None or self._ranker[:2] != (self.engine, form):
            mat = self._catalog.matrix(form)[self._rows]
            spec = self._catalog.spec
            ranker: PoolBits | MatmulRanker
            if self.engine == "popcount":
                counts = spec.option_counts(form)
                ranker = PoolBits(mat, _offsets(counts), int(counts.sum()))
            else:
                ranker = MatmulRanker(mat, spec, form)
            self._ranker = (self.engine, form, ranker)
        return self._ranker[2]

    def _context(self, episodes: Episodes) -> np.ndarray:
        if self.options.context == "visible":
            return episodes.visible
        ctx = np.full(episodes.visible.shape, -1, dtype=np.int8)
        e, j = np.nonzero(episodes.demo_qidx >= 0)
        ctx[e, episodes.demo_qidx[e, j]] = episodes.demo_answers[e, j]
        return ctx

    def neighbours(self, episodes: Episodes, k: int) -> np.ndarray:
        """(E, k) pool indices of each episode's k most similar persons, best first.

        Ranked lists are memoised per process (pool, form and exactly what the episodes show),
        so a top-1 run after a top-24 run on the same episodes reuses them.
        """
        ctx = self._context(episodes)
        key = hashlib.sha256(b"".join([
            self.engine.encode(), str(self._catalog.content_hash).encode(),
            self._rows.tobytes(),
            episodes.demo_form.encode(), episodes.person_ids.tobytes(), ctx.tobytes(),
        ])).hexdigest()
        hit = _MEMO.get(key)
        if hit is not None and hit.shape[1] >= min(k, len(self._rows)):
            _MEMO.move_to_end(key)
            return hit[:, :k]
        ranked = self._rank(episodes, ctx, k)
        _MEMO[key] = ranked
        while len(_MEMO) > MEMO_SIZE:
            _MEMO.popitem(last=False)
        return ranked

    def _rank(self, episodes: Episodes, ctx: np.ndarray, k: int) -> np.ndarray:
        ranker = self._pool_ranker(episodes.demo_form)
        if isinstance(ranker, MatmulRanker):
            return ranker.rank(episodes.person_ids, ctx, k)
        bits = pack(ctx, ranker.offsets, ranker.words)
        return ranker.top_k(bits, k)

    def predict(self, episodes: Episodes) -> Predictions:
        k_top = self.options.top_k
        k_max = max(k_top, self.options.sweep)
        nbrs = self.neighbours(episodes, k_max)
        answers = self._catalog.matrix(episodes.probe_form)
        # (E, k, m): the neighbours' answers to each probe, read through their catalog rows
        labels = answers[self._rows[nbrs][:, :, None], episodes.probe_qidx[:, None, :]]
        n_opt_max = int(episodes.spec.option_counts(episodes.probe_form).max())
        hits = labels[..., None] == np.arange(n_opt_max)  # (E, k, m, K)
        cum = np.cumsum(hits, axis=1, dtype=np.int16)  # votes of the first n neighbours
        missing = np.cumsum(labels < 0, axis=1, dtype=np.int16)  # (E, k, m)
        choice_all = _vote(cum, missing)  # (E, k, m)
        k_eff = min(k_top, nbrs.shape[1])
        choices = choice_all[:, k_eff - 1, :]
        votes = cum[:, k_eff - 1, :, :].astype(np.float32)
        totals = votes.sum(axis=-1, keepdims=True)
        shares = np.divide(votes, totals, out=np.zeros_like(votes), where=totals > 0)
        probs = empty_probs(episodes)
        inside = np.arange(probs.shape[-1])[None, None, :] < episodes.n_options[..., None]
        uniform = np.broadcast_to(1.0 / episodes.n_options[..., None], probs.shape)
        filled = np.where(totals > 0, shares, uniform)
        probs[inside] = filled[inside]
        extras = None
        if self.options.sweep:
            n = min(self.options.sweep, nbrs.shape[1])
            extras = {"sweep": np.moveaxis(choice_all[:, :n, :], 1, 2)}  # (E, m, n)
        # A winning "missing" vote is no answer: scored wrong, counted as an abstention.
        status = np.where(choices < 0, "abstain", "ok") if (choices < 0).any() else None
        return Predictions(choices, probs, status=status, probe_extras=extras)


def _offsets(counts: np.ndarray) -> np.ndarray:
    """First statement index of each question (statements numbered question by question)."""
    return np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)


def _vote(cum: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """Winner of each vote: most votes, lowest option index on ties, -1 if 'missing' wins."""
    best = cum.argmax(axis=-1)
    top = np.take_along_axis(cum, best[..., None], axis=-1)[..., 0]
    return np.where(missing > top, -1, best)
