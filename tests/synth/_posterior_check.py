"""An exact reference for the oracle: importance sampling of the latent posterior.

The oracle replaces each (country, level) posterior of the latent factors by its Laplace
approximation. Here the same hypotheses are integrated by importance sampling instead: draws
from a widened multivariate-t version of the Laplace posterior, weighted by the exact joint
density, give both the evidence of each hypothesis and the predictive probabilities (exact up
to Monte Carlo error). Used by the tests and the design note; far too slow for evaluation.
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln, logsumexp, ndtr

from indievalue.synth.oracle.posterior import (
    N_LAT,
    AnswerModel,
    Observed,
    Posterior,
    _newton_step,
    _pm_choice_probs,
    _rows,
    category_probs,
    fit_posterior,
)

WIDEN = 1.5  # proposal scale relative to the Laplace posterior
DOF = 5.0  # proposal degrees of freedom (heavier tails than the posterior)
MIN_WEIGHT = 1e-8  # hypotheses below this Laplace weight are not resampled


def _precision(post: Posterior, r: int) -> np.ndarray:
    """The dense 15 x 15 precision of row r, rebuilt from its arrow blocks."""
    s = np.linalg.inv(post.s_inv[r])
    b, d = post.coupling[r], post.diag[r]
    a = np.zeros((N_LAT, N_LAT))
    a[2:, 2:] = np.diag(d)
    a[:2, 2:], a[2:, :2] = b, b.T
    a[:2, :2] = s + b @ np.diag(1.0 / d) @ b.T
    return a


def importance_probs(m: AnswerModel, obs: Observed, probe_q: np.ndarray, n_samples: int = 2000,
                     seed: int = 0) -> np.ndarray:
    """(E, m, K) predictive latent-category probabilities of the probes by importance sampling
    (same output as :func:`indievalue.synth.oracle.posterior.category_probs`)."""
    post = fit_posterior(m, obs, extra_q=probe_q)
    rng = np.random.default_rng(seed)
    n_ep, k = len(obs.q), m.cuts.shape[1] - 1
    out = np.zeros((n_ep, probe_q.shape[1], k))
    for e in range(n_ep):
        rows = np.flatnonzero((post.episode == e) & (post.weight > MIN_WEIGHT))
        log_ev, preds = [], []
        for r in rows:
            ev, pred = _sample_row(m, obs, post, probe_q, int(r), n_samples, rng)
            log_ev.append(ev)
            preds.append(pred)
        w = np.exp(np.array(log_ev) - logsumexp(log_ev))
        out[e] = np.einsum("h,hmk->mk", w, np.array(preds))
    return out


def assert_laplace_matches_sampling(m: AnswerModel, obs: Observed, probe_q: np.ndarray) -> None:
    """The oracle's Laplace predictive probabilities agree with importance sampling: mean
    absolute difference < 0.01, the same most likely category for > 95 % of the probes."""
    laplace = category_probs(m, fit_posterior(m, obs, extra_q=probe_q), probe_q)
    exact = importance_probs(m, obs, probe_q, n_samples=3000, seed=1)
    assert np.abs(laplace - exact).mean() < 0.01
    assert (laplace.argmax(-1) == exact.argmax(-1)).mean() > 0.95


def _sample_row(m: AnswerModel, obs: Observed, post: Posterior, probe_q: np.ndarray, r: int,
                n: int, rng: np.random.Generator) -> tuple[float, np.ndarray]:
    e, c = int(post.episode[r]), int(post.country[r])
    level = int(np.flatnonzero(m.levels == post.level[r])[0])
    cov = np.linalg.inv(_precision(post, r)) * WIDEN**2
    chol = np.linalg.cholesky(cov)
    g = rng.standard_normal((n, N_LAT))
    scale = np.sqrt(DOF / rng.chisquare(DOF, n))
    z = post.mean[r] + (g @ chol.T) * scale[:, None]
    # log density of the multivariate t proposal
    dev = np.linalg.solve(chol, (z - post.mean[r]).T).T
    log_q = (gammaln((DOF + N_LAT) / 2) - gammaln(DOF / 2) - 0.5 * N_LAT * np.log(DOF * np.pi)
             - np.log(np.diag(chol)).sum()
             - 0.5 * (DOF + N_LAT) * np.log1p((dev * dev).sum(axis=1) / DOF))
    one = Observed(obs.q[e : e + 1], obs.lo[e : e + 1], obs.hi[e : e + 1], obs.country[e : e + 1])
    rows = _rows(m, one, np.zeros(n, dtype=np.int64), np.full(n, c), np.full(n, level),
                 with_pm=True)
    rows.z = z
    log_joint = _newton_step(m, rows).objective  # exact log likelihood + log prior (no 2 pi)
    log_w = log_joint - log_q
    log_ev = float(logsumexp(log_w) - np.log(n) - 0.5 * N_LAT * np.log(2 * np.pi)
                   + m.log_p_country[c] + m.log_p_level[level])
    w = np.exp(log_w - logsumexp(log_w))
    return log_ev, _predict_at(m, c, float(post.level[r]), z, w, probe_q[e],
                               post.pm_first[r])


def _predict_at(m: AnswerModel, c: int, g: float, z: np.ndarray, w: np.ndarray, q: np.ndarray,
                pm_first: np.ndarray) -> np.ndarray:
    """Weighted average over samples z of each probe's exact category probabilities."""
    load, cat = m.load[q], m.cat[q]
    shared = (z[:, :1] * load[None, :, 0] + z[:, 1:2] * load[None, :, 1]
              + z[:, 2:][:, cat] * load[None, :, 2])  # (n, m)
    rr = g * m.rho[q]
    eta = m.loc[c, q] + m.scale * np.sqrt(rr) * shared
    sd = np.sqrt(m.scale**2 * (1.0 - rr) + m.extra_var(np.array(c)))
    cdf = ndtr((m.cuts[q][None] - eta[..., None]) / sd[None, :, None])
    probs = np.diff(cdf, axis=-1)  # (n, m, K)
    pm = np.flatnonzero(m.pm_battery[q] >= 0)
    if len(pm):
        util = m.pm_util[c][None] + m.pm_slope[None] * z[:, 1, None, None]
        p_first, p_second = _pm_choice_probs(util)  # (n, 3, 4), (n, 3, a, 4)
        for j in pm:
            b = int(m.pm_battery[q[j]])
            probs[:, j] = 0.0
            if not m.pm_second[q[j]]:
                probs[:, j, :4] = p_first[:, b]
            elif pm_first[b] >= 0:
                probs[:, j, :4] = p_second[:, b, pm_first[b]]
            else:
                probs[:, j, :4] = np.einsum("na,nas->ns", p_first[:, b], p_second[:, b])
    return np.einsum("n,nmk->mk", w, probs)
