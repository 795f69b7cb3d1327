"""``factor``: a low-rank Gaussian model of the answers, conditioned on the demonstrations.

Model. A person's refined answers, one-hot encoded (x: one indicator per refined option, 929
for the built-in spec), are Gaussian, x = μ + W z + ε with z ~ N(0, I_k) and ε ~ N(0, Ψ), Ψ
diagonal: probabilistic PCA of the standardised indicators. μ is each option's share among
the persons who answered its question and s = sqrt(μ(1 − μ)) its standard deviation; S is the
indicators' correlation matrix, each entry estimated from the persons who answered both
questions (available-case: a missing answer is left out, not filled in); with λ, U the
eigenpairs of S, W = diag(s) U_k (Λ_k − σ²)^½ and Ψ = σ² diag(s²), σ² the mean of the
eigenvalues past the k-th over the dimensions that can vary (the indicators of a question sum
to one, which leaves one null direction per question). Every rank comes from one
eigendecomposition, so the rank is chosen on a validation split of the pool at the cost of a
prediction per candidate.

Conditioning (closed form). Given the shown coordinates O, z is Gaussian with mean
M⁻¹ W_Oᵀ Ψ_O⁻¹ (x_O − μ_O), M = I + W_Oᵀ Ψ_O⁻¹ W_O (the Woodbury form: a k × k solve per
episode, never an |O| × |O| one), and a probe's indicators have mean μ_P + W_P E[z | x_O].
A polar demonstration observes y = A x, A summing each polar option's refined indicators, so
y = Aμ + AW z + Aε, and AΨAᵀ is diagonal because every refined option belongs to one polar
option: the same formula with loadings AW, noise AΨ and mean Aμ. Polar probes sum the refined
means the same way. One model therefore serves both forms of demonstrations and probes.

Probabilities. The conditional mean of an option's indicator is the model's estimate of its
probability (a linear probability model); it can leave [0, 1], so it is clipped below at
``floor`` and renormalised over the probe's options (``floor`` also chosen on validation).

Demonstrations only: demographic statements are not read, so ``demographics=only`` and
``d = 0`` episodes get the pool's answer shares (the majority baseline's probabilities).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

import numpy as np
from pydantic import Field

from indievalue.benchmark.episodes import Episodes
from indievalue.catalog.spec import Form, StatementSpec
from indievalue.errors import IndieValueError
from indievalue.predictors.base import (
    Predictions,
    Predictor,
    PredictorOptions,
    TrainingPool,
    register_predictor,
)
from indievalue.predictors.classical import (
    Layout,
    answers,
    demonstrated,
    in_form,
    mixed_counts,
    polar_groups,
    pool_shares,
    sample_rows,
    shown_subsets,
    split,
)

RANKS = (4, 8, 16, 32, 64, 128)
FLOORS = (0.005, 0.01, 0.02, 0.05)
TARGET_SHARE = 0.15  # validation: questions held out per person as probes
MIN_SD = 0.01  # indicators (almost) nobody picks: keeps Ψ away from zero
MIN_NOISE = 1e-3
CHUNK = 4096  # rows per block of the correlation sums
CHUNK_EPISODES = 256  # bounds the (E, k, k) precision matrices at 32 MB for k = 128
STREAM_VALIDATION = 19


class FactorOptions(PredictorOptions):
    rank: Literal["auto"] | Annotated[int, Field(ge=1, le=512)] = Field(
        "auto", description="Number of factors; 'auto' picks from 4, 8, 16, 32, 64, 128 by "
        "log loss on a validation split of the pool.")
    floor: Literal["auto"] | Annotated[float, Field(gt=0, lt=0.5)] = Field(
        "auto", description="Lowest option probability before renormalising; 'auto' picks "
        "from 0.005, 0.01, 0.02, 0.05 on the validation split.")
    pool_size: int = Field(
        20000, ge=2, description="Learn from at most this many training-pool persons (a "
        "seeded sample when the pool is larger).")
    threads: int = Field(
        1, ge=1, le=256, description="BLAS threads while fitting and predicting. The "
        "matrices are small (929 x 929), so one thread loses little on an idle machine and "
        "avoids contention (4x slower eigendecompositions) on a busy one.")


@dataclass(frozen=True)
class Eigen:
    """What every rank is read from: indicator means, standard deviations, and the eigenpairs
    (descending) of their correlation matrix."""

    mean: np.ndarray  # (D,)
    sd: np.ndarray  # (D,)
    values: np.ndarray  # (D,)
    vectors: np.ndarray  # (D, D)
    n_questions: int

    @classmethod
    def of(cls, refined: np.ndarray, layout: Layout) -> Eigen:
        # Blocks of rows: the dense one-hot of a whole pool would take 0.7 GB.
        blocks = [slice(start, start + CHUNK) for start in range(0, len(refined), CHUNK)]
        chosen = np.asarray(sum((layout.one_hot(refined[b]).sum(axis=0) for b in blocks),
                                np.zeros((1, layout.width)))).ravel()
        answered = np.repeat((refined >= 0).sum(axis=0), layout.counts)
        mean = np.divide(chosen, answered, out=np.zeros(layout.width), where=answered > 0)
        sd = np.maximum(np.sqrt(mean * (1 - mean)), MIN_SD)
        products = np.zeros((layout.width, layout.width))
        pairs = np.zeros((layout.width, layout.width))
        for block in blocks:
            seen = np.repeat(refined[block] >= 0, layout.counts, axis=1)
            z = np.where(seen, (layout.one_hot(refined[block]).toarray() - mean) / sd, 0.0)
            v = seen.astype(np.float64)
            products += z.T @ z
            pairs += v.T @ v
        corr = products / np.maximum(pairs, 1.0)
        values, vectors = np.linalg.eigh(corr)
        return cls(mean, sd, values[::-1].copy(), vectors[:, ::-1].copy(), len(layout.counts))

    def factors(self, rank: int) -> Factors:
        d = len(self.values)
        k = max(1, min(rank, d - self.n_questions - 1))
        free = max(d - self.n_questions - k, 1)
        noise = max(float(self.values[k:].sum()) / free, MIN_NOISE)
        scale = np.sqrt(np.maximum(self.values[:k] - noise, 0.0))
        loadings = self.vectors[:, :k] * scale * self.sd[:, None]
        return Factors(self.mean, loadings, noise * self.sd**2)


@dataclass(frozen=True)
class Factors:
    """x = mean + loadings z + ε, ε ~ N(0, diag(noise)), over the indicators of one form."""

    mean: np.ndarray  # (D,)
    loadings: np.ndarray  # (D, k)
    noise: np.ndarray  # (D,)

    def summed(self, spec: StatementSpec) -> Factors:
        """The model of the polar indicators, sums of refined ones (this model's)."""
        refined, polar = Layout.of(spec, "refined"), Layout.of(spec, "polar")
        groups = polar_groups(spec)
        target = np.concatenate([polar.offsets[q] + groups[q, : refined.counts[q]]
                                 for q in range(len(refined.counts))])
        parts = (self.mean, self.loadings, self.noise)
        out = [np.zeros((polar.width, *a.shape[1:])) for a in parts]
        for o, a in zip(out, parts, strict=True):
            np.add.at(o, target, a)
        return Factors(*out)


@dataclass(frozen=True)
class Observation:
    """How demonstrations of one form inform the factors: that form's indicator model and, per
    question, Σ_j l_j l_jᵀ / ψ_j over its indicators (so M = I + shown @ gram)."""

    factors: Factors
    layout: Layout
    gram: np.ndarray  # (Q, k * k)

    @classmethod
    def of(cls, model: Factors, form: Form, spec: StatementSpec) -> Observation:
        obs = model if form == "refined" else model.summed(spec)
        layout = Layout.of(spec, form)
        k = obs.loadings.shape[1]
        gram = np.empty((len(layout.counts), k * k))
        for q in range(len(layout.counts)):
            part = obs.loadings[layout.columns(q)]
            gram[q] = ((part / obs.noise[layout.columns(q), None]).T @ part).reshape(-1)
        return cls(obs, layout, gram)

    def latent_means(self, shown: np.ndarray) -> np.ndarray:
        """(E, k) E[z | shown answers] ((E, Q) option indices, -1 = not shown)."""
        obs, layout = self.factors, self.layout
        k = obs.loadings.shape[1]
        out = np.zeros((len(shown), k))
        for start in range(0, len(shown), CHUNK_EPISODES):
            part = shown[start : start + CHUNK_EPISODES]
            is_shown = part >= 0
            precision = np.eye(k) + (is_shown.astype(np.float64) @ self.gram).reshape(-1, k, k)
            seen = np.repeat(is_shown, layout.counts, axis=1)
            resid = np.where(seen, layout.one_hot(part).toarray() - obs.mean, 0.0)
            rhs = (resid / obs.noise) @ obs.loadings
            out[start : start + len(part)] = np.linalg.solve(precision, rhs[..., None])[..., 0]
        return out


def option_probs(means: np.ndarray, rows: np.ndarray, q: np.ndarray, form: Form,
                 spec: StatementSpec, floor: float) -> np.ndarray:
    """(n, K) probabilities of the options (in ``form``) of question ``q[i]`` from the refined
    indicator means ``means[rows[i]]``: summed into polar options if asked, clipped at
    ``floor``, renormalised; zero beyond the question's options."""
    layout = Layout.of(spec, "refined")
    k_ref = int(layout.counts.max())
    inside_ref = np.arange(k_ref) < layout.counts[q][:, None]
    cols = np.where(inside_ref, layout.offsets[q][:, None] + np.arange(k_ref), 0)
    refined = np.where(inside_ref, means[rows[:, None], cols], 0.0)
    values = in_form(refined, q, polar_groups(spec), form)
    inside = np.arange(values.shape[1]) < spec.option_counts(form)[q][:, None]
    clipped = np.where(inside, np.maximum(values, floor), 0.0)
    out: np.ndarray = clipped / clipped.sum(axis=1, keepdims=True)
    return out


@register_predictor("factor")
class FactorPredictor(Predictor):
    """Low-rank Gaussian (probabilistic PCA) model of the one-hot answers; see the module
    docstring. ``selection`` holds the validation log loss of every (rank, floor) tried."""

    Options = FactorOptions
    gives_probabilities = True
    options: FactorOptions

    def fit(self, pool: TrainingPool) -> FactorPredictor:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=self.options.threads):
            return self._fit(pool)

    def _fit(self, pool: TrainingPool) -> FactorPredictor:
        spec = pool.catalog.spec
        layout = Layout.of(spec, "refined")
        refined = pool.catalog.refined[sample_rows(pool, self.options.pool_size, self.seed)]
        self._shares = pool_shares(pool)
        self.selection: dict[tuple[int, float], float] = {}
        rank, floor = self.options.rank, self.options.floor
        if rank == "auto" or floor == "auto":
            train, val = split(len(refined), self.seed)
            if not len(val):
                raise IndieValueError(f"factor: a training pool of {len(refined)} person(s) "
                                      "leaves none to choose rank and floor on; set both")
            eigen = Eigen.of(refined[train], layout)
            ranks = RANKS if rank == "auto" else (rank,)
            floors = FLOORS if floor == "auto" else (floor,)
            self.selection = validate(eigen, refined[val], spec, ranks, floors, self.seed)
            rank, floor = min(self.selection, key=lambda key: (self.selection[key], key))
        self._model = Eigen.of(refined, layout).factors(int(rank))
        self.rank, self.floor = self._model.loadings.shape[1], float(floor)
        self._observations: dict[Form, Observation] = {}
        return self

    def _observation(self, form: Form, spec: StatementSpec) -> Observation:
        if form not in self._observations:
            self._observations[form] = Observation.of(self._model, form, spec)
        return self._observations[form]

    def predict(self, episodes: Episodes) -> Predictions:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=self.options.threads):
            return self._predict(episodes)

    def _predict(self, episodes: Episodes) -> Predictions:
        spec = episodes.spec
        latent = self._observation(episodes.demo_form, spec).latent_means(
            demonstrated(episodes))
        means = self._model.mean + latent @ self._model.loadings.T
        rows = np.repeat(np.arange(len(episodes)), episodes.probe_qidx.shape[1])
        q = episodes.probe_qidx.reshape(-1).astype(np.int64)
        probs = option_probs(means, rows, q, episodes.probe_form, spec, self.floor)
        return answers(episodes, probs.reshape(*episodes.probe_qidx.shape, -1), self._shares)


def validate(eigen: Eigen, refined: np.ndarray, spec: StatementSpec, ranks: tuple[int, ...],
             floors: tuple[float, ...], seed: int) -> dict[tuple[int, float], float]:
    """Refined log loss of every (rank, floor) on validation persons: each holds out a random
    ``TARGET_SHARE`` of their answered questions as probes and shows answers of the rest as
    the simulated demonstration regime does."""
    rng = np.random.default_rng([seed, STREAM_VALIDATION])
    valid = refined >= 0
    target = valid & (rng.random(refined.shape) < TARGET_SHARE)
    counts = mixed_counts(len(refined), refined.shape[1], rng)
    shown = np.where(shown_subsets(valid & ~target, counts, rng), refined, -1).astype(np.int8)
    e, q = np.nonzero(target)
    gold = refined[e, q].astype(np.int64)
    out: dict[tuple[int, float], float] = {}
    for rank in ranks:
        model = eigen.factors(rank)
        latent = Observation.of(model, "refined", spec).latent_means(shown)
        means = model.mean + latent @ model.loadings.T
        for floor in floors:
            probs = option_probs(means, e, q.astype(np.int64), "refined", spec, floor)
            out[(rank, floor)] = float(-np.mean(np.log(probs[np.arange(len(gold)), gold])))
    return out
