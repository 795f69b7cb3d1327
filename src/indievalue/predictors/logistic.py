"""``logistic``: one multinomial logistic regression per probe question.

Features: the one-hot encoding of the episode's demonstrated answers in the demonstration form
(567 indicators polar, 929 refined for the built-in spec); a question that is not shown, or not
answered, contributes zeros. Target: the probe's refined option; a polar probability is the sum
of its refined options' (the refined options nest in the polar ones), so one model serves both
probe forms.

Training regime. An episode shows a uniform random subset of ``min(d, available)`` of the
person's valid non-probe answers. A linear model over zero-filled indicators adds up evidence,
so a model fitted where persons show ~200 answers is far too timid where they show 50 (and one
fitted on every count at once is a compromise at both ends; docs/design/classical-baselines.md
has the numbers). Models are therefore fitted per band of demonstration counts
(:data:`BAND_EDGES`): for an episode showing n answers, the band's training persons each show a
uniform random choice of a uniform count of their answers within the band, the target
question's own columns always removed.

Fitting (scikit-learn's ``LogisticRegression``, L2, lbfgs): on at most ``pool_size`` persons of
the training pool. ``C`` is chosen per demonstration form and band from :data:`C_GRID` by the
mean validation log loss of a seeded sample of questions, fitted on 80% of those persons and
scored on the other 20%, then every model is fitted on all of them.

What is learned when: a run shows demonstrations of one form, in one band for nearly all
episodes, and asks 39 to 117 of the 253 questions, so a (form, band, question) model is fitted
the first time an episode needs it (and ``C`` the first time a form and band are seen), always
from the persons ``fit`` drew and nothing else; the answers do not depend on which episodes
came first.

Demonstrations only: demographic statements are not read, so ``demographics=only`` and
``d = 0`` episodes get the pool's answer shares (the majority baseline's probabilities).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from indievalue.benchmark.episodes import Episodes
from indievalue.catalog.spec import Form
from indievalue.catalog.store import Catalog
from indievalue.predictors.base import (
    Predictions,
    Predictor,
    PredictorOptions,
    TrainingPool,
    register_predictor,
)
from indievalue.predictors.classical import (
    STREAM_SHOW,
    Layout,
    answers,
    demonstrated,
    in_form,
    polar_groups,
    pool_shares,
    sample_rows,
    shown_subsets,
    split,
)

# Bands of demonstration counts [edge_i, edge_i+1), the last one open: the sweep's d = 50,
# 100/150 and 200 each fall inside one, away from its edges.
BAND_EDGES = (1, 16, 40, 90, 160)
C_GRID = (0.001, 0.003, 0.01, 0.03)
SELECT_QUESTIONS = 8  # questions whose validation loss chooses C
TOL = 1e-3  # lbfgs stops once the loss has settled; the coefficients need not have
STREAM_SELECT = 23
Key = tuple[Form, int]  # (demonstration form, band)


def band_of(n_shown: np.ndarray) -> np.ndarray:
    """Band index of each demonstration count (>= 1)."""
    return np.searchsorted(np.asarray(BAND_EDGES), n_shown, side="right") - 1


class LogisticOptions(PredictorOptions):
    C: Literal["auto"] | Annotated[float, Field(gt=0, le=1e6)] = Field(
        "auto", description="Inverse L2 strength; 'auto' picks from 0.001, 0.003, 0.01, 0.03 "
        "by validation log loss, per demonstration form and count band.")
    pool_size: int = Field(
        10000, ge=2, description="Learn from at most this many training-pool persons (a "
        "seeded sample when the pool is larger).")
    max_iter: int = Field(100, ge=1, le=10000, description="lbfgs iterations per model.")
    threads: int = Field(
        2, ge=1, le=64, description="Question models fitted at once (threads); the answers "
        "do not depend on it.")


@dataclass(frozen=True)
class QuestionModel:
    """One probe question's model: refined-option probabilities from demonstration features."""

    k_refined: int
    classes: np.ndarray  # refined options seen in training
    model: Any  # a fitted LogisticRegression; None: ``fixed`` for everyone
    fixed: np.ndarray | None = None  # (k_refined,) when fewer than two options were seen

    def probs(self, features: sp.csr_matrix) -> np.ndarray:
        """(n, k_refined) probabilities; zero for options never seen in training."""
        if self.model is None:
            assert self.fixed is not None
            return np.tile(self.fixed, (features.shape[0], 1))
        out = np.zeros((features.shape[0], self.k_refined))
        out[:, self.classes] = self.model.predict_proba(features)
        return out


@register_predictor("logistic")
class LogisticPredictor(Predictor):
    """Multinomial logistic regression per probe question on the one-hot demonstrations; see
    the module docstring. ``chosen_C`` and ``selection`` (validation log loss per C) are kept
    per (demonstration form, band)."""

    Options = LogisticOptions
    gives_probabilities = True
    options: LogisticOptions

    def fit(self, pool: TrainingPool) -> LogisticPredictor:
        rows = sample_rows(pool, self.options.pool_size, self.seed)
        self._catalog: Catalog = pool.catalog
        self._rows = rows
        self._shares = pool_shares(pool)
        self._train, self._val = split(len(rows), self.seed)
        self._features: dict[Key, sp.csr_matrix] = {}
        self._models: dict[tuple[Form, int, int], QuestionModel] = {}
        self.chosen_C: dict[Key, float] = {}
        self.selection: dict[Key, dict[float, float]] = {}
        return self

    # -- learning --------------------------------------------------------------------------
    def _design(self, key: Key) -> sp.csr_matrix:
        """(N, D_form) one-hot features of the drawn persons, masked for the band."""
        if key not in self._features:
            form, band = key
            answers_ = self._catalog.matrix(form)[self._rows]
            valid = answers_ >= 0
            rng = np.random.default_rng([self.seed, STREAM_SHOW, band])
            low = BAND_EDGES[band]
            high = BAND_EDGES[band + 1] - 1 if band + 1 < len(BAND_EDGES) else valid.shape[1]
            shows = shown_subsets(valid, rng.integers(low, high + 1, size=len(valid)), rng)
            self._features[key] = Layout.of(self._catalog.spec, form).one_hot(
                np.where(shows, answers_, -1))
        return self._features[key]

    def _columns(self, form: Form, q: int) -> np.ndarray:
        """Feature columns of every question but ``q``."""
        layout = Layout.of(self._catalog.spec, form)
        keep = np.ones(layout.width, dtype=bool)
        keep[layout.columns(q)] = False
        return np.flatnonzero(keep)

    def _learn(self, key: Key, q: int, Cs: tuple[float, ...], rows: np.ndarray
               ) -> list[QuestionModel]:
        """Models of question ``q`` on the drawn persons ``rows``, one per C."""
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.linear_model import LogisticRegression

        k_ref = int(self._catalog.spec.option_counts("refined")[q])
        target = self._catalog.refined[self._rows[rows], q]
        ok = target >= 0
        classes = np.unique(target[ok]).astype(np.int64)
        if len(classes) < 2:
            fixed = np.zeros(k_ref)
            fixed[classes] = 1.0
            if not len(classes):  # nobody answered: the pool's shares
                fixed = self._shares["refined"][q, :k_ref]
            return [QuestionModel(k_ref, classes, None, fixed) for _ in Cs]
        x = self._design(key)[rows[ok]][:, self._columns(key[0], q)]
        out = []
        with warnings.catch_warnings():
            # max_iter reached: the loss has long settled (see TOL)
            warnings.simplefilter("ignore", ConvergenceWarning)
            for C in Cs:
                model = LogisticRegression(C=C, max_iter=self.options.max_iter, tol=TOL)
                out.append(QuestionModel(k_ref, classes, model.fit(x, target[ok])))
        return out

    def _choose_C(self, key: Key) -> float:
        if self.options.C != "auto":
            return float(self.options.C)
        if key not in self.chosen_C:
            n_q = len(self._catalog.spec.questions)
            rng = np.random.default_rng([self.seed, STREAM_SELECT])
            questions = np.sort(rng.choice(n_q, min(SELECT_QUESTIONS, n_q), replace=False))
            self._design(key)  # built once, before any thread needs it
            fitted = self._map(lambda q: self._learn(key, q, C_GRID, self._train), questions)
            x_val = self._design(key)[self._val]
            losses: dict[float, list[np.ndarray]] = {C: [] for C in C_GRID}
            for q, models in zip(questions, fitted, strict=True):
                gold = self._catalog.refined[self._rows[self._val], q].astype(np.int64)
                ok = gold >= 0
                x = x_val[ok][:, self._columns(key[0], int(q))]
                for C, model in zip(C_GRID, models, strict=True):
                    p = model.probs(x)[np.arange(ok.sum()), gold[ok]]
                    losses[C].append(-np.log(np.clip(p, 1e-12, 1.0)))
            mean = {C: float(np.concatenate(v).mean()) if v else 0.0 for C, v in losses.items()}
            self.selection[key] = mean
            self.chosen_C[key] = min(C_GRID, key=lambda C: (mean[C], C))
        return self.chosen_C[key]

    def _map(self, learn: Callable[[int], list[QuestionModel]], questions: np.ndarray
             ) -> list[list[QuestionModel]]:
        """``learn`` of each question, on ``threads`` threads (lbfgs spends its time in numpy
        and scipy calls that release the GIL)."""
        if self.options.threads == 1 or len(questions) < 2:
            return [learn(int(q)) for q in questions]
        with ThreadPoolExecutor(self.options.threads) as pool:
            return list(pool.map(learn, [int(q) for q in questions]))

    def models(self, form: Form, band: int, questions: np.ndarray) -> list[QuestionModel]:
        """The models of ``questions`` for demonstrations in ``form`` and count ``band``
        (fitted on first use)."""
        key = (form, band)
        todo = [int(q) for q in np.unique(questions) if (form, band, int(q)) not in self._models]
        if todo:
            from threadpoolctl import threadpool_limits

            # lbfgs makes many tiny BLAS calls: spread over threads they wait on each other
            # (10x slower on a busy machine); `threads` fits whole questions side by side.
            with threadpool_limits(limits=1):
                C = self._choose_C(key)
                every = np.arange(len(self._rows))
                self._design(key)
                learned = self._map(lambda q: self._learn(key, q, (C,), every),
                                    np.array(todo))
            for q, (model,) in zip(todo, learned, strict=True):
                self._models[(form, band, q)] = model
        return [self._models[(form, band, int(q))] for q in questions]

    # -- answering -------------------------------------------------------------------------
    def predict(self, episodes: Episodes) -> Predictions:
        spec = episodes.spec
        form = episodes.demo_form
        x = Layout.of(spec, form).one_hot(demonstrated(episodes))
        n_shown = (episodes.demo_qidx >= 0).sum(axis=1)
        groups = polar_groups(spec)
        k = int(spec.option_counts(episodes.probe_form).max())
        probs = np.zeros((*episodes.probe_qidx.shape, k))
        bands = band_of(n_shown)
        for band in np.unique(bands[n_shown > 0]):
            in_band = bands == band
            questions = np.unique(episodes.probe_qidx[in_band])
            for q, model in zip(questions, self.models(form, int(band), questions),
                                strict=True):
                e, j = np.nonzero((episodes.probe_qidx == q) & in_band[:, None])
                refined = model.probs(x[e][:, self._columns(form, int(q))])
                values = in_form(refined, np.full(len(e), q), groups, episodes.probe_form)
                probs[e, j, : values.shape[1]] = values
        return answers(episodes, probs, self._shares)
