"""Resemble: predict what the most similar people of the training pool answered.

Similarity between an eval person and a pool person = number of questions the eval person's
episode shows on which both gave the same valid answer (a one-hot dot product, so missing
answers never match). The top ``top_k`` neighbours (ties broken by lower person id) vote on each
probe; missing votes count as a candidate that never wins a tie. Vote shares are the
probabilities. One pass also yields the votes of every cluster size 1..``sweep``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from indievalue.benchmark.episodes import Episodes
from indievalue.catalog.spec import Form, StatementSpec
from indievalue.predictors.base import (
    Predictions,
    Predictor,
    PredictorOptions,
    TrainingPool,
    empty_probs,
    register_predictor,
)

STREAM_POOL = 11
CHUNK = 128  # eval persons per similarity block: bounds memory at ~P x CHUNK x 8 bytes


class ResembleOptions(PredictorOptions):
    top_k: int = Field(24, ge=1, le=500, description="Neighbours voting (1 = top 1).")
    pool: Literal["all"] | int = Field(
        "all", description="'all' or the size of a seeded sample of the training pool.")
    context: Literal["visible", "demos"] = Field(
        "visible", description="Compare on all non-probe answers shown ('visible', the paper's "
        "setting) or on the sampled demonstrations only ('demos').")
    sweep: int = Field(35, ge=0, le=500,
                       description="Also record votes for cluster sizes 1..sweep (0 = off).")


def one_hot(matrix: np.ndarray, spec: StatementSpec, form: Form) -> np.ndarray:
    """(N, S) float32 indicator of each answered statement; missing answers are all-zero."""
    counts = spec.option_counts(form)
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
    out = np.zeros((matrix.shape[0], int(counts.sum())), dtype=np.float32)
    r, q = np.nonzero(matrix >= 0)
    out[r, offsets[q] + matrix[r, q]] = 1.0
    return out


@register_predictor("resemble")
class ResemblePredictor(Predictor):
    Options = ResembleOptions
    gives_probabilities = True
    options: ResembleOptions

    def fit(self, pool: TrainingPool) -> ResemblePredictor:
        rows = pool.rows
        if self.options.pool != "all":
            size = int(self.options.pool)
            if size < 1 or size > len(rows):
                from indievalue.errors import IndieValueError

                raise IndieValueError(f"resemble: pool must be 1..{len(rows)} or 'all'")
            rng = np.random.default_rng([self.seed, STREAM_POOL])
            rows = rng.choice(rows, size, replace=False)
        ids = pool.catalog.person_ids[rows]
        rows = rows[np.argsort(ids, kind="stable")]  # index order = person-id order (ties)
        self._catalog = pool.catalog
        self._rows = rows
        self._hot: dict[Form, np.ndarray] = {}
        return self

    def _pool_hot(self, form: Form) -> np.ndarray:
        if form not in self._hot:
            self._hot.clear()  # keep one form's one-hot matrix at a time
            mat = self._catalog.matrix(form)[self._rows]
            self._hot[form] = one_hot(mat, self._catalog.spec, form)
        return self._hot[form]

    def _context(self, episodes: Episodes) -> np.ndarray:
        if self.options.context == "visible":
            return episodes.visible
        ctx = np.full(episodes.visible.shape, -1, dtype=np.int8)
        e, j = np.nonzero(episodes.demo_qidx >= 0)
        ctx[e, episodes.demo_qidx[e, j]] = episodes.demo_answers[e, j]
        return ctx

    def neighbours(self, episodes: Episodes, k: int) -> np.ndarray:
        """(E, k) pool indices of each episode's k most similar persons, best first."""
        ctx = self._context(episodes)
        # Episodes of one person differ only in hidden questions: compute the similarity on the
        # union of what they show once, then remove each episode's hidden matches. The result
        # equals the per-episode similarity exactly.
        persons, owner = np.unique(episodes.person_ids, return_inverse=True)
        union = np.full((len(persons), ctx.shape[1]), -1, dtype=np.int8)
        np.maximum.at(union, owner, ctx)
        demo_form = episodes.demo_form
        pool_hot = self._pool_hot(demo_form)
        pool_mat = self._catalog.matrix(demo_form)[self._rows]
        spec = episodes.spec
        n_pool = len(self._rows)
        k = min(k, n_pool)
        out = np.empty((len(ctx), k), dtype=np.int64)
        tie = np.arange(n_pool, dtype=np.float64)[:, None]
        order = np.argsort(owner, kind="stable")
        for start in range(0, len(order), CHUNK):
            eps = order[start : start + CHUNK]
            owners, col = np.unique(owner[eps], return_inverse=True)
            base = pool_hot @ one_hot(union[owners], spec, demo_form).T  # (P, owners)
            sim = base[:, col].astype(np.float64)  # (P, episodes in chunk)
            hidden_e, hidden_q = np.nonzero((union[owner[eps]] >= 0) & (ctx[eps] < 0))
            for j, q in zip(hidden_e, hidden_q, strict=True):
                sim[:, j] -= pool_mat[:, q] == union[owner[eps[j]], q]
            key = sim * 2.0**21 - tie  # higher similarity first, then lower person id
            top = np.argpartition(-key, k - 1, axis=0)[:k]  # (k, c)
            top_key = np.take_along_axis(key, top, axis=0)
            ranked = np.take_along_axis(top, np.argsort(-top_key, axis=0, kind="stable"), axis=0)
            out[eps] = ranked.T
        return out

    def predict(self, episodes: Episodes) -> Predictions:
        k_top = self.options.top_k
        k_max = max(k_top, self.options.sweep)
        nbrs = self.neighbours(episodes, k_max)
        probe_mat = self._catalog.matrix(episodes.probe_form)[self._rows]
        labels = probe_mat[nbrs[:, :, None], episodes.probe_qidx[:, None, :]]  # (E, k, m)
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
        return Predictions(choices, probs, probe_extras=extras)


def _vote(cum: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """Winner of each vote: most votes, lowest option index on ties, -1 if 'missing' wins."""
    best = cum.argmax(axis=-1)
    top = np.take_along_axis(cum, best[..., None], axis=-1)[..., 0]
    return np.where(missing > top, -1, best)
