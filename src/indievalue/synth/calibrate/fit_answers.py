"""Fitting the answer model to real aggregates (used by tools/calibrate_synth.py only).

Per question, every real per-country datum becomes a probit equation on a cumulative share,
``Phi^-1(F[c, k]) = tau[k] - loc[c]`` (full distributions give every cut, polar shares the
polar cut, binary means one cut), solved jointly for cut points and country locations by
alternating least squares. Countries without data get a location from the question's
regression on the countries' Inglehart-Welzel positions plus a residual of the size seen in
real data; questions without data get drawn slopes, so country differences stay structured.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import expit, logit
from scipy.stats import norm

from indievalue.catalog.spec import StatementSpec
from indievalue.synth.calibrate.fit_countries import demographic_means
from indievalue.synth.calibrate.quickeval import continents, labels, probe_setups
from indievalue.synth.generate.values import PM_PAIRS

# The 40 countries of the paper's evaluation persons (PROTOCOL §3.2). Every other modelled
# country leaves at least one probe question unasked, so none of its persons is eligible:
# that is how the real eval set ended up with exactly these countries (Oceania = New Zealand).
EVAL_COUNTRIES = frozenset({
    "ARG", "ARM", "BGD", "BOL", "BRA", "CAN", "CHL", "COL", "CYP", "ECU", "ETH", "GRC",
    "GTM", "HKG", "IDN", "KEN", "LBY", "MAC", "MYS", "MEX", "MNG", "MAR", "NLD", "NZL",
    "NIC", "NGA", "PER", "PHL", "PRI", "ROU", "RUS", "SRB", "SVK", "KOR", "TWN", "THA",
    "TUN", "UKR", "USA", "ZWE",
})
PM_FIRST = ("Q152", "Q154", "Q156")
# Postmaterialist goals gain with self-expression values, materialist ones lose.
PM_SLOPE = np.array([[-0.3, -0.3, 0.6, 0.3], [-0.3, 0.6, -0.3, 0.6], [-0.3, 0.6, 0.6, -0.3]])
CLIP = 0.003


def latent_order(qid: str, valid: list[int]) -> list[int]:
    """Raw codes from one pole to the other (Q119 puts "hard to say" = 0 in the middle)."""
    return [1, 2, 0, 3, 4] if qid == "Q119" else sorted(valid)


def _observations(agg: Path, spec: StatementSpec, a3: dict[str, int]) -> pd.DataFrame:
    """Rows (qid, country index, cut, F) plus binary means, from every per-country source."""
    tidy = agg / "tidy"
    rows: list[tuple[str, int, int, float]] = []
    orders = {q.qid: latent_order(q.qid, sorted(q.valid_codes)) for q in spec.questions}

    def add_dist(qid: str, country: str, shares: dict[int, float]) -> None:
        order = orders.get(qid)
        if order is None or country not in a3:
            return
        p = np.array([max(shares.get(code, 0.0), 0.0) for code in order])
        if p.sum() <= 0.5 * sum(max(v, 0) for v in shares.values()) or p.sum() <= 0:
            return
        cum = np.cumsum(p / p.sum())[:-1]
        rows.extend((qid, a3[country], k + 1, float(f)) for k, f in enumerate(cum))

    hist = pd.read_csv(tidy / "percountry_10pt_histograms_earth1_cells.csv")
    for r in hist.itertuples():
        add_dist(str(r.qid), str(r.alpha3), {k: float(getattr(r, f"p{k}")) for k in range(1, 11)})
    goqa = pd.read_csv(tidy / "percountry_distributions_goqa_fragments.csv")
    goqa = goqa[goqa["country_quality"].str.startswith("validated")]
    lily = pd.read_csv(tidy / "percountry_distributions_lilyflower03.csv")
    lily = lily[lily["usable_full_distribution"] == "yes"]
    for frame in (goqa, lily):
        for (qid, country), g in frame.groupby(["qid", "alpha3"]):
            add_dist(str(qid), str(country), dict(zip(g["code"].astype(int), g["share"],
                                                      strict=True)))

    def add_share(qid: str, country: str, yes: list[int], share: float) -> None:
        order = orders.get(qid)
        if order is None or country not in a3 or not np.isfinite(share):
            return
        k = len(yes)
        if sorted(order[:k]) == sorted(yes):
            rows.append((qid, a3[country], k, share))
        elif sorted(order[-k:]) == sorted(yes):
            rows.append((qid, a3[country], len(order) - k, 1.0 - share))

    for name, col in (("percountry_binary_shares_earth1.csv", "share_yes_weighted"),
                      ("percountry_binary_shares_earth1_vnf_validated.csv", "share_yes")):
        b = pd.read_csv(tidy / name)
        for r in b.itertuples():
            yes = [int(x) for x in str(r.yes_codes).split()]
            add_share(str(r.qid), str(r.alpha3), yes, float(str(getattr(r, col))))
    means = pd.read_csv(tidy / "percountry_means_soccermatics.csv")
    for r in means[means["valid_range_used"] == "1-2"].itertuples():
        add_share(str(r.qid), str(r.alpha3), [1], 2.0 - float(str(r.mean_unweighted)))
    return pd.DataFrame(rows, columns=["qid", "c", "cut", "F"])


def _two_way(obs: pd.DataFrame, n_cut: int) -> tuple[np.ndarray, dict[int, float]]:
    """Alternating least squares for tau (nan where a cut is never observed) and loc."""
    z = norm.ppf(obs["F"].clip(CLIP, 1 - CLIP).to_numpy())
    c = obs["c"].to_numpy()
    k = obs["cut"].to_numpy() - 1
    countries = np.unique(c)
    loc = {int(x): 0.0 for x in countries}
    tau = np.full(n_cut, np.nan)
    for _ in range(60):
        lc = np.array([loc[int(x)] for x in c])
        for j in np.unique(k):
            tau[j] = float(np.mean((z + lc)[k == j]))
        resid = tau[k] - z
        for x in countries:
            loc[int(x)] = float(resid[c == x].mean())
        shift = float(np.mean(list(loc.values())))
        loc = {x: v - shift for x, v in loc.items()}
        tau = tau - shift
    return tau, loc


def _fill_cuts(tau: np.ndarray) -> np.ndarray:
    """Unobserved cuts follow an equal-probability template shifted to the observed ones."""
    k = len(tau) + 1
    template = norm.ppf(np.arange(1, k) / k)
    known = np.isfinite(tau)
    offset = float(np.mean(tau[known] - template[known])) if known.any() else 0.0
    out = np.where(known, tau, template + offset)
    for i in range(1, len(out)):  # keep cut points increasing
        out[i] = max(out[i], out[i - 1] + 0.05)
    return out


def fit_questions(
    agg: Path, spec: StatementSpec, countries: dict[str, np.ndarray], rng: np.random.Generator
) -> dict[str, np.ndarray]:
    a3 = {str(a): i for i, a in enumerate(countries["country_alpha3"])}
    n_c, n_q = len(a3), len(spec.questions)
    obs = _observations(agg, spec, a3)
    cat_keys = [cat.key for cat in spec.categories]
    q_codes = np.zeros((n_q, 10), dtype=np.int64)
    q_ncat = np.zeros(n_q, dtype=np.int64)
    tau = np.full((n_q, 9), np.inf)
    loc = np.full((n_c, n_q), np.nan)
    for j, q in enumerate(spec.questions):
        order = latent_order(q.qid, sorted(q.valid_codes))
        q_ncat[j] = len(order)
        q_codes[j, : len(order)] = order
        q_codes[j, len(order):] = order[-1]
        mine = obs[obs["qid"] == q.qid]
        t = np.full(len(order) - 1, np.nan)
        if len(mine):
            t, fitted = _two_way(mine, len(order) - 1)
            for c, v in fitted.items():
                loc[c, j] = v
        tau[j, : len(order) - 1] = _fill_cuts(t)
    loc_before = loc.copy()
    x = np.column_stack([countries["trad_secular"], countries["surv_self"]])
    slopes, resid_sd = _country_structure(loc, x, rng)
    known_x = np.isfinite(x).all(axis=1)
    x = _impute_positions(loc, slopes, x, known_x)
    for j in range(n_q):
        have = np.isfinite(loc[:, j])
        base = float(np.mean(loc[have, j] - x[have] @ slopes[j])) if have.any() else 0.0
        noise = rng.normal(0.0, resid_sd[j], n_c)
        loc[~have, j] = base + x[~have] @ slopes[j] + noise[~have]
    out = {
        "q_ids": np.array(spec.qids), "q_cat": np.array([cat_keys.index(q.category)
                                                         for q in spec.questions]),
        "q_codes": q_codes, "q_ncat": q_ncat, "tau": tau, "loc": loc, "slopes": slopes,
        "rho_rel": np.ones(n_q), "trad_secular": x[:, 0], "surv_self": x[:, 1],
        # Questions with data for fewer than 3 countries: their global skew is a free knob
        # (direction drawn), since an equal-probability template is flatter than real answers.
        # Only cells without real data move, so the skew never fights a published share.
        "uncovered": ((np.isfinite(loc_before).sum(axis=0) < 3)[None, :]
                      & ~np.isfinite(loc_before)).astype(np.float64),
        "skew_sign": rng.choice([-1.0, 1.0], n_q)[None, :],
    }
    out.update(demographic_means(x[:, 0], x[:, 1]))
    out.update(_postmaterialist(obs, spec))
    return out


def _country_structure(
    loc: np.ndarray, x: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """IW slopes and residual sd per question: fitted where >= 12 countries have data,
    otherwise drawn from the fitted ones (random sign: the item's direction is unknown)."""
    n_q = loc.shape[1]
    slopes = np.full((n_q, 2), np.nan)
    resid = np.full(n_q, np.nan)
    ok_x = np.isfinite(x).all(axis=1)
    for j in range(n_q):
        have = np.isfinite(loc[:, j]) & ok_x
        if have.sum() >= 12:
            design = np.column_stack([np.ones(have.sum()), x[have]])
            coef, *_ = np.linalg.lstsq(design, loc[have, j], rcond=None)
            slopes[j] = coef[1:]
            resid[j] = float(np.std(loc[have, j] - design @ coef))
    fitted = np.flatnonzero(np.isfinite(resid))
    typical = float(np.median(resid[fitted]))
    for j in map(int, np.flatnonzero(~np.isfinite(resid))):
        slopes[j] = slopes[rng.choice(fitted)] * rng.choice([-1.0, 1.0])
        resid[j] = typical
    return slopes, resid


def _impute_positions(
    loc: np.ndarray, slopes: np.ndarray, x: np.ndarray, known: np.ndarray
) -> np.ndarray:
    """Map positions of countries without published scores, from their answers."""
    x = x.copy()
    for c in np.flatnonzero(~known):
        have = np.isfinite(loc[c]) & np.isfinite(loc[known]).sum(axis=0).astype(bool)
        centre = np.array([np.nanmean(loc[known, j] - x[known] @ slopes[j])
                           for j in np.flatnonzero(have)])
        sol, *_ = np.linalg.lstsq(slopes[have], loc[c, have] - centre, rcond=None)
        x[c] = np.clip(sol, -2.5, 2.5)
    return x


def _postmaterialist(obs: pd.DataFrame, spec: StatementSpec) -> dict[str, np.ndarray]:
    """First-choice utilities from the pooled first-choice shares (4 goals per battery)."""
    base = np.zeros((3, 4))
    for b, qid in enumerate(PM_FIRST):
        mine = obs[obs["qid"] == qid]
        if len(mine):
            cum = mine.groupby("cut")["F"].mean().reindex([1, 2, 3]).interpolate().bfill().ffill()
            p = np.diff(np.concatenate([[0.0], cum.to_numpy(), [1.0]])).clip(0.02, None)
            base[b] = np.log(p / p.sum())
    return {"pm_base": base, "pm_slope": PM_SLOPE.copy()}


def percountry_polar_targets(
    ref: Path, df: pd.DataFrame, spec: StatementSpec
) -> tuple[float, int, list[tuple[str, float]]]:
    """MAE of per-country polar shares (first polar group among valid answers) against
    every real per-country polar datum; also the worst questions."""
    countries = sorted(df["B_COUNTRY"].unique())
    tab = pd.read_csv(ref / "wvs7-aggregates" / "tidy" / "countries.csv")
    a3 = {str(a): i for i, a in enumerate(tab.set_index("iso_numeric").loc[countries, "alpha3"])}
    obs = _observations(ref / "wvs7-aggregates", spec, a3)
    polar = labels(df, spec, "polar")
    code_row = np.searchsorted(countries, df["B_COUNTRY"].to_numpy())
    errs: list[tuple[str, float]] = []
    cells = 0
    for q in spec.questions:
        mine = obs[obs["qid"] == q.qid]
        if not len(mine):
            continue
        order = latent_order(q.qid, sorted(q.valid_codes))
        polar_cut = len(q.polar[0].codes)
        if sorted(order[:polar_cut]) != sorted(q.polar[0].codes):
            continue
        at_cut = mine[mine["cut"] == polar_cut].groupby("c")["F"].mean()
        j = spec.index(q.qid)
        lab = polar[:, j]
        e = []
        for c, f in at_cut.items():
            sel = (code_row == c) & (lab >= 0)
            if sel.any():
                e.append(abs(float((lab[sel] == 0).mean()) - f))
        if e:
            errs.append((q.qid, float(np.mean(e))))
            cells += len(e)
    weights = [n for n in [len(obs[(obs["qid"] == q)]) for q, _ in errs]]
    total = float(np.average([e for _, e in errs], weights=weights)) if errs else float("nan")
    return total, cells, sorted(errs, key=lambda t: -t[1])


MISSING_TARGETS = (242.03, 17.31, 16.96)  # valid answers of 253: mean, sd; % complete


def _simulated_missing(
    miss_logit: np.ndarray, not_asked: np.ndarray, u: np.ndarray, z: np.ndarray,
    never: np.ndarray, shift: float, sd: float, p_never: float,
    seconds: list[tuple[int, int]],
) -> np.ndarray:
    """(N, Q) which answers the generator's missingness blanks out for simulated persons with
    uniform draws ``u``, propensity draws ``z`` and never-skip draws ``never`` (the model of
    ``values.apply_missing``)."""
    person = np.where(never < p_never, -np.inf, sd * z)
    miss = (u < expit(miss_logit[None, :] + shift + person[:, None])) | not_asked
    for f, s in seconds:  # no first goal -> the second is "not applicable"
        miss[:, s] |= miss[:, f]
    return miss


def fit_missing(
    agg: Path, spec: StatementSpec, base: dict[str, np.ndarray], rng: np.random.Generator
) -> dict:
    """Item don't-know rates, not-asked blocks, the person-propensity spread and the share of
    persons who never skip, matched to 242.03 +- 17.31 valid answers of 253 and 16.96 % of
    persons answering all (a grid, then a coordinate refinement, on a fixed simulation)."""
    rates = pd.read_csv(agg / "tidy" / "missing_rates_goqa_validated.csv").set_index("qid")
    share = rates["mean_dont_know_share"] + rates["mean_no_answer_share"]
    default = float(share.median())
    p = np.array([float(share.get(q, default)) for q in spec.qids]).clip(0.002, 0.25)
    miss_logit = logit(p)
    n_c, n_q = len(base["country_code"]), len(spec.qids)
    probes = sorted({q for s in probe_setups(spec) for q in s})
    others = np.setdiff1d(np.arange(n_q), probes)
    seconds = [(spec.index(f), spec.index(s)) for f, s in PM_PAIRS]
    sizes = base["country_size"].astype(float)
    draw = np.random.default_rng(rng.integers(1 << 31))
    n_sim = 12_000
    counts = np.maximum(np.round(sizes / sizes.sum() * n_sim), 1).astype(int)
    cidx = np.repeat(np.arange(n_c), counts)
    z = draw.standard_normal(len(cidx))
    never = draw.random(len(cidx))
    u = draw.random((len(cidx), n_q))

    def blocks(extra: int) -> np.ndarray:
        block_rng = np.random.default_rng(extra)
        out = np.zeros((n_c, n_q), dtype=bool)
        for c, a in enumerate(base["country_alpha3"]):
            if str(a) not in EVAL_COUNTRIES:
                k_probe = int(block_rng.integers(1, 4))
                out[c, block_rng.choice(probes, k_probe, replace=False)] = True
            k = int(block_rng.poisson(extra)) if block_rng.random() < 0.5 else 0
            out[c, block_rng.choice(others, min(k, len(others)), replace=False)] = True
        return out

    def error(na: np.ndarray, shift: float, sd: float, p_never: float) -> float:
        miss = _simulated_missing(miss_logit, na[cidx], u, z, never, shift, sd, p_never,
                                  seconds)
        valid = n_q - miss.sum(axis=1)
        mean, sd_t, complete = MISSING_TARGETS
        return float((valid.mean() - mean) ** 2 + (valid.std() - sd_t) ** 2
                     + (100 * (valid == n_q).mean() - complete) ** 2)

    best = (np.inf, 0, 0.0, 0.0, 0.0)
    # Extra not-asked blocks would also fit the spread, but they change which countries'
    # persons are eligible for the eval set (and so the majority baseline); the never-skip
    # share fits the complete persons without them.
    for extra in (0,):
        na = blocks(extra)
        for p_never in (0.0, 0.05, 0.1, 0.15, 0.2):
            for shift in np.linspace(-1.5, 1.0, 6):
                for sd in (1.0, 1.6, 2.2, 2.8):
                    err = error(na, shift, sd, p_never)
                    if err < best[0]:
                        best = (err, extra, shift, sd, p_never)
    err, extra, shift, sd, p_never = best
    na = blocks(extra)
    x = np.array([shift, sd, p_never])
    step = np.array([0.25, 0.3, 0.025])
    for _ in range(6):  # coordinate refinement, halving the steps
        for i in range(3):
            for direction in (1.0, -1.0):
                while True:
                    cand = x.copy()
                    cand[i] = max(0.0, cand[i] + direction * step[i]) if i else \
                        cand[i] + direction * step[i]
                    e = error(na, *cand)
                    if e >= err:
                        break
                    err, x = e, cand
        step /= 2
    return {"miss_logit": miss_logit, "not_asked": na,
            "scalars": {"miss_shift": float(x[0]), "miss_person_sd": float(x[1]),
                        "miss_never": float(x[2])}}


# never-skip share of the Oceania countries that can enter the eval set: the real ones
# qualify about 9 % of the time, fewer than a never-skip share of 17 % would leave
# (docs/design/synthetic-population.md, "Generator 1.3.0")
OCEANIA_NEVER = 0.02


def fit_oceania_missing(
    spec: StatementSpec, base: dict[str, np.ndarray], scalars: dict[str, float],
    share: float, n_persons: int, eval_size: int, rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Per-country missingness for the Oceania countries, so that their persons eligible for
    the eval set make up ``share`` of it in a population of ``n_persons``, as in the paper's
    data (PROTOCOL §3.2 keeps every eligible Oceania person).

    Every other country keeps the global values. The Oceania countries that ask every probe
    question get a never-skip share of ``OCEANIA_NEVER`` and a don't-know shift found by
    bisection on a simulation of their persons (``_simulated_missing``)."""
    from indievalue.benchmark.evalset import MIN_VALID_ANSWERS, OCEANIA

    n_q = len(spec.qids)
    probes = sorted({q for s in probe_setups(spec) for q in s})
    continent = continents(spec)
    # only countries that ask every probe question can have eligible persons (Oceania's
    # others keep the global values)
    oceania = (np.array([continent.get(int(c)) == OCEANIA for c in base["country_code"]])
               & ~base["not_asked"][:, probes].any(axis=1))
    if not oceania.any():
        raise ValueError("no Oceania country asks every probe question")
    sizes = base["country_size"].astype(float)
    expected = n_persons * sizes[oceania].sum() / sizes.sum()
    target = share * eval_size / expected  # eligible fraction of their persons
    seconds = [(spec.index(f), spec.index(s)) for f, s in PM_PAIRS]
    cidx = np.repeat(np.flatnonzero(oceania), 20_000 // int(oceania.sum()))
    z = rng.standard_normal(len(cidx))
    never = rng.random(len(cidx))
    u = rng.random((len(cidx), n_q))

    def eligible(shift: float) -> float:
        miss = _simulated_missing(base["miss_logit"], base["not_asked"][cidx], u, z, never,
                                  scalars["miss_shift"] + shift, scalars["miss_person_sd"],
                                  OCEANIA_NEVER, seconds)
        ok = ~miss[:, probes].any(axis=1) & (n_q - miss.sum(axis=1) >= MIN_VALID_ANSWERS)
        return float(ok.mean())

    lo, hi = -3.0, 6.0
    if not eligible(hi) <= target <= eligible(lo):
        raise ValueError(f"no don't-know shift gives {target:.3f} of the Oceania persons "
                         "eligible")
    for _ in range(40):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if eligible(mid) > target else (lo, mid)
    return {"miss_country_shift": np.where(oceania, (lo + hi) / 2, 0.0),
            "miss_country_never": np.where(oceania, OCEANIA_NEVER, scalars["miss_never"])}
