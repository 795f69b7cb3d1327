"""Choosing the next question: one-step expected improvement of the model's predictions of
every other unasked question, under the model's own predictive distribution.

For a person with answers S and target questions T (everything not yet asked), the model
predicts every target r with P(r | S). Asking a candidate q and hearing answer a would turn
that into P(r | S ∪ {q = a}); the answer is unknown, so every option a is weighed by
P(q = a | S). The criteria:

- ``information`` (the default): Σ_a P(q = a | S) Σ_{r ∈ T, r ≠ q} KL(P(r | S ∪ {q = a}) ‖
  P(r | S)) — how much the answer is expected to move the predictions (for a coherent
  Bayesian model, the mutual information between q and the rest, which is also the expected
  reduction of their log loss).
- ``accuracy``: the expected gain in Σ_{r ≠ q} max_b P(r = b | ·) — the expected number of
  additional right top predictions (expected error reduction).
- ``logloss``: the expected drop of Σ_{r ≠ q} H(P(r | ·)) — the expected log loss of the
  model's own predictions.

q itself is never counted: its own answer is not a prediction. The next question is the
candidate with the largest gain (the first on ties). All (person, q, a) hypotheses of a call
are scored in batches of :data:`~indievalue.elicit.scoring.CHUNK` answer sets through the
scorer. Why ``information`` is the default (the measured curves):
docs/design/elicitation.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from indievalue.catalog.spec import Form
from indievalue.elicit.scoring import CHUNK, Criterion, Scorer, question_values


@dataclass(frozen=True)
class Step:
    """The scored candidates of one step for P persons."""

    chosen: np.ndarray  # (P,) question to ask next, -1 where no candidate is left
    gains: np.ndarray  # (P, Q) expected gain of each candidate (-inf elsewhere)
    current: np.ndarray  # (P, Q, K) probabilities given the answers so far
    n_hypotheses: int  # answer sets scored (besides the current ones)


def predict_sets(scorer: Scorer, form: Form, qidx: np.ndarray, answers: np.ndarray,
                 out_form: Form | None = None) -> np.ndarray:
    """(B, Q, K) probabilities for B answer sets of any size (chunked)."""
    parts = [scorer.probabilities(form, qidx[s : s + CHUNK], answers[s : s + CHUNK],
                                  out_form or form) for s in range(0, len(qidx), CHUNK)]
    return np.concatenate(parts) if parts else np.zeros((0, 0, 0))


def score_step(scorer: Scorer, form: Form, qidx: np.ndarray, answers: np.ndarray,
               candidates: np.ndarray, target: np.ndarray,
               criterion: Criterion = "information") -> Step:
    """Score every candidate question of P persons (see the module docstring).

    ``qidx``/``answers``: (P, n) the answers so far (question and option index in ``form``,
    -1 padded); ``candidates``: (P, Q) questions that may be asked; ``target``: (P, Q)
    questions whose predictions count (bool), or how much each counts (weights).
    """
    n_p, n_q = candidates.shape
    target = np.asarray(target, dtype=np.float64)
    current = predict_sets(scorer, form, qidx, answers)
    if criterion == "information":
        base = np.zeros((n_p, n_q))  # the current predictions do not diverge from themselves
    else:
        v0 = question_values(current, criterion) * target
        base = v0.sum(axis=1, keepdims=True) - v0  # Σ over targets other than q
    n_opt = scorer.spec.option_counts(form)
    hp, hq = np.nonzero(candidates)
    reps = n_opt[hq]
    hp, hq = np.repeat(hp, reps), np.repeat(hq, reps)
    ha = np.arange(len(hq)) - np.repeat(np.cumsum(reps) - reps, reps)  # option index
    score = np.zeros(n_p * n_q)
    for s in range(0, len(hq), CHUNK):
        p, q, a = hp[s : s + CHUNK], hq[s : s + CHUNK], ha[s : s + CHUNK]
        rows_q = np.concatenate([qidx[p], q[:, None]], axis=1)
        rows_a = np.concatenate([answers[p], a[:, None]], axis=1)
        if criterion == "information":
            values = scorer.divergence(form, rows_q, rows_a, current, p)
        else:
            values = scorer.values(form, rows_q, rows_a, criterion)
        counted = target[p].copy()
        counted[np.arange(len(q)), q] = 0.0
        weight = current[p, q, a]
        score += np.bincount(p * n_q + q, weight * (values * counted).sum(axis=1),
                             minlength=n_p * n_q)
    gains = np.where(candidates, score.reshape(n_p, n_q) - base, -np.inf)
    chosen = np.where(candidates.any(axis=1), gains.argmax(axis=1), -1)
    return Step(chosen, gains, current, len(hq))
