"""Answers to the 253 value questions: latent factors, an ordinal response model, missingness.

For person p in country c and question j the latent response is, with r = rho[j] * g[p],

    y = loc[c, j] + sqrt(r) * (w_T u_T + w_S u_S + w_F u_F[cat j]) + sqrt(1 - r) * e

with (w_T, w_S, w_F) a unit vector and every u and e standard normal within a country, so
y | c ~ N(loc[c, j], 1) whatever the loadings, the communality or the person: marginals are set
by ``loc`` and the cut points ``tau`` alone. ``rho`` sets how much of an answer is shared
structure (Inglehart-Welzel traditional/secular and survival/self-expression axes u_T, u_S, one
factor per category u_F) rather than idiosyncrasy, and the person's structure level g (a few
discrete values, ``structure_levels`` / ``structure_p``) scales it: some persons answer almost
deterministically from their values, others mostly idiosyncratically. The answer is the number
of cut points below y, mapped to raw codes in latent order.

With ``sub_groups`` > 0 in the scalars (shipped since generator 1.2.0: 60 groups there, 15
since 1.3.0; 0 or absent: none) every country is split into that many equal-sized
**sub-country groups**, each with its own offset a[c, s, j] on every ordinal question (fixed
parameters of the world, drawn from ``sub_seed``; over a country's groups their mean is 0 and
their mean square ``sub_sd``^2), and the rest of the latent is scaled by sqrt(1 - sub_sd^2),
so y | c still has mean loc[c, j] and variance 1:

    y = loc[c, j] + a[c, s, j] + sqrt(1 - sub_sd^2) * (sqrt(r) * shared + sqrt(1 - r) * e)

A group shares many weak, question-specific tendencies that no low-dimensional factor holds;
a larger pool holds more members of a person's own group, so nearest-neighbour voting gains
more from pool size (docs/design/synthetic-population.md, "Small pools").

The postmaterialist batteries are first/second choices among four goals (top two of
Gumbel-perturbed utilities), not ordinal items. ``synth.oracle.posterior`` inverts exactly this
model (the oracle), groups included.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from indievalue.synth.generate.params import SynthParams
from indievalue.synth.generate.persons import Persons

N_CATEGORIES = 13
PM_PAIRS = (("Q152", "Q153"), ("Q154", "Q155"), ("Q156", "Q157"))
DEMOCRACY_ITEMS = tuple(f"Q{i}" for i in range(241, 250))  # also carry a spontaneous 0
PM_LATENT_WEIGHT = 0.6  # weight of the person's u_S in the goal utilities (country adds 1.0)


@dataclass(frozen=True)
class Latents:
    """Within-country standardised person factors."""

    trad_secular: np.ndarray  # (n,)
    surv_self: np.ndarray  # (n,)
    category: np.ndarray  # (n, 13)
    structure: np.ndarray  # (n,) the person's share g of each question's communality
    subgroup: np.ndarray | None = None  # (n,) sub-country group, None without groups


def _standardise_within(x: np.ndarray, group: np.ndarray, n_groups: int) -> np.ndarray:
    cnt = np.maximum(np.bincount(group, minlength=n_groups), 1)
    mean = np.bincount(group, x, n_groups) / cnt
    var = np.bincount(group, x * x, n_groups) / cnt - mean**2
    return (x - mean[group]) / np.sqrt(np.maximum(var, 1e-12))[group]


def draw_latents(p: SynthParams, persons: Persons, rng: np.random.Generator) -> Latents:
    n = len(persons.country)
    demo_t = p.scalar("demo_weight_t")
    demo_s = p.scalar("demo_weight_s")
    # Secular / self-expression values rise with education and youth and fall with religion.
    t = demo_t * (0.45 * persons.edu_z - 0.35 * persons.age_z - 0.8 * persons.religious)
    s = demo_s * (0.5 * persons.edu_z - 0.3 * persons.age_z + 0.3 * persons.status)
    t = t + rng.standard_normal(n)
    s = s + 0.3 * t + rng.standard_normal(n)
    k = p.n_countries
    category = rng.standard_normal((n, N_CATEGORIES))
    # Persons differ in how structured their answers are: a few discrete levels of g.
    levels, probs = p["structure_levels"], p["structure_p"]
    structure = levels[np.minimum(np.searchsorted(np.cumsum(probs), rng.random(n) * probs.sum(),
                                                  side="right"), len(levels) - 1)]
    groups = sub_groups(p)
    # drawn last, so that without groups every other draw is what it always was
    subgroup = rng.integers(0, groups, n) if groups else None
    return Latents(
        trad_secular=_standardise_within(t, persons.country, k),
        surv_self=_standardise_within(s, persons.country, k),
        category=category,
        structure=structure.astype(np.float64),
        subgroup=subgroup,
    )


def sub_groups(p: SynthParams) -> int:
    """Number of sub-country groups per country (0: none)."""
    return int(p.scalars.get("sub_groups", 0))


def subgroup_offsets(p: SynthParams) -> np.ndarray | None:
    """(C, S, J) offsets of every country's sub-country groups on every question (0 on the
    postmaterialist choices), or None without groups. Deterministic in ``sub_seed``; over a
    country's groups each question's offsets have mean 0 and mean square ``sub_sd``^2."""
    groups = sub_groups(p)
    if groups <= 0:
        return None
    if groups < 2:
        raise ValueError("sub_groups must be 0 or at least 2")
    sd = p.scalar("sub_sd")
    if not 0.0 <= sd < 1.0:
        raise ValueError("sub_sd must be in [0, 1)")
    rng = np.random.default_rng(int(p.scalars.get("sub_seed", 0)))
    off = rng.standard_normal((p.n_countries, groups, len(p["q_ids"])))
    off -= off.mean(axis=1, keepdims=True)
    off *= sd / np.sqrt((off**2).mean(axis=1, keepdims=True))
    pm_items = {q for pair in PM_PAIRS for q in pair}
    off[:, :, [str(q) in pm_items for q in p["q_ids"]]] = 0.0
    return off


def answer_codes(
    p: SynthParams, persons: Persons, lat: Latents, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Raw codes (valid answers only; missingness comes later) for every value question."""
    c = persons.country
    n = len(c)
    qids = [str(q) for q in p["q_ids"]]
    w, rho, cat = p["w"], p["rho"], p["q_cat"]
    out: dict[str, np.ndarray] = {}
    pm_items = {q for pair in PM_PAIRS for q in pair}
    offsets = subgroup_offsets(p)
    scale = 1.0 if offsets is None else float(np.sqrt(1.0 - p.scalar("sub_sd") ** 2))
    for j, qid in enumerate(qids):
        if qid in pm_items:
            continue
        shared = (w[j, 0] * lat.trad_secular + w[j, 1] * lat.surv_self
                  + w[j, 2] * lat.category[:, cat[j]])
        r = rho[j] * lat.structure
        y = p["loc"][c, j] + scale * (np.sqrt(r) * shared
                                      + np.sqrt(1.0 - r) * rng.standard_normal(n))
        if offsets is not None:
            y = y + offsets[c, lat.subgroup, j]
        ncat = int(p["q_ncat"][j])
        k = np.searchsorted(p["tau"][j, : ncat - 1], y)
        out[qid] = p["q_codes"][j, k].astype(np.int64)
    for b, (first, second) in enumerate(PM_PAIRS):
        self_expr = p["surv_self"][c] + PM_LATENT_WEIGHT * lat.surv_self
        util = p["pm_base"][b][None, :] + p["pm_slope"][b][None, :] * self_expr[:, None]
        util = util + rng.gumbel(size=(n, 4))
        order = np.argsort(-util, axis=1, kind="stable")
        out[first] = order[:, 0] + 1
        out[second] = order[:, 1] + 1
    return out


def apply_missing(
    p: SynthParams, persons: Persons, codes: dict[str, np.ndarray], rng: np.random.Generator
) -> None:
    """Blank out answers in place: questions not asked in a country (-4), and a person-level
    propensity to say don't know / no answer (-1 / -2, rarely -5) that varies a lot between
    persons, so a few answer far fewer questions than most (the real spread of valid counts),
    while a share ``miss_never`` of persons answers everything asked."""
    c = persons.country
    n = len(c)
    qids = [str(q) for q in p["q_ids"]]
    propensity = rng.normal(0.0, p.scalar("miss_person_sd"), n)
    # Some respondents answer everything they are asked (the real file's ~17 % complete).
    # Optional per-country versions (a survey mode can change how often a whole country
    # skips): ``miss_country_never`` replaces the share, ``miss_country_shift`` adds to the
    # shift; neither draws anything, so the random streams stay as they are.
    never = p.arrays.get("miss_country_never")
    propensity[rng.random(n) < (p.scalar("miss_never") if never is None else never[c])] = -np.inf
    shift = p.arrays.get("miss_country_shift")
    dk_shift = p.scalar("miss_shift") + (0.0 if shift is None else shift[c])
    for j, qid in enumerate(qids):
        x = codes[qid]
        logit = p["miss_logit"][j] + dk_shift + propensity
        miss = rng.random(n) < expit(logit)
        kind = rng.random(n)
        neg = np.where(kind < 0.68, -1, np.where(kind < 0.95, -2, -5))
        if qid in DEMOCRACY_ITEMS:
            neg = np.where(kind > 0.85, 0, neg)  # 0 = "against democracy" (spontaneous)
        x = np.where(miss, neg, x)
        codes[qid] = np.where(p["not_asked"][c, j], -4, x)
    for first, second in PM_PAIRS:
        f, s = codes[first], codes[second]
        # No first goal -> the second is "not applicable"; some name no second goal.
        s = np.where(f == -4, -4, np.where(f < 0, -3, s))
        if second == "Q153":  # the only item of the three without a -5 code
            s = np.where(s == -5, -2, s)
        codes[second] = np.where((f > 0) & (s > 0) & (rng.random(n) < 0.01), -2, s)
