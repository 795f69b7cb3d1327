"""What the learned classical baselines (``logistic``, ``factor``) share.

- The persons they learn from: at most ``pool_size`` of the training pool, a seeded sample drawn
  from the same stream as Resemble's and the value model's ``pool`` (equal sizes, equal persons).
- Demonstrations simulated on those persons: an episode shows a uniform random subset of
  ``min(d, available)`` of a person's valid non-probe answers (``d`` = 200 in the main
  benchmark, 0..200 in the demonstration sweep), so training masks are uniform random subsets
  of a person's answers, their size drawn per person (:func:`shown_subsets`); the logistic
  models draw it inside a band of counts, the factor model's validation from
  :func:`mixed_counts`.
- Targets in the refined form. Every refined option belongs to one polar option
  (``Question.refined_to_polar``), so a polar probability is the sum of its refined options'.
- No demonstrations (``d = 0``, and ``demographics=only``, whose statements these models do not
  read) → the pool's answer shares, exactly the majority baseline's probabilities.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from indievalue.benchmark.episodes import MAX_DEMOS, Episodes
from indievalue.catalog.spec import Form, StatementSpec
from indievalue.predictors.base import Predictions, TrainingPool, empty_probs, pool_sample
from indievalue.predictors.baselines import option_frequencies

STREAM_SHOW = 13
STREAM_SPLIT = 17
VALIDATION_SHARE = 0.2
SHOW_ALL_SHARE = 0.5  # training persons who show every answer (the d = 200 regime)


def sample_rows(pool: TrainingPool, size: int, seed: int) -> np.ndarray:
    """Catalog rows of at most ``size`` pool persons (a seeded sample when the pool is larger),
    sorted."""
    rows = pool.rows
    if size < len(rows):
        rows = pool_sample(rows, size, seed)
    return np.sort(rows)


def shown_subsets(valid: np.ndarray, counts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(N, Q) bool: a uniform random choice of ``counts[i]`` of the answers person ``i`` has
    (``valid``; all of them where they have fewer)."""
    scores = rng.random(valid.shape)
    scores[~valid] = np.inf
    rank = np.argsort(np.argsort(scores, axis=1, kind="stable"), axis=1, kind="stable")
    out: np.ndarray = valid & (rank < np.asarray(counts)[:, None])
    return out


def mixed_counts(n: int, n_questions: int, rng: np.random.Generator) -> np.ndarray:
    """Demonstration counts of the regime a single model must serve: with even odds every
    answer or a uniform count 0..MAX_DEMOS."""
    return np.where(rng.random(n) < SHOW_ALL_SHARE, n_questions,
                    rng.integers(0, MAX_DEMOS + 1, size=n))


def split(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded (train, validation) indices of ``n`` persons, the validation share held out."""
    order = np.random.default_rng([seed, STREAM_SPLIT]).permutation(n)
    n_val = max(1, round(n * VALIDATION_SHARE)) if n > 1 else 0
    return np.sort(order[n_val:]), np.sort(order[:n_val])


@dataclass(frozen=True)
class Layout:
    """Where each question's options sit in a form's one-hot vector."""

    counts: np.ndarray  # (Q,) options per question
    offsets: np.ndarray  # (Q,) first column of each question

    @classmethod
    def of(cls, spec: StatementSpec, form: Form) -> Layout:
        counts = spec.option_counts(form).astype(np.int64)
        return cls(counts, np.concatenate([[0], np.cumsum(counts)[:-1]]))

    @property
    def width(self) -> int:
        return int(self.counts.sum())

    def columns(self, q: int) -> slice:
        return slice(int(self.offsets[q]), int(self.offsets[q] + self.counts[q]))

    def one_hot(self, answers: np.ndarray) -> sp.csr_matrix:
        """(N, width) CSR indicator of the valid entries of an (N, Q) option-index matrix."""
        r, q = np.nonzero(answers >= 0)
        cols = self.offsets[q] + answers[r, q]
        return sp.csr_matrix((np.ones(len(r)), (r, cols)), shape=(len(answers), self.width))


def polar_groups(spec: StatementSpec) -> np.ndarray:
    """(Q, K_refined) polar option of each refined option (-1 beyond a question's options)."""
    counts = spec.option_counts("refined")
    out = np.full((len(counts), int(counts.max())), -1, dtype=np.int64)
    for q, question in enumerate(spec.questions):
        mapping = question.refined_to_polar()
        out[q, : len(mapping)] = mapping
    return out


def in_form(refined: np.ndarray, qidx: np.ndarray, groups: np.ndarray, form: Form) -> np.ndarray:
    """(n, K) values per option of ``form`` from (n, K_refined) refined values of the questions
    ``qidx``: summed into their polar options for the polar form, unchanged for the refined."""
    if form == "refined":
        return refined
    group = groups[qidx][:, : refined.shape[1]]  # (n, K) for K refined columns given
    out = np.zeros((len(refined), int(groups.max()) + 1))
    rows = np.broadcast_to(np.arange(len(refined))[:, None], group.shape)
    inside = group >= 0
    np.add.at(out, (rows[inside], group[inside]), refined[inside])
    return out


def demonstrated(episodes: Episodes) -> np.ndarray:
    """(E, Q) int8 each episode's demonstrated answers (demo form), -1 where none is shown."""
    shown = np.full(episodes.visible.shape, -1, dtype=np.int8)
    e, j = np.nonzero(episodes.demo_qidx >= 0)
    shown[e, episodes.demo_qidx[e, j]] = episodes.demo_answers[e, j]
    return shown


def pool_shares(pool: TrainingPool) -> dict[Form, np.ndarray]:
    """(Q, K) answer shares of the whole pool in each form (the majority baseline's)."""
    spec = pool.catalog.spec
    return {f: option_frequencies(pool.matrix(f), spec.option_counts(f))
            for f in ("polar", "refined")}


def answers(episodes: Episodes, probs: np.ndarray, shares: dict[Form, np.ndarray]) -> Predictions:
    """Predictions from (E, m, K) probabilities in the probe form (zero beyond a probe's
    options); episodes without any demonstration get the pool's answer shares. Choices are the
    most probable option (lowest index on ties)."""
    blind = ~(episodes.demo_qidx >= 0).any(axis=1)
    if blind.any():
        share = shares[episodes.probe_form][episodes.probe_qidx[blind]]
        probs[blind] = share[..., : probs.shape[-1]]
    out = empty_probs(episodes)
    inside = np.arange(out.shape[-1])[None, None, :] < episodes.n_options[..., None]
    out[inside] = probs[..., : out.shape[-1]][inside]
    choices = np.where(inside, probs[..., : out.shape[-1]], -1.0).argmax(axis=-1)
    return Predictions(choices.astype(np.int64), out)
