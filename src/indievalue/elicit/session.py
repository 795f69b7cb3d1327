"""One person's elicitation: ask → answer → predictions with probabilities → expected accuracy
on the rest. The CLI (`indievalue ask`), the web page (`indievalue serve`) and the benchmark
(`indievalue analyze elicitation`, which runs the same selection for many persons at once
through :mod:`indievalue.elicit.orders`) all drive the same :func:`score_step`.

The session holds answers only in memory; nothing is written unless the caller saves them
(:meth:`Elicitation.survey_row`, :func:`write_survey_row`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from indievalue.catalog.spec import Form
from indievalue.elicit.scoring import Criterion, Scorer
from indievalue.elicit.select import Step, predict_sets, score_step
from indievalue.errors import IndieValueError
from indievalue.fsutil import atomic_write_text

SURVEY_ID = 1  # D_INTERVIEW of a saved one-person survey row


@dataclass(frozen=True)
class NextQuestion:
    """The question to ask next and why."""

    index: int  # question index in the spec
    qid: str
    category: str  # category name
    options: tuple[str, ...]  # statements in the session's form
    probs: np.ndarray  # the model's probability of each option before the answer
    gain: float  # expected additional correct predictions on the other unasked questions


@dataclass(frozen=True)
class Prediction:
    """The model's prediction for one unasked question."""

    index: int
    qid: str
    probs: np.ndarray  # probability of each option
    top: int  # most probable option
    statement: str  # its statement

    @property
    def confidence(self) -> float:
        return float(self.probs[self.top])


class Elicitation:
    """Ask a person questions in the order that teaches the model the most about the rest.

    ``form`` is the statement form the person chooses from and the model predicts;
    ``criterion`` what a question's answer is expected to improve on the unasked questions
    (see :mod:`indievalue.elicit.select`); ``questions`` limits what may be asked (question
    ids; default every question).
    """

    def __init__(self, scorer: Scorer, form: Form = "refined",
                 criterion: Criterion = "information", questions: list[str] | None = None):
        self.scorer = scorer
        self.spec = scorer.spec
        self.form: Form = form
        self.criterion: Criterion = criterion
        n_q = len(self.spec.questions)
        self._askable = np.ones(n_q, dtype=bool)
        if questions is not None:
            self._askable[:] = False
            self._askable[[self._index(q) for q in questions]] = True
        self._answers: list[tuple[int, int]] = []
        self._skipped: set[int] = set()
        self._step: Step | None = None
        self._current: np.ndarray | None = None

    # -- state -----------------------------------------------------------------------------
    @property
    def answers(self) -> list[tuple[str, int]]:
        """(question id, option index) of every answer, in the order given."""
        return [(self.spec.questions[q].qid, a) for q, a in self._answers]

    @property
    def n_answered(self) -> int:
        return len(self._answers)

    @property
    def n_hypotheses(self) -> int:
        """Answer sets scored to choose the current question (0 before the first choice)."""
        return 0 if self._step is None else self._step.n_hypotheses

    def _index(self, question: str | int) -> int:
        if isinstance(question, (int, np.integer)) and not isinstance(question, bool):
            if not 0 <= int(question) < len(self.spec.questions):
                raise IndieValueError(f"question index {question} is out of range "
                                      f"(0..{len(self.spec.questions) - 1})")
            return int(question)
        try:
            return self.spec.index(str(question))
        except KeyError:
            raise IndieValueError(f"unknown question {question!r}") from None

    def _asked(self) -> np.ndarray:
        mask = np.zeros(len(self.spec.questions), dtype=bool)
        mask[[q for q, _ in self._answers]] = True
        return mask

    def _rows(self) -> tuple[np.ndarray, np.ndarray]:
        q = np.array([[q for q, _ in self._answers]], dtype=np.int64).reshape(1, -1)
        a = np.array([[a for _, a in self._answers]], dtype=np.int64).reshape(1, -1)
        return q, a

    def _changed(self) -> None:
        self._step = None
        self._current = None

    # -- asking ----------------------------------------------------------------------------
    def next_question(self) -> NextQuestion | None:
        """The question whose answer is expected to help most (None when none is left)."""
        if self._step is None:
            asked = self._asked()
            skipped = np.zeros_like(asked)
            skipped[list(self._skipped)] = True
            q, a = self._rows()
            self._step = score_step(self.scorer, self.form, q, a,
                                    (self._askable & ~asked & ~skipped)[None],
                                    (~asked)[None], self.criterion)
            self._current = self._step.current[0]
        chosen = int(self._step.chosen[0])
        if chosen < 0:
            return None
        question = self.spec.questions[chosen]
        options = tuple(o.text for o in question.options(self.form))
        return NextQuestion(chosen, question.qid, self.spec.category_name(question.category),
                            options, self._probs()[chosen, : len(options)].copy(),
                            float(self._step.gains[0, chosen]))

    def answer(self, question: str | int, option: int) -> None:
        """Record the person's answer: ``option`` indexes the question's statements."""
        q = self._index(question)
        n = len(self.spec.questions[q].options(self.form))
        if isinstance(option, bool) or not 0 <= int(option) < n:
            raise IndieValueError(f"{self.spec.questions[q].qid}: option {option} is out of "
                                  f"range (0..{n - 1})")
        if self._asked()[q]:
            raise IndieValueError(f"{self.spec.questions[q].qid} is already answered")
        self._answers.append((q, int(option)))
        self._skipped.discard(q)
        self._changed()

    def skip(self, question: str | int) -> None:
        """Do not ask this question (it stays among the predicted ones)."""
        q = self._index(question)
        if self._asked()[q]:
            raise IndieValueError(f"{self.spec.questions[q].qid} is already answered")
        self._skipped.add(q)
        self._changed()

    def undo(self) -> None:
        """Take back the last answer."""
        if not self._answers:
            raise IndieValueError("nothing to undo")
        self._answers.pop()
        self._changed()

    # -- what the model now believes -------------------------------------------------------
    def _probs(self) -> np.ndarray:
        if self._current is None:
            q, a = self._rows()
            self._current = predict_sets(self.scorer, self.form, q, a)[0]
        return self._current

    def predictions(self) -> list[Prediction]:
        """The model's prediction for every unasked question, in catalog order."""
        probs = self._probs()
        asked = self._asked()
        out = []
        for i, question in enumerate(self.spec.questions):
            if asked[i]:
                continue
            options = question.options(self.form)
            p = probs[i, : len(options)].copy()
            top = int(p.argmax())
            out.append(Prediction(i, question.qid, p, top, options[top].text))
        return out

    def expected_accuracy(self) -> float:
        """The accuracy the model expects of its predictions on the unasked questions (its
        mean top probability), in [0, 1]; NaN once everything is answered."""
        asked = self._asked()
        if asked.all():
            return float("nan")
        return float(self._probs().max(axis=-1)[~asked].mean())

    def person_vector(self) -> np.ndarray | None:
        """The person's vector from the answers so far (None without the value model)."""
        if not self.scorer.gives_person_vectors:
            return None
        q, a = self._rows()
        return self.scorer.person_vectors(self.form, q, a)[0]

    # -- saving ----------------------------------------------------------------------------
    def survey_row(self) -> dict[str, int | None]:
        """The answers as one respondent of a WVS-7 file: every column ``indievalue catalog
        build --wvs`` reads, a raw code of the chosen option group for each answer (its first
        code), None (an empty cell) elsewhere."""
        row: dict[str, int | None] = {"D_INTERVIEW": SURVEY_ID}
        row.update({q.qid: None for q in self.spec.questions})
        row.update({c: None for c in self.spec.demographic_columns})
        for q, a in self._answers:
            question = self.spec.questions[q]
            row[question.qid] = question.options(self.form)[a].codes[0]
        return row


def survey_csv(row: dict[str, int | None]) -> str:
    """One survey row as WVS-7 CSV text: the header line, then the row (empty = missing)."""
    return ",".join(row) + "\n" + ",".join("" if v is None else str(v)
                                           for v in row.values()) + "\n"


def write_survey_row(path: str | Path, row: dict[str, int | None]) -> Path:
    """Write one survey row as a WVS-7 CSV (atomically)."""
    path = Path(path)
    if path.suffix.lower() != ".csv":
        raise IndieValueError(f"{path}: the answers are saved as a WVS-7 CSV; use a .csv name")
    atomic_write_text(path, survey_csv(row))
    return path
