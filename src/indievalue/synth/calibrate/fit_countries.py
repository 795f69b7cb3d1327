"""Calibration inputs about columns and countries (used by tools/calibrate_synth.py only).

The column layout comes from the WVS-7 v5.0 codebook (names in order, valid and missing codes
of each coded column). Country facts (codes, sample sizes, continents, survey years,
Inglehart-Welzel positions) come from the reference aggregates; the demographic priors below
(main religions, home languages, immigrant shares) are rough public-knowledge figures we
wrote ourselves: they only need to make plausible respondents, not match a survey.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

# Q289: 0 none, 1 Catholic, 2 Protestant, 3 Orthodox, 4 Jewish, 5 Muslim, 6 Hindu, 7 Buddhist,
# 8 other Christian, 9 other.
RELIGION = {
    "AND": "1:.6 0:.3 9:.1", "ARG": "1:.6 0:.2 2:.1 8:.1", "ARM": "3:.9 0:.05 8:.05",
    "AUS": "0:.45 1:.2 2:.2 8:.1 9:.05", "BGD": "5:.9 6:.09 9:.01", "BOL": "1:.65 2:.2 0:.1 8:.05",
    "BRA": "1:.5 2:.3 0:.15 9:.05", "CAN": "0:.4 1:.3 2:.15 8:.1 9:.05",
    "CHL": "1:.45 0:.3 2:.2 9:.05", "CHN": "0:.85 7:.1 9:.05", "COL": "1:.7 2:.15 0:.1 8:.05",
    "CYP": "3:.95 0:.05", "CZE": "0:.75 1:.2 2:.05", "ECU": "1:.75 2:.1 0:.1 8:.05",
    "EGY": "5:.9 3:.1", "ETH": "3:.45 5:.3 2:.25", "DEU": "0:.4 1:.25 2:.3 5:.05",
    "GBR": "0:.5 2:.3 1:.1 5:.05 9:.05", "GRC": "3:.9 0:.1", "GTM": "1:.45 2:.4 0:.15",
    "HKG": "0:.65 7:.15 2:.1 1:.05 9:.05", "IND": "6:.8 5:.13 8:.03 9:.04",
    "IDN": "5:.88 2:.07 1:.03 6:.02", "IRN": "5:.98 0:.02", "IRQ": "5:.98 8:.02",
    "JPN": "0:.6 7:.35 9:.05", "JOR": "5:.97 8:.03", "KAZ": "5:.7 3:.25 0:.05",
    "KEN": "2:.55 1:.25 5:.1 8:.1", "KGZ": "5:.9 3:.08 0:.02", "LBN": "5:.6 1:.3 3:.1",
    "LBY": "5:1", "MAC": "0:.65 7:.25 1:.05 9:.05", "MYS": "5:.65 7:.2 8:.07 6:.06 0:.02",
    "MDV": "5:1", "MEX": "1:.8 2:.08 0:.1 8:.02", "MNG": "7:.55 0:.4 9:.05", "MAR": "5:1",
    "MMR": "7:.88 2:.06 5:.04 6:.02", "NLD": "0:.55 1:.2 2:.15 5:.05 9:.05",
    "NZL": "0:.5 2:.25 1:.12 8:.08 9:.05", "NIC": "1:.5 2:.35 0:.15",
    "NGA": "5:.45 2:.3 1:.2 8:.05", "NIR": "1:.4 2:.4 0:.2", "PAK": "5:.98 8:.02",
    "PER": "1:.75 2:.15 0:.1", "PHL": "1:.8 2:.07 5:.06 8:.07", "PRI": "1:.55 2:.35 0:.1",
    "ROU": "3:.85 1:.06 2:.05 0:.04", "RUS": "3:.65 0:.25 5:.08 9:.02", "SRB": "3:.9 1:.05 0:.05",
    "SGP": "7:.3 0:.2 2:.15 5:.15 1:.07 6:.05 9:.08", "SVK": "1:.65 0:.2 2:.1 8:.05",
    "KOR": "0:.55 2:.2 7:.15 1:.1", "TWN": "7:.35 0:.2 9:.38 2:.05 1:.02", "TJK": "5:.97 0:.03",
    "THA": "7:.94 5:.05 1:.01", "TUN": "5:.99 0:.01", "TUR": "5:.97 0:.03",
    "UKR": "3:.75 1:.1 0:.1 2:.05", "USA": "2:.4 1:.22 0:.28 8:.05 4:.02 9:.03",
    "URY": "0:.45 1:.35 2:.15 9:.05", "UZB": "5:.95 3:.04 0:.01", "VEN": "1:.7 2:.15 0:.15",
    "VNM": "0:.6 7:.3 1:.07 9:.03", "ZWE": "2:.55 8:.2 1:.1 0:.1 9:.05",
}
# Home languages (first name segment in maps/language.tsv) with shares; ISO 639-1 of the first.
LANGUAGES = {
    "AND": "ca Catalan:.6 Spanish:.4", "ARG": "es Spanish:1", "ARM": "hy Armenian:1",
    "AUS": "en English:1", "BGD": "bn Bengali:1", "BOL": "es Spanish:.85 Quechua:.1 Aymara:.05",
    "BRA": "pt Portuguese:1", "CAN": "en English:.75 French:.25", "CHL": "es Spanish:1",
    "CHN": "zh Standard Chinese:1", "COL": "es Spanish:1", "CYP": "el Greek:1",
    "CZE": "cs Czech:1", "ECU": "es Spanish:1", "EGY": "ar Arabic:1",
    "ETH": "am Amharic:.5 Oromo:.35 Tigrinya:.15", "DEU": "de German:1", "GBR": "en English:1",
    "GRC": "el Greek:1", "GTM": "es Spanish:.85 Kaqchikel:.15", "HKG": "zh Cantonese:1",
    "IND": "hi Hindi:.5 Bengali:.1 Marathi:.1 Telugu:.1 Tamil:.1 Gujarati:.1",
    "IDN": "id Indonesian:.5 Javanese:.35 Sundanese:.15", "IRN": "fa Persian:.85 Kurdish:.15",
    "IRQ": "ar Arabic:.8 Kurdish:.2", "JPN": "ja Japanese:1", "JOR": "ar Arabic:1",
    "KAZ": "kk Kazakh:.6 Russian:.4", "KEN": "sw Swahili:.5 Kikuyu:.2 Luhya:.15 Luo:.15",
    "KGZ": "ky Kirghiz:.75 Russian:.15 Uzbek:.1", "LBN": "ar Arabic:1", "LBY": "ar Arabic:1",
    "MAC": "zh Cantonese:1", "MYS": "ms Malay:.6 Standard Chinese:.25 Tamil:.1 English:.05",
    "MDV": "dv Other local:1", "MEX": "es Spanish:1", "MNG": "mn Mongolian:1",
    "MAR": "ar Arabic:.7 Berber:.3", "MMR": "my Burmese:.8 Shan:.1 Sgaw Karen:.1",
    "NLD": "nl Other European:1", "NZL": "en English:.95 Maori:.05", "NIC": "es Spanish:1",
    "NGA": "en Hausa:.3 Yoruba:.25 Igbo:.2 English:.15 Nigerian Pidgin:.1",
    "NIR": "en English:1", "PAK": "ur Urdu:.4 Punjabi:.35 Sindhi:.1 Pashto:.15",
    "PER": "es Spanish:.85 Quechua:.15",
    "PHL": "tl Filipino:.4 Cebuano:.25 Tagalog:.2 Hiligaynon:.15",
    "PRI": "es Spanish:.9 English:.1", "ROU": "ro Romanian:1", "RUS": "ru Russian:.95 Tatar:.05",
    "SRB": "sr Serbian:1", "SGP": "en English:.45 Standard Chinese:.35 Malay:.12 Tamil:.08",
    "SVK": "sk Slovak:1", "KOR": "ko Korean:1",
    "TWN": "zh Standard Chinese:.6 Hokkien:.35 Hakka Chinese:.05",
    "TJK": "tg Tajik:.85 Uzbek:.15", "THA": "th Thai:.8 Northern Thai:.1 Southern Thai:.1",
    "TUN": "ar Tunisian Arabic:1", "TUR": "tr Turkish:.85 Kurdish:.15",
    "UKR": "uk Ukrainian:.6 Russian:.4", "USA": "en English:.85 Spanish:.15", "URY": "es Spanish:1",
    "UZB": "uz Uzbek:.85 Russian:.1 Tajik:.05", "VEN": "es Spanish:1", "VNM": "vi Vietnamese:1",
    "ZWE": "sn Shona:.75 North Ndebele:.2 English:.05",
}
IMMIGRANTS = {"AND": .45, "AUS": .3, "CAN": .25, "HKG": .35, "MAC": .45, "SGP": .25, "NZL": .27,
              "USA": .14, "DEU": .15, "GBR": .13, "NLD": .12, "CYP": .15, "JOR": .1, "LBN": .08,
              "KAZ": .08, "NIR": .08, "RUS": .06, "ARM": .04, "KGZ": .03, "PRI": .05}
MAX_LANG, MAX_ETH = 6, 8


def build_layout(agg: Path) -> dict[str, Any]:
    """The 377 columns in official order with their valid and missing codes."""
    book = json.loads((agg / "raw" / "WorldValuesBench" / "codebook.json").read_text())
    cols = []
    for name, entry in book.items():
        codes = [int(float(k)) for k in entry.get("choices", {}) if _is_int(k)]
        valid = sorted(c for c in codes if c >= 0)
        coded = entry.get("type") == "multiple_choice" and 0 < len(valid) <= 30
        cols.append({"name": name, "valid": valid if coded else None,
                     "missing": sorted((c for c in codes if c < 0), reverse=True)})
    return {"source": "WVS-7 v5.0 variable list", "columns": cols}


def _is_int(k: str) -> bool:
    try:
        return float(k) == int(float(k))
    except ValueError:
        return False


def _read_map(path: Path) -> dict[int, str]:
    with path.open(encoding="utf-8") as fh:
        rows = list(csv.reader(fh, delimiter="\t"))
    return {int(r[0]): r[1] for r in rows[1:]}


def _pairs(spec: str) -> list[tuple[str, float]]:
    """``"Standard Chinese:.6 Hokkien:.4"`` -> [("Standard Chinese", 0.6), ("Hokkien", 0.4)]."""
    out: list[tuple[str, float]] = []
    words: list[str] = []
    for tok in spec.split():
        if ":" in tok:
            word, share = tok.split(":")
            out.append((" ".join([*words, word]), float(share)))
            words = []
        else:
            words.append(tok)
    return out


def build_countries(agg: Path, maps: Path) -> dict[str, np.ndarray]:
    """Country arrays of the parameter file (66 countries, official code order)."""
    table = pd.read_csv(agg / "tidy" / "countries.csv")
    table = table[table["in_wvs7_v6_66"] == "yes"].sort_values("iso_numeric")
    book = json.loads((agg / "raw" / "WorldValuesBench" / "codebook.json").read_text())
    names = {int(k): v for k, v in book["B_COUNTRY"]["choices"].items()}
    cow_num = {v: int(k) for k, v in book["C_COW_NUM"]["choices"].items() if _is_int(k)}
    cow_alpha = {v: k for k, v in book["C_COW_ALPHA"]["choices"].items()}
    languages = {v.split(";")[0].split(",")[0].strip(): k
                 for k, v in _read_map(maps / "language.tsv").items()}
    ethnic = _read_map(maps / "ethnic_group.tsv")
    births = _read_map(maps / "birth_country.tsv")
    c = len(table)
    out: dict[str, np.ndarray] = {
        "country_code": table["iso_numeric"].to_numpy(np.int64),
        "country_alpha3": table["alpha3"].to_numpy(str),
        "country_continent": table["continent_indievalue"].to_numpy(str),
        "country_size": table["n_valid_max_earth1_vnf"].to_numpy(np.int64),
    }
    years = []
    for y1, y2 in zip(table["s025_survey_years_v5_codebook"], table["ivs_years_2016_2023"],
                      strict=True):
        text = str(y1) if isinstance(y1, str) else str(y2) if isinstance(y2, str) else "2022"
        years.append(min(int(text.split(";")[0]), 2022))  # v5.0 fieldwork ends in 2022
    out["country_year"] = np.array(years, dtype=np.int64)
    name_of = [names.get(int(k), "") for k in out["country_code"]]
    gb = names.get(826, "")
    out["country_cow_num"] = np.array([cow_num.get(n, cow_num.get(gb, -5)) for n in name_of])
    out["country_cow_alpha"] = np.array([cow_alpha.get(n, cow_alpha.get(gb, "")) for n in name_of])
    out["trad_secular"] = table["ivs_tradagg_latest"].to_numpy(np.float64)
    out["surv_self"] = -table["ivs_survsagg_latest"].to_numpy(np.float64)  # + = self-expression
    rel = np.zeros((c, 10))
    lang_codes = np.full((c, MAX_LANG), -4, dtype=np.int64)
    lang_p = np.zeros((c, MAX_LANG))
    eth_codes = np.full((c, MAX_ETH), -4, dtype=np.int64)
    eth_p = np.zeros((c, MAX_ETH))
    iso, immig, birth = [], [], []
    for i, (a3, code) in enumerate(zip(out["country_alpha3"], out["country_code"], strict=True)):
        for item in RELIGION[a3].split():
            rel_code, rel_share = item.split(":")
            rel[i, int(rel_code)] = float(rel_share)
        head, *rest = LANGUAGES[a3].split(" ", 1)
        iso.append(head)
        for k, (lang, lang_share) in enumerate(_pairs(rest[0])):
            lang_codes[i, k] = languages[lang]  # KeyError = a typo in the table above
            lang_p[i, k] = lang_share
        groups = sorted(k for k in ethnic if k // 1000 == code)
        if groups:
            groups = [g for g in groups if g % 1000 != 999][: MAX_ETH - 1] + \
                     [g for g in groups if g % 1000 == 999]
            w = 0.45 ** np.arange(len(groups))
            eth_codes[i, : len(groups)] = groups
            eth_p[i, : len(groups)] = w / w.sum()
        else:
            eth_p[i, 0] = 1.0  # not asked in this country
        immig.append(IMMIGRANTS.get(str(a3), 0.02))
        birth.append(int(code) if int(code) in births else 826)  # Northern Ireland -> UK
    out["religion_p"] = rel / rel.sum(axis=1, keepdims=True)
    out["lang_codes"], out["lang_p"] = lang_codes, lang_p / lang_p.sum(axis=1, keepdims=True)
    out["eth_codes"], out["eth_p"] = eth_codes, eth_p
    out["country_lang_iso"] = np.array(iso)
    out["immig_rate"] = np.array(immig)
    out["birth_code"] = np.array(birth, dtype=np.int64)
    return out


def demographic_means(trad: np.ndarray, self_expr: np.ndarray) -> dict[str, np.ndarray]:
    """Mean age and schooling rise with secular and self-expression values (richer, older
    societies); a rough stand-in for country statistics we do not ship."""
    return {
        "age_mean": np.clip(42 + 2.5 * trad + 2.5 * self_expr, 34, 52),
        "edu_mean": np.clip(3.6 + 0.6 * trad + 0.5 * self_expr, 2.0, 5.5),
    }
