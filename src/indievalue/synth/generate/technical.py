"""Columns of the official file that the catalog does not read: study design, fieldwork,
weights, region, recodes and the value items outside the 253 (Q82, Q91-Q93, Q105, Q223, ...).

They only need to be plausible and internally consistent (recodes agree with their source,
"not asked" where a country would not ask), so they are drawn simply.
"""

from __future__ import annotations

import numpy as np

from indievalue.synth.generate.params import Column, SynthParams
from indievalue.synth.generate.persons import Persons

STRING_COLUMNS = frozenset({
    "version", "doi", "B_COUNTRY_ALPHA", "C_COW_ALPHA", "LNGE_ISO", "Q223_ABREV", "Q223_LOCAL",
    "X002_02B", "V002A_01", "V001A_01",
})
FLOAT_COLUMNS = frozenset({"W_WEIGHT", "S018", "K_TIME_START", "K_TIME_END",
                           "O1_LONGITUDE", "O2_LATITUDE"})
DOI_TEXT = "none (synthetic data, not a WVS release)"


def _recode(x: np.ndarray, edges: list[int]) -> np.ndarray:
    """Bin valid codes into 1..k by ``edges``; negative codes pass through."""
    return np.where(x < 0, x, np.digitize(x, edges) + 1)


def technical_columns(
    p: SynthParams, persons: Persons, codes: dict[str, np.ndarray], version: str,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    c = persons.country
    n = len(c)
    col: dict[str, np.ndarray] = {}
    year = p["country_year"][c].astype(np.int64)
    code = p["country_code"][c].astype(np.int64)
    col["version"] = np.full(n, version, dtype=object)
    col["doi"] = np.full(n, DOI_TEXT, dtype=object)
    col["A_STUDY"] = np.full(n, 2)
    col["A_WAVE"] = np.full(n, 7)
    col["A_YEAR"] = year
    col["B_COUNTRY_ALPHA"] = p["country_alpha3"][c].astype(object)
    col["C_COW_NUM"] = p["country_cow_num"][c].astype(np.int64)
    col["C_COW_ALPHA"] = p["country_cow_alpha"][c].astype(object)
    month = rng.integers(1, 13, n)
    start = np.clip(month - rng.integers(0, 3, n), 1, 12)
    col["J_INTDATE"] = year * 10000 + month * 100 + rng.integers(1, 29, n)
    col["FW_START"] = year * 100 + start
    col["FW_END"] = year * 100 + np.clip(month + rng.integers(0, 3, n), 1, 12)
    begin = rng.integers(8 * 60, 20 * 60, n)
    duration = np.clip(np.round(rng.lognormal(np.log(55), 0.3, n)), 15, 180).astype(np.int64)
    end = begin + duration
    col["K_TIME_START"] = np.round(begin // 60 + (begin % 60) / 100, 2)
    col["K_TIME_END"] = np.round(end // 60 + (end % 60) / 100, 2)
    col["K_DURATION"] = duration
    col["Q_MODE"] = rng.choice([1, 2, 3, 4, 5, 6], n, p=[0.7, 0.15, 0.05, 0.04, 0.04, 0.02])
    region = rng.integers(1, 9, n)
    col["N_REGION_ISO"] = code * 1000 + region
    col["N_REGION_WVS"] = code * 1000 + region
    col["N_REGION_NUTS2"] = np.full(n, -4)
    col["N_TOWN"] = code * 1000 + region * 10 + rng.integers(0, 10, n)
    size8 = rng.integers(1, 9, n)
    col["G_TOWNSIZE"] = size8
    col["G_TOWNSIZE2"] = np.digitize(size8, [3, 5, 6, 8]) + 1
    col["H_URBRURAL"] = np.where(size8 >= 4, 1, 2)
    col["H_SETTLEMENT"] = np.where(size8 >= 7, rng.integers(1, 3, n), rng.integers(3, 6, n))
    col["I_PSU"] = np.full(n, -4)
    col["O1_LONGITUDE"] = np.full(n, -999.0)
    col["O2_LATITUDE"] = np.full(n, -999.0)
    col["S_INTLANGUAGE"] = np.where(codes["Q272"] > 0, codes["Q272"], p["lang_codes"][c, 0])
    col["LNGE_ISO"] = p["country_lang_iso"][c].astype(object)
    col["E_RESPINT"] = rng.choice([1, 2, 3], n, p=[0.6, 0.3, 0.1])
    col["E1_LITERACY"] = np.where(rng.random(n) < 0.97, 1, 2)
    col["F_INTPRIVACY"] = np.where(rng.random(n) < 0.8, 1, 2)
    weight = rng.lognormal(0.0, 0.35, n)
    counts = np.bincount(c, minlength=p.n_countries)
    weight = weight / (np.bincount(c, weight, p.n_countries) / np.maximum(counts, 1))[c]
    col["W_WEIGHT"] = np.round(weight, 6)
    col["S018"] = np.round(weight * 1000 / np.maximum(counts, 1)[c], 6)
    col["S025"] = code * 10000 + year

    for q in ("Q33", "Q34", "Q35"):
        col[f"{q}_3"] = _recode(codes[q], [3, 4])
    ref = codes["Q83"]
    col["Q82"] = np.where(ref > 0, np.clip(ref + rng.integers(-1, 2, n), 1, 4), ref)
    for q in ("Q91", "Q92", "Q93"):  # knowledge questions: right answer more likely with schooling
        right = rng.random(n) < 0.35 + 0.12 * persons.edu_z
        col[q] = np.where(right, 1, rng.integers(2, 4, n))
    col["Q105"] = rng.choice([0, 1, 2], n, p=[0.9, 0.06, 0.04])
    for i in range(94, 106):
        src = codes[f"Q{i}"] if f"Q{i}" in codes else col[f"Q{i}"]
        col[f"Q{i}R"] = np.where(src < 0, src, (src > 0).astype(np.int64))
    col["Q172R"] = _recode(codes["Q172"], [3, 6, 8])
    party = rng.integers(1, 7, n)
    refuse = rng.random(n)
    col["Q223"] = np.where(refuse < 0.12, -1, np.where(refuse < 0.2, -2, code * 1000 + party))
    col["Q223_ABREV"] = np.where(col["Q223"] > 0, np.char.add("P", party.astype(str)), "").astype(
        object)
    col["Q223_LOCAL"] = np.where(col["Q223"] > 0, np.char.add("Party ", party.astype(str)),
                                 "").astype(object)
    col["Q234A"] = rng.choice([1, 2, 3, 4, 5], n, p=[0.1, 0.25, 0.35, 0.2, 0.1])
    alpha = {int(k): str(a) for k, a in zip(p["birth_code"], p["country_alpha3"], strict=True)}
    for src_col, dst_col in (("Q266", "X002_02B"), ("Q267", "V002A_01"), ("Q268", "V001A_01")):
        col[dst_col] = np.array([alpha.get(int(v), "") for v in codes[src_col]], dtype=object)
    for i in (275, 276, 277, 278):
        level = codes[f"Q{i}"]
        col[f"Q{i}A"] = np.where(level < 0, level, code * 1000 + level)
        # The 3-group recodes have no "not applicable" code; the codebook uses -5 there.
        col[f"Q{i}R"] = np.where(level == -3, -5, _recode(level, [3, 5]))
    col["Q289CS9"] = np.full(n, -4)
    return col


def fallback_column(column: Column, n: int, rng: np.random.Generator) -> np.ndarray:
    """A plausible value for a column no module generates: a valid code, else "not asked"."""
    if column.valid:
        return rng.choice(np.array(column.valid, dtype=np.int64), n)
    return np.full(n, -4 if -4 in column.missing else -5, dtype=np.int64)
