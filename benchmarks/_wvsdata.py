"""A WVS-7-shaped CSV of any size for benchmarks: the columns the catalog reads, with valid codes
and some WVS negative missing codes, padded with unread columns to the official file's width
(WVS-7 v5.0 has 613 variables), so the reader pays for skipping columns as it would on real data.

Deterministic for a seed. Not survey data: the ``version`` column says SYNTHETIC.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from indievalue.catalog.spec_io import builtin_spec

OFFICIAL_WIDTH = 613
COUNTRY_CODES = (32, 76, 156, 276, 356, 554, 826, 840)
MISSING_CODES = (-1, -2, -3, -4, -5)


def write_wvs_csv(
    path: str | Path,
    n_persons: int,
    seed: int = 0,
    missing_rate: float = 0.05,
    width: int = OFFICIAL_WIDTH,
) -> Path:
    """Write ``n_persons`` respondents to ``path`` (a CSV with the official header names)."""
    spec = builtin_spec()
    rng = np.random.default_rng(seed)
    n = n_persons

    def codes(pool: np.ndarray) -> pa.Array:
        v = pool[rng.integers(0, len(pool), size=n)]
        miss = rng.random(n) < missing_rate
        v[miss] = np.array(MISSING_CODES)[rng.integers(0, len(MISSING_CODES), int(miss.sum()))]
        return pa.array(v.astype(np.int16))

    cols: dict[str, pa.Array] = {
        "version": pa.array(["SYNTHETIC benchmark data"] * n),
        "A_YEAR": pa.array(np.full(n, 2018, dtype=np.int16)),
        "B_COUNTRY": codes(np.array(COUNTRY_CODES)),
        "D_INTERVIEW": pa.array(np.arange(n, dtype=np.int64) + 20_070_001),
        "W_WEIGHT": pa.array(np.round(rng.uniform(0.2, 3.0, size=n), 6)),
    }
    for q in spec.questions:
        cols[q.qid] = codes(np.array(sorted(q.valid_codes)))
    for column in spec.demographic_columns:
        if column not in cols:
            cols[column] = codes(np.array(spec.demographic_codes(column), dtype=np.int64))
    filler = 0
    while len(cols) < width:
        filler += 1
        cols[f"Y{filler:03d}"] = pa.array(rng.integers(-5, 11, size=n).astype(np.int16))
    out = Path(path)
    pacsv.write_csv(pa.table(cols), out,
                    write_options=pacsv.WriteOptions(quoting_style="needed"))
    return out
