"""Question orders for many persons at once: adaptive (the elicitation algorithm, simulated
with each person's recorded answers), one static order chosen greedily on training persons,
and random.

Every order is restricted, per person, to the questions that person may be asked
(``allowed``: a valid recorded answer, not a held-out probe), so the three orders differ only
in *which* of those questions come first.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from indievalue.catalog.spec import Form
from indievalue.elicit.scoring import CHUNK, Criterion, Scorer
from indievalue.elicit.select import score_step

#: Called after each step with (steps done, steps in all).
StepProgress = Callable[[int, int], None]
STREAM_RANDOM_ORDER = 41


def _answers_of(truth: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Each person's recorded answer (P, Q) at the questions of ``order`` (P, n; -1 kept)."""
    got = np.take_along_axis(truth, np.maximum(order, 0).astype(np.int64), axis=1)
    return np.where(order >= 0, got, -1).astype(np.int64)


def adaptive_orders(scorer: Scorer, form: Form, truth: np.ndarray, allowed: np.ndarray,
                    k: int, criterion: Criterion = "information",
                    progress: StepProgress | None = None) -> np.ndarray:
    """(P, k) the questions the elicitation algorithm asks each person, in order (-1 once no
    allowed question is left), answering each with the person's recorded answer ``truth``
    (P, Q) in ``form``. The targets are every question not yet asked (probes included: the
    algorithm does not know which questions will be scored)."""
    n_p, n_q = truth.shape
    order = np.full((n_p, k), -1, dtype=np.int64)
    asked = np.zeros((n_p, n_q), dtype=bool)
    for step in range(k):
        qidx = order[:, :step]
        step_result = score_step(scorer, form, qidx, _answers_of(truth, qidx),
                                 allowed & ~asked, ~asked, criterion)
        chosen = step_result.chosen
        order[:, step] = chosen
        asked[np.flatnonzero(chosen >= 0), chosen[chosen >= 0]] = True
        if progress is not None:
            progress(step + 1, k)
    return order


def random_orders(allowed: np.ndarray, k: int, seed: int, keys: np.ndarray) -> np.ndarray:
    """(P, k) a uniform random order of each person's allowed questions (-1 padded); person
    ``i``'s order depends only on ``seed`` and ``keys[i]``."""
    n_p = len(allowed)
    out = np.full((n_p, k), -1, dtype=np.int64)
    for i in range(n_p):
        rng = np.random.default_rng([seed, STREAM_RANDOM_ORDER, int(keys[i])])
        mine = rng.permutation(np.flatnonzero(allowed[i]))[:k]
        out[i, : len(mine)] = mine
    return out


def follow_order(order: np.ndarray, allowed: np.ndarray, k: int) -> np.ndarray:
    """(P, k) one fixed order (Q',) walked by every person, skipping what they may not be
    asked (-1 padded)."""
    n_p = len(allowed)
    out = np.full((n_p, k), -1, dtype=np.int64)
    for i in range(n_p):
        mine = order[allowed[i, order]][:k]
        out[i, : len(mine)] = mine
    return out


def static_greedy_order(scorer: Scorer, form: Form, truth: np.ndarray, k: int,
                        progress: StepProgress | None = None) -> np.ndarray:
    """(k,) the best static questionnaire for the persons whose recorded answers are
    ``truth`` (N, Q) (training persons), chosen greedily: at each step the question whose
    answers make the model's top predictions right on the most *other* recorded answers, as
    in the adaptive rule but counted on the persons' real answers instead of expected under
    the model (a person without an answer to a chosen question just lacks it). Ties go to
    the lower question index."""
    n_p, n_q = truth.shape
    chosen: list[int] = []
    for step in range(k):
        base_q = np.broadcast_to(np.asarray(chosen, dtype=np.int64), (n_p, len(chosen)))
        right_now = _right(scorer, form, truth, np.arange(n_p), base_q)  # (N, Q)
        rest = np.setdiff1d(np.arange(n_q), chosen)
        gain = np.zeros(len(rest))
        cand = np.repeat(rest, n_p)  # rows: (candidate, person)
        person = np.tile(np.arange(n_p), len(rest))
        for s in range(0, len(cand), CHUNK):
            c, p = cand[s : s + CHUNK], person[s : s + CHUNK]
            qidx = np.concatenate([base_q[p], c[:, None]], axis=1)
            after = _right(scorer, form, truth, p, qidx)
            # the same targets before and after: everything but the chosen and the candidate
            # (``after`` is False at the candidate, so its right-before is added back)
            changed = after.sum(axis=1) - right_now[p].sum(axis=1) + right_now[p, c]
            gain += np.bincount(np.searchsorted(rest, c), changed, minlength=len(rest))
        chosen.append(int(rest[int(gain.argmax())]))
        if progress is not None:
            progress(step + 1, k)
    return np.asarray(chosen, dtype=np.int64)


def _right(scorer: Scorer, form: Form, truth: np.ndarray, persons: np.ndarray,
           qidx: np.ndarray) -> np.ndarray:
    """(B, Q) whether the top prediction is each person's recorded answer, given their
    answers to ``qidx`` (B, n), at questions other than ``qidx`` (False there)."""
    out = np.zeros((len(persons), truth.shape[1]), dtype=bool)
    for s in range(0, len(persons), CHUNK):
        p, q = persons[s : s + CHUNK], qidx[s : s + CHUNK]
        answers = np.take_along_axis(truth[p], q, axis=1) if q.shape[1] else \
            np.zeros(q.shape, dtype=np.int64)
        q = np.where(answers >= 0, q, -1)
        right = scorer.top_is(form, q, answers, truth[p])
        np.put_along_axis(right, np.maximum(qidx[s : s + CHUNK], 0), False, axis=1)
        out[s : s + CHUNK] = right
    return out
