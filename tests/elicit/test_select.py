"""The selection rule: its arithmetic on a scorer with known answers, the value model's batched
scorer against the network's own outputs, and what it asks on planted data."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

from _elicit_data import ElicitData, elicit_data

from indievalue.benchmark.episodes import Episodes
from indievalue.catalog.spec import Form
from indievalue.catalog.spec_io import builtin_spec
from indievalue.elicit import (
    Elicitation,
    PredictorScorer,
    Scorer,
    ValueModelScorer,
    make_scorer,
    score_step,
)
from indievalue.elicit.orders import adaptive_orders
from indievalue.elicit.scoring import kl_divergence, question_values
from indievalue.errors import IndieValueError
from indievalue.predictors import TrainingPool, make_predictor
from indievalue.predictors.base import Predictions, Predictor

SURE = 0.9


class KeyQuestion(Scorer):
    """Question 0's answer a makes questions 1-3 take option a with probability 0.9; nothing
    else depends on anything (uniform predictions)."""

    def __init__(self) -> None:
        self.spec = builtin_spec()

    def probabilities(self, form: Form, qidx: np.ndarray, answers: np.ndarray,
                      out_form: Form) -> np.ndarray:
        n_opt = self.spec.option_counts(out_form)
        k = int(n_opt.max())
        probs = np.where(np.arange(k)[None, :] < n_opt[:, None], 1.0 / n_opt[:, None], 0.0)
        out = np.repeat(probs[None], len(qidx), axis=0)
        for row in range(len(qidx)):
            known = dict(zip(qidx[row].tolist(), answers[row].tolist(), strict=True))
            if 0 in known:
                for r in (1, 2, 3):
                    n = int(n_opt[r])
                    out[row, r, :n] = (1 - SURE) / (n - 1)
                    out[row, r, known[0] % n] = SURE
        return out


class ChoicesOnly(Predictor):
    name = "choices-only"

    def predict(self, episodes: Episodes) -> Predictions:
        return Predictions(np.zeros(episodes.probe_qidx.shape, dtype=np.int64))


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> ElicitData:
    return elicit_data(tmp_path_factory)


def _entropy(p: np.ndarray) -> float:
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


@pytest.mark.parametrize("criterion", ["information", "accuracy", "logloss"])
def test_the_gain_is_the_expected_improvement_on_the_other_questions(criterion: str) -> None:
    """Expected KL from uniform = expected entropy drop = log n − H(sharp) per informed
    question (information, logloss); expected top-probability gain 0.9 − 1/n (accuracy)."""
    scorer = KeyQuestion()
    n_q = len(scorer.spec.questions)
    everything = np.ones((1, n_q), dtype=bool)
    step = score_step(scorer, "polar", np.zeros((1, 0), np.int64), np.zeros((1, 0), np.int64),
                      everything, everything, criterion)  # type: ignore[arg-type]
    n_opt = scorer.spec.option_counts("polar")
    sharp = [np.r_[SURE, np.full(n_opt[r] - 1, (1 - SURE) / (n_opt[r] - 1))] for r in (1, 2, 3)]
    if criterion == "accuracy":
        expected = sum(SURE - 1 / n_opt[r] for r in (1, 2, 3))
    else:
        expected = sum(np.log(n_opt[r]) - _entropy(s) for r, s in zip((1, 2, 3), sharp,
                                                                      strict=True))
    assert step.chosen[0] == 0
    assert step.gains[0, 0] == pytest.approx(expected, abs=1e-9)
    # nothing else teaches anything; asking 1 does not inform 2 or 3
    np.testing.assert_allclose(step.gains[0, 1:], 0.0, atol=1e-9)
    # one hypothesis per option of every candidate
    assert step.n_hypotheses == int(n_opt.sum())


def test_questions_outside_the_candidates_or_targets_do_not_count() -> None:
    scorer = KeyQuestion()
    n_q = len(scorer.spec.questions)
    candidates = np.ones((2, n_q), dtype=bool)
    candidates[0, 0] = False  # person 0 may not be asked the key question
    target = np.ones((2, n_q), dtype=bool)
    target[1, 1:4] = False  # person 1's informed questions are not targets
    step = score_step(scorer, "polar", np.zeros((2, 0), np.int64), np.zeros((2, 0), np.int64),
                      candidates, target)
    assert step.gains[0, 0] == -np.inf and step.chosen[0] != 0
    assert step.gains[1, 0] == pytest.approx(0.0, abs=1e-9)
    none = np.zeros((1, n_q), dtype=bool)
    assert score_step(scorer, "polar", np.zeros((1, 0), np.int64),
                      np.zeros((1, 0), np.int64), none, ~none).chosen[0] == -1


@pytest.mark.parametrize("form", ["polar", "refined"])
def test_batched_scorer_matches_the_model(data: ElicitData, form: Form) -> None:
    model = data.predictor.model
    model.net.t_refined.fill_(1.3)  # non-trivial calibration on both levels
    model.net.t_polar.fill_(0.8)
    model._net64 = None
    try:
        scorer = ValueModelScorer(model, data.cat.spec)
        rng = np.random.default_rng(0)
        truth = data.cat.matrix(form)[:6].astype(np.int64)
        qidx = np.stack([rng.permutation(len(data.cat.spec.questions))[:15] for _ in range(6)])
        qidx[0, 10:] = -1  # ragged rows
        answers = np.where(qidx >= 0, np.take_along_axis(truth, np.maximum(qidx, 0), 1), -1)
        ours = scorer.probabilities(form, qidx, answers, form)
        every = np.broadcast_to(np.arange(truth.shape[1]), truth.shape)
        reference = model.probe_probs(form, qidx, answers, form, every)
        np.testing.assert_allclose(ours, reference[..., : ours.shape[-1]], atol=2e-5)
        for criterion in ("accuracy", "logloss"):
            np.testing.assert_allclose(scorer.values(form, qidx, answers, criterion),
                                       question_values(ours, criterion), atol=1e-5)
        reference, owner = ours[:3], np.array([2, 0, 1, 1, 0, 2])
        np.testing.assert_allclose(scorer.divergence(form, qidx, answers, reference, owner),
                                   kl_divergence(ours, reference[owner]), atol=1e-4)
        np.testing.assert_array_equal(scorer.top_is(form, qidx, answers, truth),
                                      (ours.argmax(-1) == truth))
    finally:
        model.net.t_refined.fill_(1.0)
        model.net.t_polar.fill_(1.0)
        model._net64 = None


def test_any_predictor_with_probabilities_can_score(data: ElicitData) -> None:
    """The generic path (episodes) gives the value model's probabilities too, and serves a
    predictor without a network (Resemble)."""
    rows = np.flatnonzero(~np.isin(data.cat.person_ids, data.eval_ids))
    generic = PredictorScorer(data.predictor, data.cat.spec)
    fast = make_scorer(data.predictor, data.cat.spec)
    assert isinstance(fast, ValueModelScorer)
    qidx = np.array([[0, 2, 4], [6, 8, -1]])
    answers = np.array([[0, 1, 0], [1, 0, -1]])
    np.testing.assert_allclose(generic.probabilities("refined", qidx, answers, "refined"),
                               fast.probabilities("refined", qidx, answers, "refined"),
                               atol=2e-5)
    resemble = make_predictor("resemble", {"context": "demos"}).fit(
        TrainingPool(data.cat, rows))
    session = Elicitation(make_scorer(resemble, data.cat.spec), form="polar")
    session.answer("Q1", 0)
    question = session.next_question()
    assert question is not None and question.qid != "Q1"
    assert 0 < session.expected_accuracy() <= 1
    with pytest.raises(IndieValueError, match="no probabilities"):
        PredictorScorer(ChoicesOnly(), data.cat.spec)


@pytest.mark.parametrize("criterion", ["information", "accuracy"])
def test_adaptive_asks_the_informative_questions(data: ElicitData, criterion: str) -> None:
    """Noise questions teach nothing about the rest; until the type is known (a few
    answers), every question asked is an informative one."""
    scorer = make_scorer(data.predictor, data.cat.spec)
    rows = data.cat.rows(data.eval_ids[:6])
    truth = data.cat.matrix("polar")[rows].astype(np.int64)
    order = adaptive_orders(scorer, "polar", truth, truth >= 0, 3, criterion)  # type: ignore[arg-type]
    assert (order >= 0).all()
    assert data.informative[order].mean() >= 0.9, order
    assert all(len(set(o)) == len(o) for o in order)  # no question twice
