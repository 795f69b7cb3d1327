"""The generator's fitted parameters and the WVS-7 column layout, loaded from package data.

Both files are written by ``tools/calibrate_synth.py``; generation never reads anything else.
Arrays live in one ``.npz`` (no pickle); scalars and the column layout in JSON.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np

PARAMS_FILE = "params.npz"
SCALARS_FILE = "params.json"
LAYOUT_FILE = "layout.json"

# Every array the generator reads, with its leading dimension (C countries, J value questions).
ARRAY_KEYS = (
    # countries
    "country_code", "country_alpha3", "country_continent", "country_year", "country_size",
    "country_cow_num", "country_cow_alpha", "country_lang_iso",
    "trad_secular", "surv_self", "age_mean", "edu_mean", "immig_rate", "religion_p",
    "lang_codes", "lang_p", "eth_codes", "eth_p", "birth_code",
    # value questions
    "q_ids", "q_cat", "q_codes", "q_ncat", "tau", "loc", "w", "rho", "miss_logit", "not_asked",
    # person heterogeneity: levels of the share g of communality, and their probabilities
    "structure_levels", "structure_p",
    # postmaterialist first/second choice batteries (3 batteries x 4 goals)
    "pm_base", "pm_slope",
)

# Arrays the generator reads when present (per-country missingness, see values.apply_missing).
OPTIONAL_ARRAY_KEYS = ("miss_country_shift", "miss_country_never")


@dataclass(frozen=True)
class Column:
    """One column of the official file: its name, valid codes (None = not a coded choice)
    and the negative missing codes the codebook allows for it."""

    name: str
    valid: tuple[int, ...] | None
    missing: tuple[int, ...]


@dataclass(frozen=True)
class SynthParams:
    """Fitted parameters: ``arrays`` by key (see ARRAY_KEYS) and named scalars."""

    arrays: dict[str, np.ndarray]
    scalars: dict[str, Any]

    def __getitem__(self, key: str) -> np.ndarray:
        return self.arrays[key]

    def scalar(self, key: str) -> float:
        return float(self.scalars[key])

    @property
    def n_countries(self) -> int:
        return len(self.arrays["country_code"])


def _data() -> Any:
    return resources.files("indievalue.synth") / "data"


@lru_cache(maxsize=1)
def load_params() -> SynthParams:
    """The shipped parameters (cached; treat the arrays as read-only)."""
    blob = (_data() / PARAMS_FILE).read_bytes()
    with np.load(io.BytesIO(blob), allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    scalars = json.loads((_data() / SCALARS_FILE).read_text(encoding="utf-8"))
    return SynthParams(arrays=arrays, scalars=scalars)


@lru_cache(maxsize=1)
def load_layout() -> tuple[Column, ...]:
    """The 377 WVS-7 v5.0 columns in official order."""
    raw = json.loads((_data() / LAYOUT_FILE).read_text(encoding="utf-8"))
    return tuple(
        Column(
            name=c["name"],
            valid=None if c["valid"] is None else tuple(c["valid"]),
            missing=tuple(c["missing"]),
        )
        for c in raw["columns"]
    )


def save_params(directory: Any, arrays: dict[str, np.ndarray], scalars: dict[str, Any]) -> None:
    """Write the parameter files (used by the calibration tool)."""
    missing = [k for k in ARRAY_KEYS if k not in arrays]
    if missing:
        raise ValueError(f"parameter arrays missing: {missing}")
    buf = io.BytesIO()
    keys = ARRAY_KEYS + tuple(k for k in OPTIONAL_ARRAY_KEYS if k in arrays)
    np.savez_compressed(buf, **{k: arrays[k] for k in keys})  # type: ignore[arg-type]
    (directory / PARAMS_FILE).write_bytes(buf.getvalue())
    (directory / SCALARS_FILE).write_text(
        json.dumps(scalars, indent=1, sort_keys=True) + "\n", encoding="utf-8"
    )
