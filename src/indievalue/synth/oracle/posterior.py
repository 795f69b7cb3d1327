"""The generator's answer model inverted: a person's latent posterior given some of their answers.

For a person the unknowns are the country c, the structure level g and the 15 latent factors
z = (u_T, u_S, u_F[13]) (see ``synth.generate.values``). Given (c, g), every ordinal answer is
an interval of the probit latent ``loc[c, j] + sqrt(rho_j g) a_j.z + sqrt(1 - rho_j g) e``,
which is log-concave in z, and the postmaterialist choices are Plackett-Luce in u_S; so the
posterior of z given (c, g) has one mode, found by Newton's method, and is replaced by its
Laplace (Gaussian) approximation. That gives in closed form both the evidence of (c, g) (to mix over
countries and levels) and the predictive distribution of any other question (a probit with the
posterior variance added to the noise). The Hessian is an arrow (two global factors, thirteen
category factors that only meet the global ones), so every solve is a 2x2 Schur complement.

With sub-country groups (a generator option) the unknown "country" becomes a cell: a country
and one of its groups, whose offsets shift every answer's location; the group-free part of the
latent is scaled by ``scale``. Summing over every cell of every country would multiply the work
by the number of groups, so the countries are screened first with the group-marginal model
(each group offset taken as extra independent noise of variance ``extra_var``), through the
usual stages; only the cells of the countries that survive it are fitted, warm-started at their
country's mode (``CELL_SCHEDULE``).

An importance-sampling reference in the tests (``tests/synth/_posterior_check.py``) re-weights
samples from the Laplace proposal by the exact posterior; the tests use it to show the
approximation changes accuracy by far less than half a point.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

N_CAT = 13
N_LAT = 2 + N_CAT
BIG = 1e6  # stands in for an infinite cut point (keeps a * pdf(a) finite)
# (answers used, Newton steps) per screening stage; None = all answers
SCHEDULE: tuple[tuple[int | None, int], ...] = ((25, 2), (75, 1), (None, 1))
PRUNE_NATS = 12.0  # hypotheses this far below their episode's best are dropped after a stage
SCREEN_NATS = 12.0  # the same for the countries screened with the group-marginal model
# groups count as told apart when their likelihoods at the country's mode leave at most this
# effective number of them; otherwise the country's any-group cell stands for all its groups
GROUPS_TOLD_APART = 4.0
# the cells' stages, warm-started at their country's mode on every answer
CELL_SCHEDULE: tuple[tuple[int | None, int], ...] = ((75, 0), (None, 1))
MAX_ITERS = 25
TOL = 1e-4
GH_NODES = 16
LOG_2PI = float(np.log(2 * np.pi))


@dataclass(frozen=True)
class AnswerModel:
    """The generator's parameters in the shape the posterior needs. A *cell* is a country, or
    with sub-country groups a country and one of its groups (H = C x S cells)."""

    loc: np.ndarray  # (H, J) latent location per cell and question
    cuts: np.ndarray  # (J, K + 1) cut points, -BIG / +BIG padded: category k is cuts[k]..cuts[k+1]
    load: np.ndarray  # (J, 3) loadings (u_T, u_S, own category factor), unit norm
    cat: np.ndarray  # (J,) category factor of each question
    rho: np.ndarray  # (J,) communality
    levels: np.ndarray  # (L,) structure levels g
    log_p_level: np.ndarray  # (L,)
    log_p_country: np.ndarray  # (H,) log prior of each cell
    asked: np.ndarray  # (H, J) bool
    corr: float  # corr(u_T, u_S) within a country
    pm_battery: np.ndarray  # (J,) battery 0-2 of a postmaterialist item, -1 otherwise
    pm_second: np.ndarray  # (J,) True for the second choice of a battery
    pm_util: np.ndarray  # (H, 3, 4) goal utilities at u_S = 0
    pm_slope: np.ndarray  # (3, 4) d utility / d u_S
    cell_country: np.ndarray  # (H,) the country of each cell
    scale: float = 1.0  # factor of the group-free part of the latent
    cell_var: np.ndarray | None = None  # (H,) noise variance added for an unknown group
    screen: AnswerModel | None = None  # the countries' group-marginal model (with groups)
    cells_of: np.ndarray | None = None  # (C, S) the group cells of each country
    pseudo_of: np.ndarray | None = None  # (C,) each country's any-group cell

    def extra_var(self, cell: np.ndarray) -> np.ndarray:
        """Noise variance added in each of these cells (0 where the group is known)."""
        return np.zeros(np.shape(cell)) if self.cell_var is None else self.cell_var[cell]


@dataclass(frozen=True)
class Observed:
    """Known answers of E episodes, as latent category intervals (d = most per episode)."""

    q: np.ndarray  # (E, d) question index, -1 padded
    lo: np.ndarray  # (E, d) first latent category of the answer
    hi: np.ndarray  # (E, d) last latent category of the answer
    country: np.ndarray  # (E,) known country index, -1 when unknown


@dataclass(frozen=True)
class Posterior:
    """Laplace posteriors of every kept hypothesis (row) and their episode weights."""

    episode: np.ndarray  # (R,)
    country: np.ndarray  # (R,) cell (the country itself without sub-country groups)
    level: np.ndarray  # (R,) structure level g
    weight: np.ndarray  # (R,) posterior probability of the hypothesis within its episode
    mean: np.ndarray  # (R, 15)
    s_inv: np.ndarray  # (R, 2, 2) inverse Schur complement (covariance of u_T, u_S)
    coupling: np.ndarray  # (R, 2, 13) off-diagonal block B of the precision
    diag: np.ndarray  # (R, 13) diagonal block D of the precision
    pm_first: np.ndarray  # (R, 3) observed first choice per battery, -1 if not shown


# -- the likelihood of ordinal answers ------------------------------------------------------

def _interval_prob(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """P(a < e < b) for standard normal e, evaluated in the tail the interval lies in so that
    nearly-1 CDFs do not cancel (at least 1e-300)."""
    flip = np.where(a + b > 0, -1.0, 1.0)
    return np.maximum(np.abs(ndtr(flip * b) - ndtr(flip * a)), 1e-300)


def _interval(lower: np.ndarray, upper: np.ndarray, eta: np.ndarray, sig: np.ndarray,
              with_log: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """log P(lower < eta + sig e < upper) (0 unless ``with_log``) and its first two
    derivatives in eta."""
    a = (lower - eta) / sig
    b = (upper - eta) / sig
    p = _interval_prob(a, b)
    pa = np.exp(-0.5 * a * a) / np.sqrt(2 * np.pi)
    pb = np.exp(-0.5 * b * b) / np.sqrt(2 * np.pi)
    d1 = (pa - pb) / (sig * p)
    d2 = (a * pa - b * pb) / (sig * sig * p) - d1 * d1
    return (np.log(p) if with_log else np.zeros((len(p), 1))), d1, np.minimum(d2, 0.0)


# -- the postmaterialist batteries (functions of u_S only) ----------------------------------

def _pm_choice_probs(util: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Plackett-Luce choice probabilities from goal utilities (..., 4): P(first = a) and
    P(second = s | first = a) as (..., a, s) (zero on the diagonal)."""
    e = np.exp(util - util.max(axis=-1, keepdims=True))
    tot = e.sum(axis=-1, keepdims=True)
    first = e / tot
    second = e[..., None, :] / (tot - e)[..., :, None]
    second = np.where(np.eye(4, dtype=bool), 0.0, second)
    return first, second


def _pm_loglik(util: np.ndarray, first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """log P(shown first / second choices) per row and battery; util (R, 3, 4)."""
    p_first, p_second = _pm_choice_probs(util)
    has_f, has_s = first >= 0, second >= 0
    f = np.where(has_f, first, 0)[..., None]
    s = np.where(has_s, second, 0)[..., None]
    pf = np.take_along_axis(p_first, f, axis=-1)[..., 0]
    ps_given = np.take_along_axis(p_second, s[..., None].repeat(4, axis=-2), axis=-1)[..., 0]
    joint = pf * np.take_along_axis(ps_given, f, axis=-1)[..., 0]
    marg_s = (p_first * ps_given).sum(axis=-1)
    p = np.where(has_f & has_s, joint, np.where(has_f, pf, np.where(has_s, marg_s, 1.0)))
    return np.log(np.maximum(p, 1e-300))


def _pm_terms(m: AnswerModel, country: np.ndarray, u_s: np.ndarray, first: np.ndarray,
              second: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sum over batteries of the log-likelihood, and its derivatives in u_S (finite
    differences: three evaluations of a cheap closed form)."""
    if not ((first >= 0) | (second >= 0)).any():
        zero = np.zeros(len(u_s))
        return zero, zero, zero
    h = 1e-3
    vals = []
    for du in (-h, 0.0, h):
        util = m.pm_util[country] + m.pm_slope[None] * (u_s + du)[:, None, None]
        vals.append(_pm_loglik(util, first, second).sum(axis=1))
    lo, mid, hi = vals
    return mid, (hi - lo) / (2 * h), np.minimum((hi - 2 * mid + lo) / (h * h), 0.0)


# -- Laplace fits of many hypotheses at once ------------------------------------------------

@dataclass
class _Rows:
    """Per-hypothesis arrays over the episode's observed answers (R rows x d answers)."""

    episode: np.ndarray
    country: np.ndarray
    level: np.ndarray
    loc: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    sig: np.ndarray
    b: np.ndarray  # (3, R, d) scaled loadings
    flat_cat: np.ndarray  # (R, d) row * 13 + category
    pm_first: np.ndarray
    pm_second: np.ndarray
    prior: float  # constant part of the log prior (log det of the u_T, u_S block)
    z: np.ndarray


def _rows(m: AnswerModel, obs: Observed, episode: np.ndarray, country: np.ndarray,
          level: np.ndarray, with_pm: bool) -> _Rows:
    q = obs.q[episode]
    shown = q >= 0
    qq = np.where(shown, q, 0)
    pm = m.pm_battery[qq] >= 0
    if not with_pm:
        shown &= ~pm
    ordinal = shown & ~pm
    g = m.levels[level][:, None]
    r = m.rho[qq] * g
    scale = np.where(ordinal, m.scale * np.sqrt(r), 0.0)
    b = np.stack([scale * m.load[qq, k] for k in range(3)])
    lower = np.where(ordinal, m.cuts[qq, obs.lo[episode]], -BIG)
    upper = np.where(ordinal, m.cuts[qq, np.minimum(obs.hi[episode] + 1, m.cuts.shape[1] - 1)],
                     BIG)
    first = np.full((len(episode), 3), -1)
    second = np.full((len(episode), 3), -1)
    for k in range(q.shape[1]):
        sel = shown[:, k] & pm[:, k]
        if not sel.any():
            continue
        rows = np.flatnonzero(sel)
        bat = m.pm_battery[qq[rows, k]]
        target = np.where(m.pm_second[qq[rows, k]], 1, 0)
        goal = obs.lo[episode[rows], k]
        first[rows[target == 0], bat[target == 0]] = goal[target == 0]
        second[rows[target == 1], bat[target == 1]] = goal[target == 1]
    return _Rows(
        episode=episode, country=country, level=level, loc=m.loc[country[:, None], qq],
        lower=lower, upper=upper, sig=np.sqrt(m.scale**2 * (1.0 - r)
                                              + m.extra_var(country)[:, None]), b=b,
        flat_cat=np.arange(len(episode))[:, None] * N_CAT + m.cat[qq],
        pm_first=first, pm_second=second, prior=float(np.log(1.0 - m.corr**2)),
        z=np.zeros((len(episode), N_LAT)),
    )


@dataclass(frozen=True)
class _Fit:
    objective: np.ndarray  # (R,) log likelihood + log prior at z
    s_inv: np.ndarray
    coupling: np.ndarray
    diag: np.ndarray
    logdet: np.ndarray
    step: np.ndarray


def _global_precision(corr: float) -> np.ndarray:
    """Prior precision of (u_T, u_S), correlated ``corr`` within a country."""
    return np.array([[1.0, -corr], [-corr, 1.0]]) / (1.0 - corr * corr)


def _log_prior(z: np.ndarray, pt: np.ndarray) -> np.ndarray:
    """Log prior density of each row of z (R, 15) up to a constant: (u_T, u_S) with precision
    ``pt``, the category factors standard normal."""
    zg = z[:, :2]
    return -0.5 * (np.einsum("ri,ij,rj->r", zg, pt, zg) + (z[:, 2:] ** 2).sum(axis=1))


def _newton_step(m: AnswerModel, rows: _Rows, objective: bool = True) -> _Fit:
    z = rows.z
    n = len(z)
    zf = z[:, 2:].ravel()[rows.flat_cat]
    bt, bs, bf = rows.b
    eta = rows.loc + bt * z[:, :1] + bs * z[:, 1:2] + bf * zf
    ll, d1, d2 = _interval(rows.lower, rows.upper, eta, rows.sig, objective)
    pm_ll, pm_d1, pm_d2 = _pm_terms(m, rows.country, z[:, 1], rows.pm_first, rows.pm_second)
    pt = _global_precision(m.corr)
    zg = z[:, :2]
    value = ll.sum(axis=1) + pm_ll + _log_prior(z, pt) - 0.5 * rows.prior
    grad = np.empty_like(z)
    grad[:, 0] = (d1 * bt).sum(axis=1)
    grad[:, 1] = (d1 * bs).sum(axis=1) + pm_d1
    grad[:, :2] -= zg @ pt
    flat = rows.flat_cat.ravel()
    size = n * N_CAT

    def by_cat(x: np.ndarray) -> np.ndarray:
        return np.bincount(flat, x.ravel(), minlength=size).reshape(n, N_CAT)

    grad[:, 2:] = by_cat(d1 * bf) - z[:, 2:]
    # Precision (negative Hessian) in arrow form: A_g (2x2), B (2x13), D (13, diagonal).
    w = -d2
    ag = np.empty((n, 2, 2))
    ag[:, 0, 0] = (w * bt * bt).sum(axis=1)
    ag[:, 0, 1] = ag[:, 1, 0] = (w * bt * bs).sum(axis=1)
    ag[:, 1, 1] = (w * bs * bs).sum(axis=1) - pm_d2
    ag += pt
    coupling = np.stack([by_cat(w * bt * bf), by_cat(w * bs * bf)], axis=1)
    diag = by_cat(w * bf * bf) + 1.0
    schur = ag - np.einsum("rik,rk,rjk->rij", coupling, 1.0 / diag, coupling)
    s_inv = np.linalg.inv(schur)
    # Solve A step = grad with the block formulas.
    gf = grad[:, 2:] / diag
    step_g = np.einsum("rij,rj->ri", s_inv, grad[:, :2] - np.einsum("rik,rk->ri", coupling, gf))
    step_f = gf - np.einsum("rik,ri->rk", coupling, step_g) / diag
    logdet = np.log(diag).sum(axis=1) + np.log(np.linalg.det(schur))
    return _Fit(value, s_inv, coupling, diag, logdet, np.concatenate([step_g, step_f], 1))


def _log_evidence(m: AnswerModel, rows: _Rows, fit: _Fit) -> np.ndarray:
    return (fit.objective - 0.5 * fit.logdet + m.log_p_country[rows.country]
            + m.log_p_level[rows.level])


def _weights(episode: np.ndarray, logw: np.ndarray, n_ep: int) -> np.ndarray:
    best = np.full(n_ep, -np.inf)
    np.maximum.at(best, episode, logw)
    w = np.exp(logw - best[episode])
    tot = np.bincount(episode, w, minlength=n_ep)
    return w / tot[episode]


def _candidates(m: AnswerModel, obs: Observed, extra_q: np.ndarray | None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(episode, cell, level) of every hypothesis whose cells asked the most of the episode's
    shown and probed questions (and hold the shown country, if any)."""
    n_ep = len(obs.q)
    cells = np.arange(m.loc.shape[0])
    if m.pseudo_of is not None:  # the any-group cells stand in for groups, never beside them
        cells = np.setdiff1d(cells, m.pseudo_of)
    n_c, n_l = len(cells), len(m.levels)
    ep = np.repeat(np.arange(n_ep), n_c * n_l)
    country = np.tile(np.repeat(cells, n_l), n_ep)
    level = np.tile(np.arange(n_l), n_ep * n_c)
    known = obs.country[ep]
    asked_q = obs.q if extra_q is None else np.concatenate([obs.q, extra_q], axis=1)
    valid = asked_q >= 0
    not_asked = ((~m.asked[:, np.where(valid, asked_q, 0)]) & valid[None]).sum(axis=2).T
    penalty = not_asked[ep, country].astype(np.float64)
    penalty[(known >= 0) & (known != m.cell_country[country])] = np.inf
    best_pen = np.full(n_ep, np.inf)
    np.minimum.at(best_pen, ep, penalty)
    keep = penalty <= best_pen[ep]
    return ep[keep], country[keep], level[keep]


def _stages(m: AnswerModel, obs: Observed, ep: np.ndarray, country: np.ndarray,
            level: np.ndarray, z: np.ndarray, schedule: tuple[tuple[int | None, int], ...],
            prune: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Successive halving: fit every hypothesis on a few answers, drop those ``prune`` nats
    behind their episode's best, refit the rest on more answers, warm-started."""
    n_ep = len(obs.q)
    for n_answers, iters in schedule:
        stride = max(1, -(-obs.q.shape[1] // n_answers)) if n_answers else 1
        sub = Observed(obs.q[:, ::stride], obs.lo[:, ::stride], obs.hi[:, ::stride],
                       obs.country)
        rows = _rows(m, sub, ep, country, level, with_pm=n_answers is None)
        rows.z = z
        for _ in range(iters):
            rows.z = rows.z + _newton_step(m, rows, objective=False).step
        fit = _newton_step(m, rows)
        logw = _log_evidence(m, rows, fit)
        best = np.full(n_ep, -np.inf)
        np.maximum.at(best, ep, logw)
        sel = logw >= best[ep] - prune
        ep, country, level, z = ep[sel], country[sel], level[sel], rows.z[sel] + fit.step[sel]
    return ep, country, level, z


def _groups(m: AnswerModel, obs: Observed, ep: np.ndarray, nation: np.ndarray,
            level: np.ndarray, z: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The cells that replace each screened (episode, country, level) hypothesis: its group
    cells within ``PRUNE_NATS`` of the best when the answers single out a few groups (their
    likelihoods compared at the country's mode), else the country's any-group cell."""
    assert m.cells_of is not None and m.pseudo_of is not None
    n_s = m.cells_of.shape[1]
    # Every group of a hypothesis shares its cut points, loadings and noise (those of its first
    # group's cell); only the locations differ.
    rows = _rows(m, obs, ep, m.cells_of[nation, 0], level, with_pm=False)
    zf = z[:, 2:].ravel()[rows.flat_cat]
    shared = rows.b[0] * z[:, :1] + rows.b[1] * z[:, 1:2] + rows.b[2] * zf  # (R, d)
    q = obs.q[ep]
    loc = m.loc[m.cells_of[nation][:, :, None], np.where(q >= 0, q, 0)[:, None, :]]  # (R, S, d)
    eta = loc + shared[:, None, :]
    sig = rows.sig[:, None, :]
    ll = np.log(_interval_prob((rows.lower[:, None, :] - eta) / sig,
                               (rows.upper[:, None, :] - eta) / sig)).sum(axis=-1)  # (R, S)
    top = ll.max(axis=1, keepdims=True)
    w = np.exp(ll - top)
    total = w.sum(axis=1)
    told = total**2 / (w * w).sum(axis=1) <= GROUPS_TOLD_APART
    # Across the episode's hypotheses, a cell's likelihood at its country's mode plus its
    # priors (cell, level, the mode's) ranks it; those far behind the episode's best go.
    base = (m.log_p_country[m.pseudo_of[nation]] + m.log_p_level[level]
            + _log_prior(z, _global_precision(m.corr)))
    score = ll + (base - np.log(n_s))[:, None]  # (R, S)
    any_score = base + top[:, 0] + np.log(total / n_s)  # the mixture over the groups
    best = np.full(len(obs.q), -np.inf)
    np.maximum.at(best, ep, np.where(told, score.max(axis=1), any_score))
    floor = (best[ep] - 2 * PRUNE_NATS)[:, None]
    keep = told[:, None] & (ll >= top - PRUNE_NATS) & (score >= floor)
    r, g = np.nonzero(keep)
    any_group = np.flatnonzero(~told & (any_score >= floor[:, 0]))
    take = np.concatenate([r, any_group])
    cells = np.concatenate([m.cells_of[nation[r], g], m.pseudo_of[nation[any_group]]])
    return ep[take], cells, level[take], z[take]


def fit_posterior(m: AnswerModel, obs: Observed, extra_q: np.ndarray | None = None
                  ) -> Posterior:
    """Laplace posteriors of every plausible (cell, level) hypothesis of every episode.

    Hypotheses are fitted in stages (``SCHEDULE``) on growing, evenly spaced subsets of the
    answers; after each stage those more than ``PRUNE_NATS`` below their episode's best are
    dropped, and the survivors end at the mode on all answers. ``extra_q`` (E, m) are
    questions known to be answered (the probes): countries that never asked a shown or probed
    question are ruled out unless no country asked them all. With sub-country groups the
    countries are screened first (``AnswerModel.screen``, ``SCREEN_NATS``) and only the cells
    of the survivors enter the stages.
    """
    n_ep = len(obs.q)
    if m.screen is None:
        ep, country, level = _candidates(m, obs, extra_q)
        z = np.zeros((len(ep), N_LAT))
    else:
        ep, nation, level = _candidates(m.screen, obs, extra_q)
        ep, nation, level, z = _stages(m.screen, obs, ep, nation, level,
                                       np.zeros((len(ep), N_LAT)), SCHEDULE, SCREEN_NATS)
        ep, country, level, z = _groups(m, obs, ep, nation, level, z)
    ep, country, level, z = _stages(m, obs, ep, country, level, z,
                                    SCHEDULE if m.screen is None else CELL_SCHEDULE, PRUNE_NATS)
    full = _rows(m, obs, ep, country, level, with_pm=True)
    full.z = z
    # A row stops moving once its step is below TOL, so its result never depends on which
    # other episodes share the batch.
    active = np.ones(len(full.z), dtype=bool)
    for _ in range(MAX_ITERS):
        fit = _newton_step(m, full)
        active &= np.abs(fit.step).max(axis=1, initial=0.0) >= TOL
        if not active.any():
            break
        full.z = full.z + np.where(active[:, None], fit.step, 0.0)
    else:
        fit = _newton_step(m, full)
    weight = _weights(full.episode, _log_evidence(m, full, fit), n_ep)
    return Posterior(full.episode, full.country, m.levels[full.level], weight, full.z,
                     fit.s_inv, fit.coupling, fit.diag, full.pm_first)


# -- predictions ------------------------------------------------------------------------------

def _latent_var(post: Posterior, load: np.ndarray, cat: np.ndarray) -> np.ndarray:
    """Posterior variance of a_j . z for each row (R,) and question (R, m): load (R, m, 3)."""
    r = np.arange(len(post.episode))[:, None]
    b_k = post.coupling[r, :, cat]  # (R, m, 2)
    d_k = post.diag[r, cat]  # (R, m)
    vf = load[..., 2]
    c = b_k * (vf / d_k)[..., None]
    v = load[..., :2] - c
    quad = np.einsum("rmi,rij,rmj->rm", v, post.s_inv, v)
    return quad + vf * vf / d_k


def category_probs(m: AnswerModel, post: Posterior, probe_q: np.ndarray) -> np.ndarray:
    """(E, m, K) posterior predictive probability of each latent category of each probe."""
    q = probe_q[post.episode]  # (R, m)
    load = m.load[q]
    cat = m.cat[q]
    r = np.arange(len(post.episode))[:, None]
    zf = post.mean[r, 2 + cat]
    mean = (load[..., 0] * post.mean[:, :1] + load[..., 1] * post.mean[:, 1:2]
            + load[..., 2] * zf)
    g = post.level[:, None] * m.rho[q]
    eta = m.loc[post.country[:, None], q] + m.scale * np.sqrt(g) * mean
    sd = np.sqrt(m.scale**2 * (1.0 - g + g * _latent_var(post, load, cat))
                 + m.extra_var(post.country)[:, None])
    cdf = ndtr((m.cuts[q] - eta[..., None]) / sd[..., None])  # (R, m, K+1)
    probs = np.diff(cdf, axis=-1)
    pm = m.pm_battery[q] >= 0
    if pm.any():
        probs[pm] = 0.0
        probs[..., :4] += _pm_probs(m, post, q) * pm[..., None]
    out = np.zeros((len(probe_q), *probs.shape[1:]))
    np.add.at(out, post.episode, probs * post.weight[:, None, None])
    return out


def _pm_probs(m: AnswerModel, post: Posterior, q: np.ndarray) -> np.ndarray:
    """(R, m, 4) predictive goal probabilities of postmaterialist probes (0 elsewhere):
    Gauss-Hermite over the posterior of u_S."""
    nodes, wts = np.polynomial.hermite_e.hermegauss(GH_NODES)
    wts = wts / wts.sum()
    sd = np.sqrt(np.maximum(post.s_inv[:, 1, 1], 0.0))
    u = post.mean[:, 1:2] + sd[:, None] * nodes[None]  # (R, n)
    util = m.pm_util[post.country][:, None] + m.pm_slope[None, None] * u[..., None, None]
    p_first, p_second = _pm_choice_probs(util)  # (R, n, 3, 4), (R, n, 3, a, 4)
    marg_second = np.einsum("rnba,rnbas->rnbs", p_first, p_second)
    first = post.pm_first  # (R, 3)
    idx = np.broadcast_to(np.maximum(first, 0)[:, None, :, None, None], (*p_second.shape[:3], 1, 4))
    given = np.take_along_axis(p_second, idx, axis=3)[..., 0, :]
    second = np.where((first >= 0)[:, None, :, None], given, marg_second)
    pf = np.einsum("n,rnbs->rbs", wts, p_first)
    ps = np.einsum("n,rnbs->rbs", wts, second)
    bat = np.maximum(m.pm_battery[q], 0)
    r = np.arange(len(q))[:, None]
    out = np.where(m.pm_second[q][..., None], ps[r, bat], pf[r, bat])
    return np.where((m.pm_battery[q] >= 0)[..., None], out, 0.0)
