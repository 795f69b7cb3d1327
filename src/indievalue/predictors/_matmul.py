"""Resemble's first ranking engine: similarities as float32 one-hot matrix products (BLAS).

Kept as the reference the popcount engine (:mod:`indievalue.predictors._popcount`) is tested
against and measured beside (``benchmarks/bench_protocol.py``), and as the engine on numpy < 2.0
(no ``numpy.bitwise_count``). Both give the same neighbours in the same order.
"""

from __future__ import annotations

import numpy as np

from indievalue.catalog.spec import Form, StatementSpec

CHUNK = 128  # episodes per similarity block: bounds memory at ~P x CHUNK x 16 bytes
FULL_TABLE_SHARE = 0.5  # above this share of statements, multiply on the whole pool table


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


class MatmulRanker:
    """The pool of one form as a transposed one-hot table; ranks batches of episodes."""

    def __init__(self, pool_matrix: np.ndarray, spec: StatementSpec, form: Form):
        self.spec, self.form = spec, form
        self.pool_mat = np.asfortranarray(pool_matrix)
        self.hot_t = one_hot_t(self.pool_mat, spec, form)
        self._rows_key: bytes | None = None
        self._rows_hot: np.ndarray | None = None

    def _statement_rows(self, rows: np.ndarray) -> np.ndarray:
        """``hot_t[rows]``, the last selection kept (consecutive chunks usually share it)."""
        if rows.all():
            return self.hot_t
        key = rows.tobytes()
        if self._rows_key != key or self._rows_hot is None:
            self._rows_key, self._rows_hot = key, self.hot_t[rows]
        return self._rows_hot

    def rank(self, person_ids: np.ndarray, ctx: np.ndarray, k: int) -> np.ndarray:
        """(E, k) pool indices of each episode's k most similar persons, best first."""
        # Episodes of one person differ only in hidden questions: compute the similarity on the
        # union of what they show once, then remove each episode's hidden matches. The result
        # equals the per-episode similarity exactly.
        persons, owner = np.unique(person_ids, return_inverse=True)
        union = np.full((len(persons), ctx.shape[1]), -1, dtype=np.int8)
        np.maximum.at(union, owner, ctx)
        spec, form, pool_mat = self.spec, self.form, self.pool_mat
        k = min(k, pool_mat.shape[0])
        out = np.empty((len(ctx), k), dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(spec.option_counts(form))])
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
            base = one_hot(union[owners], spec, form)[:, rows] @ self._statement_rows(rows)
            sim = base if len(owners) == len(eps) else base[col]  # (episodes in chunk, P)
            hidden_e, hidden_q = np.nonzero((union[owner[eps]] >= 0) & (ctx[eps] < 0))
            for j, q in zip(hidden_e, hidden_q, strict=True):
                sim[j] -= pool_mat[:, q] == union[owner[eps[j]], q]
            out[eps] = top_k_rows(sim, k)
        return out


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
