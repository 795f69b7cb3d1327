"""The Elicitation object (ask → answer → predictions → expected accuracy), the saved survey
row, and the question orders of the benchmark."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

from _elicit_data import ElicitData, elicit_data

from indievalue.catalog.build import build_catalog
from indievalue.catalog.store import Catalog
from indievalue.elicit import Elicitation, make_scorer, write_survey_row
from indievalue.elicit.orders import follow_order, random_orders, static_greedy_order
from indievalue.errors import IndieValueError


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> ElicitData:
    return elicit_data(tmp_path_factory)


def _session(data: ElicitData, form: str = "refined") -> Elicitation:
    return Elicitation(make_scorer(data.predictor, data.cat.spec), form=form)  # type: ignore[arg-type]


def test_answers_teach_the_model_about_the_rest(data: ElicitData) -> None:
    """Answering the suggested questions as an eval person of a planted type would makes the
    model more confident and more often right on that person's other informative answers."""
    person = data.cat.row(int(data.eval_ids[0]))
    truth = data.cat.refined[person]
    session = _session(data)
    before = session.expected_accuracy()
    first = {p.qid: p.top for p in session.predictions()}
    for _ in range(4):
        question = session.next_question()
        assert question is not None
        assert len(question.options) == len(question.probs)
        assert question.probs.sum() == pytest.approx(1.0, abs=1e-5)
        session.answer(question.qid, int(truth[question.index]))
    assert session.n_answered == 4
    assert session.expected_accuracy() > before + 0.05
    preds = session.predictions()
    assert len(preds) == len(data.cat.spec.questions) - 4
    assert not {q for q, _ in session.answers} & {p.qid for p in preds}
    useful = [p for p in preds if data.informative[p.index]]
    right_after = np.mean([p.top == truth[p.index] for p in useful])
    right_before = np.mean([first[p.qid] == truth[p.index] for p in useful])
    assert right_after > max(right_before + 0.1, 0.85)
    for p in preds:
        assert p.probs.sum() == pytest.approx(1.0, abs=1e-5)
        assert p.confidence == p.probs.max()
    vector = session.person_vector()
    assert vector is not None and vector.shape == (data.predictor.model.dim,)


def test_skip_undo_and_refusals(data: ElicitData) -> None:
    session = _session(data, "polar")
    first = session.next_question()
    assert first is not None
    session.skip(first.qid)
    second = session.next_question()
    assert second is not None and second.qid != first.qid
    assert first.qid in {p.qid for p in session.predictions()}  # skipped is still predicted
    session.answer(second.qid, 0)
    with pytest.raises(IndieValueError, match="already answered"):
        session.answer(second.qid, 1)
    with pytest.raises(IndieValueError, match="out of range"):
        session.answer("Q2", 9)
    with pytest.raises(IndieValueError, match="unknown question"):
        session.answer("Q9999", 0)
    session.undo()
    assert session.n_answered == 0
    with pytest.raises(IndieValueError, match="nothing to undo"):
        session.undo()
    limited = Elicitation(session.scorer, form="polar", questions=["Q1", "Q2"])
    limited.answer("Q1", 0)
    nxt = limited.next_question()
    assert nxt is not None and nxt.qid == "Q2"
    limited.answer("Q2", 1)
    assert limited.next_question() is None


def test_saved_answers_build_a_catalog_with_the_same_answers(data: ElicitData,
                                                             tmp_path: Path) -> None:
    session = _session(data)
    chosen = {"Q1": 1, "Q46": 2, "Q6": 0}
    for qid, option in chosen.items():
        session.answer(qid, option)
    path = write_survey_row(tmp_path / "me.csv", session.survey_row())
    build_catalog(path, tmp_path / "cat")
    cat = Catalog.load(tmp_path / "cat")
    assert len(cat.person_ids) == 1
    got = dict(cat.to_pandas("refined").iloc[0])
    for qid, option in chosen.items():
        assert got[qid] == option
    assert sum(v >= 0 for v in got.values()) == len(chosen)
    with pytest.raises(IndieValueError, match=r"\.csv"):
        write_survey_row(tmp_path / "me.txt", session.survey_row())


def test_random_and_static_orders(data: ElicitData) -> None:
    allowed = np.ones((3, len(data.cat.spec.questions)), dtype=bool)
    allowed[0, :100] = False
    keys = np.array([5, 6, 7])
    a = random_orders(allowed, 20, seed=0, keys=keys)
    np.testing.assert_array_equal(a, random_orders(allowed, 20, seed=0, keys=keys))
    np.testing.assert_array_equal(a[1:], random_orders(allowed[1:], 20, 0, keys[1:]))
    assert not np.array_equal(a, random_orders(allowed, 20, seed=1, keys=keys))
    assert (a[0] >= 100).all() and all(len(set(r)) == 20 for r in a)
    walked = follow_order(np.arange(200)[::-1], allowed, 5)
    np.testing.assert_array_equal(walked[0], [199, 198, 197, 196, 195])
    few = np.zeros_like(allowed)
    few[:, [3, 7]] = True
    np.testing.assert_array_equal(follow_order(np.array([7, 3, 1]), few, 4)[0], [7, 3, -1, -1])
    rows = np.flatnonzero(~np.isin(data.cat.person_ids, data.eval_ids))[:40]
    truth = data.cat.polar[rows].astype(np.int64)
    order = static_greedy_order(make_scorer(data.predictor, data.cat.spec), "polar", truth, 3)
    assert len(set(order.tolist())) == 3
    # two informative answers mostly tell the person's type (one of three), so what a third
    # question adds is small and a noise question can win it by chance: the first two must
    # be informative ones
    assert data.informative[order[:2]].all(), order


def test_bad_question_index_is_refused(data: ElicitData) -> None:
    session = _session(data)
    with pytest.raises(IndieValueError, match="out of range"):
        session.answer(10_000, 0)
