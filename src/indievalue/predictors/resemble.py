"""Resemble: predict what the most similar people of the training pool answered.

Similarity between an eval person and a pool person = number of questions the eval person's
episode shows on which both gave the same valid answer (a one-hot dot product, so missing
answers never match). The top ``top_k`` neighbours (ties broken by lower person id) vote on each
probe; missing votes count as a candidate that never wins a tie. Vote shares are the
probabilities. One pass also yields the votes of every cluster size 1..``sweep``.

The ranked-neighbour memo (``_MEMO``) is process-wide state, kept on purpose: ranking is most of
Resemble's cost, and the main job runs top 24 and then top 1 on the same episodes, so top 1
reads the lists top 24 ranked instead of ranking again. What it holds, and why the order of
runs cannot change a record:

- Key: sha256 of the catalog's content hash, the pool rows, the demonstration form, the
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
MEMO_SIZE = 64  # ranked lists kept: one per batch of episodes (E x k ints, < 100 KB each)
_MEMO: OrderedDict[str, np.ndarray] = OrderedDict()
CHUNK = 128  # episodes per similarity block: bounds memory at ~P x CHUNK x 16 bytes
FULL_TABLE_SHARE = 0.5  # above this share of statements, multiply on the whole pool table


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


def one_hot_t(matrix: np.ndarray, spec: StatementSpec, form: Form) -> np.ndarray:
    """``one_hot(matrix).T`` as a C-contiguous (S, N) array, built one statement row at a
    time (fast for a large N; pass ``matrix`` column-major)."""
    counts = spec.option_counts(form)
    out = np.zeros((int(counts.sum()), matrix.shape[0]), dtype=np.float32)
    row = 0
    for q, n in enumerate(counts):
        column = matrix[:, q]
        for opt in range(int(n)):
            out[row + opt] = column == opt
        row += int(n)
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
        self._tables: dict[Form, tuple[np.ndarray, np.ndarray]] = {}
        self._rows_key: tuple[Form, bytes] | None = None
        self._rows_hot: np.ndarray | None = None
        return self

    def _pool_tables(self, form: Form) -> tuple[np.ndarray, np.ndarray]:
        """The pool's answers (column-major) and its transposed one-hot (S, P), for one form
        at a time: built once per form, not per batch."""
        if form not in self._tables:
            self._tables.clear()
            self._rows_key = self._rows_hot = None
            mat = np.asfortranarray(self._catalog.matrix(form)[self._rows])
            self._tables[form] = (mat, one_hot_t(mat, self._catalog.spec, form))
        return self._tables[form]

    def _statement_rows(self, form: Form, hot_t: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """``hot_t[rows]``, the last selection kept (consecutive chunks usually share it)."""
        if rows.all():
            return hot_t
        key = (form, rows.tobytes())
        if self._rows_key != key or self._rows_hot is None:
            self._rows_key, self._rows_hot = key, hot_t[rows]
        return self._rows_hot

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
            str(self._catalog.content_hash).encode(), self._rows.tobytes(),
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
        # Episodes of one person differ only in hidden questions: compute the similarity on the
        # union of what they show once, then remove each episode's hidden matches. The result
        # equals the per-episode similarity exactly.
        persons, owner = np.unique(episodes.person_ids, return_inverse=True)
        union = np.full((len(persons), ctx.shape[1]), -1, dtype=np.int8)
        np.maximum.at(union, owner, ctx)
        demo_form = episodes.demo_form
        pool_mat, pool_hot_t = self._pool_tables(demo_form)
        spec = episodes.spec
        n_pool = len(self._rows)
        k = min(k, n_pool)
        out = np.empty((len(ctx), k), dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(spec.option_counts(demo_form))])
        order = np.argsort(owner, kind="stable")
        for start in range(0, len(order), CHUNK):
            eps = order[start : start + CHUNK]
            owners, col = np.unique(owner[eps], return_inverse=True)
            # Only statements of questions some person of the chunk shows can match (protocol
            # A hides the setup's probes from everyone): multiply on those rows only, unless
            # they are most rows (then copying the pool table costs more than it saves).
            shown = (union[owners] >= 0).any(axis=0)
            rows = np.repeat(shown, np.diff(offsets))
            if rows.mean() > FULL_TABLE_SHARE:
                rows[:] = True
            # (owners, S') @ (S', P): one row per eval person, so the ranking below works on
            # contiguous rows. float32 sums of 0/1 up to 253 are exact.
            base = one_hot(union[owners], spec, demo_form)[:, rows] @ \
                self._statement_rows(demo_form, pool_hot_t, rows)
            sim = base if len(owners) == len(eps) else base[col]  # (episodes in chunk, P)
            hidden_e, hidden_q = np.nonzero((union[owner[eps]] >= 0) & (ctx[eps] < 0))
            for j, q in zip(hidden_e, hidden_q, strict=True):
                sim[j] -= pool_mat[:, q] == union[owner[eps[j]], q]
            out[eps] = top_k_rows(sim, k)
        return out

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


def top_k_rows(sim: np.ndarray, k: int) -> np.ndarray:
    """(c, k) column indices of each row's k largest values, best first; among equal values
    the lower index (= lower person id) first. Exact for any number of ties."""
    n = sim.shape[1]
    threshold = np.partition(sim, n - k, axis=1)[:, n - k]  # each row's k-th largest value
    out = np.empty((len(sim), k), dtype=np.int64)
    for i, row in enumerate(sim):
        above = np.flatnonzero(row > threshold[i])  # fewer than k, all in
        tied = np.flatnonzero(row == threshold[i])[: k - len(above)]  # lowest indices first
        chosen = np.concatenate([above, tied])
        out[i] = chosen[np.argsort(-row[chosen], kind="stable")]
    return out


def _vote(cum: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """Winner of each vote: most votes, lowest option index on ties, -1 if 'missing' wins."""
    best = cum.argmax(axis=-1)
    top = np.take_along_axis(cum, best[..., None], axis=-1)[..., 0]
    return np.where(missing > top, -1, best)
