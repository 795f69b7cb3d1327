"""Where elicitation's probabilities come from: a *scorer* maps sets of answers to a probability
for every option of every question.

Two scorers. :class:`ValueModelScorer` runs the value model's torch network directly: all the
answer sets of one call (the hypotheses of a step: the answers so far plus one more) go
through the network as one batch of token bags, in float32 (the network's training precision;
elicitation needs speed more than the value-model predictor's bit-for-bit batch independence,
and a fixed batch gives fixed results). :class:`PredictorScorer` serves any registered
predictor that gives probabilities: each answer set becomes one episode whose demonstrations
are the answers and whose probes are every question, so it is as slow as that predictor's
``predict`` on as many episodes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Literal

import numpy as np

from indievalue.benchmark.episodes import Episodes
from indievalue.catalog.spec import Form, StatementSpec
from indievalue.errors import IndieValueError
from indievalue.predictors.base import Predictor

CHUNK = 4096  # answer sets per forward pass (bounds the (B, Q, K) grid to ~40 MB in float32)

Criterion = Literal["information", "accuracy", "logloss"]
CRITERIA: tuple[Criterion, ...] = ("information", "accuracy", "logloss")


def question_values(probs: np.ndarray, criterion: Criterion) -> np.ndarray:
    """(..., Q) value of each question's predictive distribution (..., Q, K): its top
    probability (``accuracy``: the chance that predicting the most probable option is right)
    or minus its entropy (``logloss``: minus the expected log loss of the distribution)."""
    if criterion == "accuracy":
        return probs.max(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        plogp = np.where(probs > 0, probs * np.log(probs), 0.0)
    return plogp.sum(axis=-1)


def kl_divergence(probs: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """(..., Q) KL(probs ‖ reference) of each question's distributions (..., Q, K)."""
    tiny = np.finfo(np.float64).tiny
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(probs > 0, probs * (np.log(probs) - np.log(np.maximum(reference, tiny))),
                         0.0)
    return terms.sum(axis=-1)


class Scorer(ABC):
    """Probabilities of every option of every question, given answer sets."""

    spec: StatementSpec

    @abstractmethod
    def probabilities(self, form: Form, qidx: np.ndarray, answers: np.ndarray,
                      out_form: Form) -> np.ndarray:
        """(B, Q, K) probabilities of each question's ``out_form`` options (0 beyond them) for
        B answer sets given as rows of question indices and option indices in ``form``
        (-1 padded). At most :data:`CHUNK` rows per call."""

    def values(self, form: Form, qidx: np.ndarray, answers: np.ndarray,
               criterion: Criterion) -> np.ndarray:
        """(B, Q) :func:`question_values` of the ``form`` predictions of B answer sets."""
        return question_values(self.probabilities(form, qidx, answers, form), criterion)

    def divergence(self, form: Form, qidx: np.ndarray, answers: np.ndarray,
                   reference: np.ndarray, owner: np.ndarray) -> np.ndarray:
        """(B, Q) KL divergence of each question's predictions from ``reference[owner]``
        (``reference``: (P, Q, K) probabilities; ``owner``: (B,) row of each answer set)."""
        return kl_divergence(self.probabilities(form, qidx, answers, form), reference[owner])

    def top_is(self, form: Form, qidx: np.ndarray, answers: np.ndarray,
               truth: np.ndarray) -> np.ndarray:
        """(B, Q) whether each question's most probable ``form`` option is ``truth`` (B, Q;
        False where truth is -1)."""
        probs = self.probabilities(form, qidx, answers, form)
        return (probs.argmax(axis=-1) == truth) & (truth >= 0)

    @property
    def gives_person_vectors(self) -> bool:
        return False

    def person_vectors(self, form: Form, qidx: np.ndarray, answers: np.ndarray) -> np.ndarray:
        """(B, dim) person vectors of answer sets (value model only)."""
        raise IndieValueError("person vectors need the value model")

    def describe(self) -> str:
        return type(self).__name__


class ValueModelScorer(Scorer):
    """The value model's network, batched (see the module docstring). The values of the
    hypotheses are reduced per question on the network's packed statement vectors (one
    scatter), without building the padded (B, Q, K) grid: measured, the packed path is about
    twice as fast as dense softmaxes on the grid, whose rows are twice as long."""

    def __init__(self, model: Any, spec: StatementSpec, threads: int = 1):
        self.model = model  # indievalue.valuemodel.model.ValueModel
        self.spec = spec
        self.threads = threads

    @property
    def gives_person_vectors(self) -> bool:
        return True

    def _log_probs(self, form: Form, qidx: np.ndarray, answers: np.ndarray,
                   out_form: Form) -> tuple[Any, Any]:
        """Packed calibrated log probabilities of every ``out_form`` statement, and the
        question of each statement."""
        import torch

        from indievalue.valuemodel.layout import tokens

        net = self.model.net
        tok = tokens(self.model.layout, form, qidx, answers)
        ok = tok >= 0
        counts = torch.as_tensor(ok.sum(axis=1), dtype=torch.int64)
        offsets = torch.cumsum(counts, 0) - counts
        state = net.encode(torch.as_tensor(tok[ok]), offsets, counts)
        lr, lp = net.log_probs(state, calibrated=True)
        return (lp, net.q_of_p) if out_form == "polar" else (lr, net.q_of_r)

    def probabilities(self, form: Form, qidx: np.ndarray, answers: np.ndarray,
                      out_form: Form) -> np.ndarray:
        import torch

        from indievalue.valuemodel.network import padded
        from indievalue.valuemodel.training import torch_threads

        net = self.model.net
        with torch.no_grad(), torch_threads(self.threads):
            packed, _ = self._log_probs(form, qidx, answers, out_form)
            slots = net.slots_polar if out_form == "polar" else net.slots_refined
            return padded(packed, slots).exp().numpy()

    def values(self, form: Form, qidx: np.ndarray, answers: np.ndarray,
               criterion: Criterion) -> np.ndarray:
        import torch

        from indievalue.valuemodel.training import torch_threads

        n_q = len(self.spec.questions)
        with torch.no_grad(), torch_threads(self.threads):
            packed, question = self._log_probs(form, qidx, answers, form)
            seg = question.expand(len(packed), -1)
            if criterion == "accuracy":
                top = packed.new_full((len(packed), n_q), -torch.inf).scatter_reduce(
                    1, seg, packed, reduce="amax", include_self=True)
                return top.exp().numpy()
            return packed.new_zeros((len(packed), n_q)).index_add(
                1, question, packed.exp() * packed).numpy()

    def divergence(self, form: Form, qidx: np.ndarray, answers: np.ndarray,
                   reference: np.ndarray, owner: np.ndarray) -> np.ndarray:
        import torch

        from indievalue.valuemodel.training import torch_threads

        n_q = len(self.spec.questions)
        slots = self.model.layout.padded_slots(form)
        q_of, k_of = np.nonzero(slots >= 0)  # packed order: question by question
        with torch.no_grad(), torch_threads(self.threads):
            packed, question = self._log_probs(form, qidx, answers, form)
            ref = torch.as_tensor(reference[:, q_of, k_of], dtype=packed.dtype)  # (P, S)
            log_ref = ref.clamp_min(torch.finfo(packed.dtype).tiny).log()
            terms = packed.exp() * (packed - log_ref[torch.as_tensor(owner)])
            return packed.new_zeros((len(packed), n_q)).index_add(1, question, terms).numpy()

    def top_is(self, form: Form, qidx: np.ndarray, answers: np.ndarray,
               truth: np.ndarray) -> np.ndarray:
        import torch

        from indievalue.valuemodel.training import torch_threads

        n_q = len(self.spec.questions)
        where = torch.as_tensor(self.model.layout.local_offsets(form)[None, :]
                                + np.maximum(truth, 0))
        with torch.no_grad(), torch_threads(self.threads):
            packed, question = self._log_probs(form, qidx, answers, form)
            top = packed.new_full((len(packed), n_q), -torch.inf).scatter_reduce(
                1, question.expand(len(packed), -1), packed, reduce="amax", include_self=True)
            return ((packed.gather(1, where) >= top).numpy()) & (truth >= 0)

    def person_vectors(self, form: Form, qidx: np.ndarray, answers: np.ndarray) -> np.ndarray:
        import torch

        from indievalue.valuemodel.training import torch_threads

        with torch.no_grad(), torch_threads(self.threads):
            return self.model.encode(form, qidx, answers)

    def describe(self) -> str:
        return f"value model ({self.model.dim}-d, hidden {self.model.options.hidden})"


class PredictorScorer(Scorer):
    """Any fitted predictor that gives probabilities: one episode per answer set, every
    question a probe."""

    def __init__(self, predictor: Predictor, spec: StatementSpec):
        if not predictor.gives_probabilities:
            raise IndieValueError(f"predictor {predictor.name} gives no probabilities; "
                                  "elicitation needs a predictor that does (e.g. value-model, "
                                  "resemble)")
        predictor.check_fitted()
        self.predictor = predictor
        self.spec = spec

    def probabilities(self, form: Form, qidx: np.ndarray, answers: np.ndarray,
                      out_form: Form) -> np.ndarray:
        b, n_q = len(qidx), len(self.spec.questions)
        qidx = np.asarray(qidx, dtype=np.int64)
        answers = np.asarray(answers, dtype=np.int64)
        ok = (qidx >= 0) & (answers >= 0)
        visible = np.full((b, n_q), -1, dtype=np.int8)
        rows = np.broadcast_to(np.arange(b)[:, None], qidx.shape)
        visible[rows[ok], qidx[ok]] = answers[ok]
        episodes = Episodes(
            "A", 0, form, out_form, self.spec, np.arange(b, dtype=np.int64),
            np.arange(b, dtype=np.int64),
            np.broadcast_to(np.arange(n_q, dtype=np.int16), (b, n_q)).copy(),
            np.where(ok, qidx, -1).astype(np.int16), np.where(ok, answers, -1).astype(np.int8),
            visible)
        probs = self.predictor.predict(episodes).probs
        if probs is None:
            raise IndieValueError(f"predictor {self.predictor.name} returned no probabilities")
        return np.nan_to_num(probs.astype(np.float64), nan=0.0)

    def describe(self) -> str:
        return self.predictor.describe()


def make_scorer(predictor: Predictor, spec: StatementSpec, threads: int = 1) -> Scorer:
    """The fastest scorer for a fitted predictor: the batched network for the value model,
    episodes for any other predictor that gives probabilities."""
    model = getattr(predictor, "model", None)
    if predictor.name == "value-model" and model is not None:
        return ValueModelScorer(model, spec, threads)
    return PredictorScorer(predictor, spec)
