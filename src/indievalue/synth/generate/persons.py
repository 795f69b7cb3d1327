"""Who the synthetic respondents are: country, interview id and the demographic block (Q260-Q290).

Demographics are drawn per person from country-level priors (age, education, immigration,
religion, languages, ethnic groups) with the within-person dependencies a reader would expect:
age drives marital status, children, employment and living with parents; education drives
occupation and income; a spouse exists only for married / cohabiting persons. The traits the
value model needs (standardised age, education, religiosity, status) are returned alongside.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from indievalue.errors import IndieValueError
from indievalue.synth.generate.params import SynthParams

ID_MULTIPLIER = 100_000  # D_INTERVIEW = country code * 100000 + serial (serial from 1)
MISSING_DEMO_RATE = 0.006  # per-column share of don't know / no answer on demographic items


@dataclass(frozen=True)
class Persons:
    """The drawn persons: country index per row, columns by WVS name, and latent traits."""

    country: np.ndarray  # index into the params' country arrays
    columns: dict[str, np.ndarray]
    age_z: np.ndarray
    edu_z: np.ndarray
    religious: np.ndarray  # 1.0 for any religion, 0.0 for none
    status: np.ndarray  # socio-economic status, standardised


def allocate(sizes: np.ndarray, n: int) -> np.ndarray:
    """Persons per country proportional to ``sizes`` (largest remainder, so full size is exact)."""
    share = sizes / sizes.sum() * n
    base = np.floor(share).astype(np.int64)
    rest = n - int(base.sum())
    order = np.argsort(-(share - base), kind="stable")
    base[order[:rest]] += 1
    return base


def _choice_rows(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One category per row of a row-stochastic matrix (inverse CDF, vectorised)."""
    cdf = np.cumsum(probs, axis=1)
    u = rng.random(len(probs)) * cdf[:, -1]
    return (u[:, None] > cdf).sum(axis=1)


def draw_persons(p: SynthParams, n: int, rng: np.random.Generator) -> Persons:
    counts = allocate(p["country_size"].astype(np.float64), n)
    if counts.max(initial=0) >= ID_MULTIPLIER:  # n is the user's --persons
        raise IndieValueError(f"--persons {n:,}: too many persons per country for the id "
                              f"scheme (at most {ID_MULTIPLIER - 1:,} in a country)")
    c = np.repeat(np.arange(p.n_countries), counts)
    serial = np.concatenate([np.arange(1, k + 1) for k in counts]) if n else np.zeros(0, int)
    col: dict[str, np.ndarray] = {}
    col["B_COUNTRY"] = p["country_code"][c].astype(np.int64)
    col["D_INTERVIEW"] = col["B_COUNTRY"] * ID_MULTIPLIER + serial

    female = rng.random(n) < 0.52
    col["Q260"] = np.where(female, 2, 1)
    # Age: 18+ with a right-skewed spread around the country's mean age.
    mean_age = p["age_mean"][c]
    age = 18 + (mean_age - 18) * rng.gamma(2.4, 1 / 2.4, n)
    age = np.clip(np.round(age), 18, 94).astype(np.int64)
    col["Q262"] = age
    year = p["country_year"][c].astype(np.int64)
    col["Q261"] = year - age - (rng.random(n) < 0.5)
    col["X003R"] = np.digitize(age, [25, 35, 45, 55, 65]) + 1
    col["X003R2"] = np.digitize(age, [30, 50]) + 1
    age_z = (age - 45.0) / 16.0

    # Education: ISCED 0-8, younger cohorts better educated.
    edu_lat = p["edu_mean"][c] - 0.035 * (age - 45) + rng.normal(0, 1.6, n)
    edu = np.clip(np.round(edu_lat), 0, 8).astype(np.int64)
    col["Q275"] = edu
    col["Q277"] = np.clip(np.round(edu_lat - 1.6 + rng.normal(0, 1.2, n)), 0, 8).astype(np.int64)
    col["Q278"] = np.clip(np.round(edu_lat - 1.4 + rng.normal(0, 1.2, n)), 0, 8).astype(np.int64)
    edu_z = (edu_lat - 4.0) / 2.0

    # Marital status 1 married, 2 together, 3 divorced, 4 separated, 5 widowed, 6 single.
    young = np.clip((35 - age) / 17, 0, 1)
    old = np.clip((age - 60) / 25, 0, 1)
    m = np.stack([0.62 * (1 - young) + 0.1, 0.08 + 0 * age, 0.06 * (1 - young),
                  0.02 + 0 * age, 0.35 * old, 0.75 * young + 0.03], axis=1)
    marital = _choice_rows(rng, m) + 1
    col["Q273"] = marital
    spouse = marital <= 2
    col["Q276"] = np.where(
        spouse, np.clip(np.round(edu_lat + rng.normal(0, 1.3, n)), 0, 8), -3
    ).astype(np.int64)

    fert = np.clip(2.3 - 0.45 * p["trad_secular"][c], 1.2, 4.0)
    lam = fert * np.clip((age - 18) / 15, 0, 1) * np.where(marital == 6, 0.15, 1.0)
    kids = np.minimum(rng.poisson(lam), 7)
    col["Q274"] = kids
    with_parents = rng.random(n) < np.clip(0.75 - 0.025 * (age - 18), 0.03, 0.75)
    col["Q271"] = np.where(with_parents, rng.choice([2, 3, 4], n, p=[0.8, 0.15, 0.05]), 1)
    home_kids = np.where(age < 60, np.minimum(kids, 4), 0)
    hh = 1 + spouse + home_kids + 2 * with_parents + (rng.random(n) < 0.15)
    col["Q270"] = np.clip(hh, 1, 7).astype(np.int64)

    # Employment 1 full-time, 2 part-time, 3 self-employed, 4 retired, 5 housewife,
    # 6 student, 7 unemployed.
    stu = np.clip((26 - age) / 8, 0, 1) * np.clip(edu_z + 1, 0.2, 2) / 2
    ret = np.clip((age - 58) / 7, 0, 1)
    act = (1 - stu) * (1 - ret)
    emp = np.stack([0.48 * act, 0.1 * act, 0.16 * act, ret, 0.16 * act * female + 0.01,
                    stu, 0.1 * act], axis=1)
    employment = _choice_rows(rng, emp) + 1
    col["Q279"] = employment
    col["Q280"] = np.where(spouse, _choice_rows(rng, np.tile(emp.mean(0), (n, 1))) + 1, -5)

    status = 0.55 * edu_z + 0.25 * (employment <= 3) + rng.normal(0, 0.8, n)
    status = (status - status.mean()) / (status.std() + 1e-9)
    # Occupation 0 never had a job, 1-10 WVS groups (1 professional ... 10 farm).
    occ = np.clip(np.round(6 - 2.2 * status + rng.normal(0, 1.8, n)), 1, 10).astype(np.int64)
    never = (employment == 6) & (rng.random(n) < 0.7) | (rng.random(n) < 0.03)
    col["Q281"] = np.where(never, 0, occ)
    col["Q282"] = np.where(
        spouse, np.clip(np.round(occ + rng.normal(0, 2, n)), 0, 10), -5
    ).astype(np.int64)
    col["Q283"] = np.clip(np.round(occ + 1 + rng.normal(0, 2.2, n)), 0, 11).astype(np.int64)
    col["Q284"] = np.where(never, -3, rng.choice([1, 2, 3], n, p=[0.28, 0.66, 0.06]))
    col["Q285"] = np.where(rng.random(n) < np.where(female, 0.35, 0.62), 1, 2)
    col["Q286"] = np.clip(np.round(2.1 - 0.7 * status + rng.normal(0, 0.8, n)), 1, 4).astype(int)
    col["Q287"] = np.clip(np.round(3.3 - 0.8 * status + rng.normal(0, 0.7, n)), 1, 5).astype(int)
    income = np.clip(np.round(4.8 + 1.6 * status + rng.normal(0, 1.3, n)), 1, 10).astype(int)
    col["Q288"] = income
    col["Q288R"] = np.digitize(income, [4, 8]) + 1

    # Immigration and birth countries (origin drawn among the other modelled countries).
    immig = rng.random(n) < p["immig_rate"][c]
    col["Q263"] = np.where(immig, 2, 1)
    par_rate = np.where(immig, 0.93, 0.4 * p["immig_rate"][c])
    mother_imm = rng.random(n) < par_rate
    father_imm = np.where(rng.random(n) < 0.8, mother_imm, rng.random(n) < par_rate)
    col["Q264"] = np.where(mother_imm, 2, 1)
    col["Q265"] = np.where(father_imm, 2, 1)
    origin = (c + rng.integers(1, p.n_countries, n)) % p.n_countries
    births = p["birth_code"]
    col["Q266"] = np.where(immig, births[origin], births[c]).astype(np.int64)
    col["Q267"] = np.where(mother_imm, births[np.where(immig, origin, (origin + 1) % len(births))],
                           births[c]).astype(np.int64)
    col["Q268"] = np.where(father_imm, np.where(mother_imm, col["Q267"], births[origin]),
                           births[c]).astype(np.int64)
    citizen = np.where(immig, rng.random(n) < 0.55, rng.random(n) < 0.995)
    col["Q269"] = np.where(citizen, 1, 2)

    lang = _choice_rows(rng, p["lang_p"][c])
    col["Q272"] = p["lang_codes"][c, lang].astype(np.int64)
    col["Q290"] = p["eth_codes"][c, _choice_rows(rng, p["eth_p"][c])].astype(np.int64)
    col["Q289"] = _choice_rows(rng, p["religion_p"][c]).astype(np.int64)
    religious = (col["Q289"] != 0).astype(np.float64)

    _sprinkle_missing(col, rng, n)
    return Persons(country=c, columns=col, age_z=age_z, edu_z=edu_z,
                   religious=religious, status=status)


# Columns that get a sprinkling of don't know (-1) / no answer (-2); ids and design columns
# (country, sex, age) stay complete as in the real file.
_SPRINKLE = ("Q263", "Q264", "Q265", "Q269", "Q270", "Q271", "Q273", "Q274", "Q275", "Q277",
             "Q278", "Q279", "Q281", "Q283", "Q284", "Q285", "Q286", "Q287", "Q289", "Q290")


def _sprinkle_missing(col: dict[str, np.ndarray], rng: np.random.Generator, n: int) -> None:
    for name in _SPRINKLE:
        hit = rng.random(n) < MISSING_DEMO_RATE
        # Household size has no "don't know" code in the codebook.
        neg = np.full(n, -2) if name == "Q270" else rng.choice([-1, -2], n, p=[0.6, 0.4])
        col[name] = np.where(hit & (col[name] >= 0), neg, col[name])
    # Income is the item people most often refuse; the recode follows the raw answer.
    hit = rng.random(n) < 0.04
    col["Q288"] = np.where(hit, rng.choice([-1, -2], n, p=[0.5, 0.5]), col["Q288"])
    col["Q288R"] = np.where(col["Q288"] < 0, col["Q288"], col["Q288R"])
