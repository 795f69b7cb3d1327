"""``generate_population``: a synthetic respondent file in the WVS-7 v5.0 layout."""

from __future__ import annotations

import numpy as np
import pandas as pd

from indievalue.synth.generate.params import SynthParams, load_layout, load_params
from indievalue.synth.generate.persons import draw_persons
from indievalue.synth.generate.technical import (
    FLOAT_COLUMNS,
    STRING_COLUMNS,
    fallback_column,
    technical_columns,
)
from indievalue.synth.generate.values import answer_codes, apply_missing, draw_latents

GENERATOR_VERSION = "1.3.0"
SYNTHETIC_PREFIX = "SYNTHETIC"  # must match indievalue.catalog.wvs.SYNTHETIC_MARK


def version_label(seed: int) -> str:
    """The ``version`` cell of every row: marks the file synthetic and says how it was made."""
    return f"{SYNTHETIC_PREFIX} indievalue-synth {GENERATOR_VERSION} seed={seed}"


def generate_population(
    n_persons: int, seed: int, params: SynthParams | None = None
) -> pd.DataFrame:
    """Draw ``n_persons`` synthetic respondents, deterministically from ``seed``.

    Rows are ordered by country (the parameter table's order) then serial, as in the real
    file; columns are the 377 official columns in official order. ``params`` defaults to the
    shipped, calibrated parameters (the calibration tool passes candidates).
    """
    if n_persons < 1:
        raise ValueError("n_persons must be at least 1")
    if seed < 0:
        raise ValueError("seed must be non-negative")
    p = load_params() if params is None else params
    # Independent streams per stage, so changing one stage leaves the others' draws alone.
    s_persons, s_latent, s_answers, s_missing, s_tech, s_fill = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(6)
    )
    persons = draw_persons(p, n_persons, s_persons)
    latents = draw_latents(p, persons, s_latent)
    codes = answer_codes(p, persons, latents, s_answers)
    apply_missing(p, persons, codes, s_missing)
    codes.update(persons.columns)
    codes.update(technical_columns(p, persons, codes, version_label(seed), s_tech))
    data: dict[str, np.ndarray] = {}
    for column in load_layout():
        values = codes.get(column.name)
        if values is None:
            values = fallback_column(column, n_persons, s_fill)
        if column.name in STRING_COLUMNS:
            data[column.name] = np.asarray(values, dtype=object)
        elif column.name in FLOAT_COLUMNS:
            data[column.name] = np.asarray(values, dtype=np.float64)
        else:
            data[column.name] = np.asarray(values, dtype=np.int64)
    return pd.DataFrame(data)
