"""Exact top-k neighbours by counting equal answers with bit operations.

Each person's answers become a one-hot bit row: bit ``offsets[q] + a`` is set when the person
answered option ``a`` of question ``q`` (a missing answer sets no bit), packed into 64-bit words
(929 refined statements: 15 words). The similarity of two persons, the number of questions on
which both gave the same valid answer, is then ``sum(popcount(x & y))`` over the words: the same
integer as the dot product of their one-hot rows, at 1 bit instead of 32 per statement.

Ranking keeps each row's ``k`` largest similarities, best first, ties to the lower column index,
without sorting the whole row: the ``k``-th largest of the maxima of ``GROUPS`` disjoint column
groups is a lower bound of the row's ``k``-th largest value (``k`` groups reach it, each through a
different column), so only the columns at or above it are candidates (~45 per row for k = 35
on the WVS-7 pool). A histogram of their similarities gives the exact ``k``-th value ``t``; the
candidates above ``t`` and the lowest-indexed ones equal to ``t`` are the top ``k``, sorted by
(similarity descending, column ascending). When most columns tie (an episode that shows
nothing), the chunk is ranked row by row in linear time instead.

Needs ``numpy.bitwise_count`` (numpy >= 2.0); :data:`AVAILABLE` says whether it is there.

Measured on an AMD EPYC (Zen 4), numpy 2.4, one core: about 0.7 ns per word pair (the AND, the
popcount and the add are three passes of one ufunc each), so 2,400 episodes against 96,000 pool
persons cost ~1.5 s CPU in polar (9 words) and ~2.5 s in refined (15 words); the ranking adds a
few percent. Episode chunks run on all cores the process may use (numpy releases the GIL).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

AVAILABLE = hasattr(np, "bitwise_count")
WORD_BITS = 64
PACK_ROWS = 8192  # rows packed at a time (a bool block of 8192 x bits, a few MB)
EPISODES = 16  # episodes per similarity chunk (one thread's unit of work)
BLOCK = 8192  # pool persons per pass: the (EPISODES, BLOCK) uint64 scratch is 1 MiB
GROUPS = 1024  # column groups for the ranking's lower bound (>= the largest k, 500)
MANY_TIES = 8  # candidates per neighbour beyond which a chunk is ranked row by row
MAX_WORKERS = 8


def n_words(n_bits: int) -> int:
    return max(1, -(-n_bits // WORD_BITS))


def pack(matrix: np.ndarray, offsets: np.ndarray, words: int, pad_rows: int = 0) -> np.ndarray:
    """(N + pad_rows, words) uint64 one-hot bit rows of ``matrix`` ((N, Q) int8 option
    indices, -1 = missing); statement ``offsets[q] + a`` is bit ``offsets[q] + a``. Padding
    rows have no bit set."""
    n = matrix.shape[0]
    bits = words * WORD_BITS
    out = np.zeros((n + pad_rows, words * 8), dtype=np.uint8)
    for start in range(0, n, PACK_ROWS):
        block = matrix[start : start + PACK_ROWS]
        rows = len(block)
        # one set flag per answer; a missing answer sets a spare column past the last word
        column = np.where(block >= 0, offsets + block, bits)
        hot = np.zeros((rows, bits + 8), dtype=bool)
        hot.ravel()[column + (np.arange(rows, dtype=np.int64) * (bits + 8))[:, None]] = True
        out[start : start + rows] = np.packbits(hot, axis=1, bitorder="little")[:, : words * 8]
    return out.view(np.uint64)


def workers() -> int:
    """Threads for the similarity chunks: the cores this process may run on (at most 8)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(MAX_WORKERS, cores))


class PoolBits:
    """A pool's bit rows, word-major ((words, P') uint64, P' = P padded to a multiple of
    ``GROUPS`` with persons who answered nothing), ready for :meth:`top_k`."""

    def __init__(self, matrix: np.ndarray, offsets: np.ndarray, n_bits: int):
        self.n = matrix.shape[0]
        self.words = n_words(n_bits)
        padded = -(-self.n // GROUPS) * GROUPS
        self.table = np.ascontiguousarray(
            pack(matrix, offsets, self.words, padded - self.n).T)
        self.offsets = offsets
        # counts up to the number of questions: uint8 holds the WVS's 253
        self.dtype = np.uint8 if matrix.shape[1] <= 255 else np.uint16

    def similarity(self, bits: np.ndarray) -> np.ndarray:
        """(c, P') number of shared set bits of each row of ``bits`` ((c, words) uint64) with
        every pool person (padding columns: 0)."""
        c = bits.shape[0]
        width = self.table.shape[1]
        sim = np.zeros((c, width), dtype=self.dtype)
        block = min(BLOCK, width)
        both = np.empty((c, block), dtype=np.uint64)
        count = np.empty((c, block), dtype=np.uint8)
        used = [w for w in range(self.words) if bits[:, w].any()]  # an empty word adds 0
        for p0 in range(0, width, block):
            p1 = min(width, p0 + block)
            b, n = both[:, : p1 - p0], count[:, : p1 - p0]
            acc = sim[:, p0:p1]
            for w in used:
                np.bitwise_and(self.table[w, None, p0:p1], bits[:, w, None], out=b)
                np.bitwise_count(b, out=n)
                acc += n
        return sim

    def top_k(self, bits: np.ndarray, k: int) -> np.ndarray:
        """(E, k) pool indices of the k most similar persons of each row of ``bits`` ((E,
        words) uint64), best first, ties to the lower index. Chunks of rows run in threads."""
        k = min(k, self.n)
        starts = range(0, bits.shape[0], EPISODES)

        def chunk(start: int) -> np.ndarray:
            return top_k_rows(self.similarity(bits[start : start + EPISODES]), self.n, k)

        out = np.empty((bits.shape[0], k), dtype=np.int64)
        n_workers = min(workers(), len(starts))
        if n_workers <= 1:
            parts = map(chunk, starts)
            for start, part in zip(starts, parts, strict=True):
                out[start : start + len(part)] = part
            return out
        with ThreadPoolExecutor(n_workers) as pool:
            for start, part in zip(starts, pool.map(chunk, starts), strict=True):
                out[start : start + len(part)] = part
        return out


def top_k_rows(sim: np.ndarray, n: int, k: int) -> np.ndarray:
    """(c, k) column indices (< n) of each row's k largest values, best first; among equal
    values the lower index first. ``sim`` is (c, P') with P' a multiple of ``GROUPS`` and
    columns from ``n`` on all zero (k <= n)."""
    c, width = sim.shape
    if width >= GROUPS and width > 4 * k:
        # lower bound of each row's k-th largest value (module docstring)
        group_max = sim.reshape(c, width // GROUPS, GROUPS).max(axis=1)
        bound = np.partition(group_max, GROUPS - k, axis=1)[:, GROUPS - k]
    else:
        bound = np.partition(sim[:, :n], n - k, axis=1)[:, n - k]
    candidate = sim[:, :n] >= bound[:, None]
    if np.count_nonzero(candidate) > MANY_TIES * c * k:  # e.g. nothing shown: all columns tie
        return np.stack([_top_k_row(row, k) for row in sim[:, :n]])
    rows, cols = np.nonzero(candidate)  # row-major: columns ascending
    vals = sim[rows, cols].astype(np.int64)
    # Each row's k-th largest value t, from a histogram of its candidates (never a sort of
    # them all: with many equal similarities, e.g. nothing shown, every column is one).
    top = int(vals.max())
    hist = np.bincount(rows * (top + 1) + vals, minlength=c * (top + 1)).reshape(c, top + 1)
    at_least = np.cumsum(hist[:, ::-1], axis=1)[:, ::-1]  # [r, v]: candidates >= v
    t = (at_least >= k).sum(axis=1) - 1
    above = np.where(t < top, at_least[np.arange(c), np.minimum(t + 1, top)], 0)
    # all candidates above t, and the first k - above of those equal to t (lowest columns)
    tied = vals == t[rows]
    rank = np.cumsum(tied) - tied  # ties before this one, counted over all rows
    first = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=c))[:-1]])
    rank -= rank[first][rows]  # ... within its row
    keep = np.flatnonzero((vals > t[rows]) | (tied & (rank < (k - above)[rows])))
    # exactly k per row: order them by row, similarity descending, column ascending
    key = rows[keep] * (top + 1) + (top - vals[keep])
    order = keep[np.argsort(key, kind="stable")]
    return cols[order].reshape(c, k)


def _top_k_row(row: np.ndarray, k: int) -> np.ndarray:
    """:func:`top_k_rows` of one row, in time linear in its length however many values tie."""
    t = np.partition(row, len(row) - k)[len(row) - k]
    above = np.flatnonzero(row > t)  # fewer than k, all in
    chosen = np.concatenate([above, np.flatnonzero(row == t)[: k - len(above)]])
    return chosen[np.argsort(-row[chosen].astype(np.int64), kind="stable")]
