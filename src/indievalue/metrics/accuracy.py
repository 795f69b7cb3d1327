"""Accuracy per person, setup, category and overall (PROTOCOL §4.1–4.2), from records.

``records`` is a DataFrame with one row per person x probe and at least the columns
person_id, setup, category, correct (bool).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from indievalue.errors import IndieValueError


def person_setup_accuracy(records: pd.DataFrame) -> pd.Series:
    """acc(i, k): share of correct probes of person i in setup k."""
    return records.groupby(["person_id", "setup"])["correct"].mean()


def person_accuracy(records: pd.DataFrame) -> pd.Series:
    """acc(i): mean over the setups of acc(i, k)."""
    return person_setup_accuracy(records).groupby(level="person_id").mean()


def overall_accuracy(records: pd.DataFrame) -> float:
    """Mean of acc(i) over persons, in percent."""
    return float(person_accuracy(records).mean() * 100)


def per_setup_accuracy(records: pd.DataFrame) -> dict[int, float]:
    acc = person_setup_accuracy(records).groupby(level="setup").mean() * 100
    return {int(k): float(v) for k, v in acc.items()}  # type: ignore[call-overload]


def per_category_accuracy(records: pd.DataFrame, order: list[str]) -> dict[str, float]:
    """Mean over (person, setup) of the share correct among that setup's probes of a category."""
    cell = records.groupby(["person_id", "setup", "category"])["correct"].mean()
    acc = cell.groupby(level="category").mean() * 100
    return {c: float(acc[c]) for c in order if c in acc.index}


def chance_per_setup(records: pd.DataFrame) -> dict[int, float]:
    """Analytic accuracy of a uniform guess: mean of 1/|options| per setup, in percent."""
    inv = 1.0 / records["n_options"].astype(np.float64)
    acc = inv.groupby(records["setup"]).mean() * 100
    return {int(k): float(v) for k, v in acc.items()}  # type: ignore[call-overload]


def bootstrap_ci(values: np.ndarray, seed: int = 0, n_boot: int = 2000,
                 level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of the mean under resampling persons with replacement, x100."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) < 2:
        m = float(values.mean() * 100) if len(values) else float("nan")
        return (m, m)
    rng = np.random.default_rng([seed, 97])
    means = np.empty(n_boot)
    for start in range(0, n_boot, 256):  # bounded memory for large eval sets
        n = min(256, n_boot - start)
        idx = rng.integers(0, len(values), size=(n, len(values)))
        means[start : start + n] = values[idx].mean(axis=1)
    lo, hi = np.quantile(means, [(1 - level) / 2, 1 - (1 - level) / 2])
    return (float(lo * 100), float(hi * 100))


def sweep_accuracy(records: pd.DataFrame) -> dict[int, float]:
    """Overall accuracy for every cluster size recorded in a ``sweep`` column."""
    if "sweep" not in records or records["sweep"].isna().any():
        return {}
    rows = records["sweep"].to_numpy()
    lengths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
    if len(rows) and (lengths != lengths[0]).any():
        raise IndieValueError("records: the sweep field holds different numbers of cluster "
                              "sizes on different lines")
    sweep = np.concatenate(rows).reshape(len(rows), -1)  # (R, n)
    correct = pd.DataFrame(sweep == records["gold"].to_numpy()[:, None],
                           columns=range(1, sweep.shape[1] + 1), index=records.index)
    # all cluster sizes in one pass: mean per (person, setup), then per person, then overall
    keys = [records["person_id"], records["setup"]]
    cell = correct.groupby(keys).mean()
    acc = cell.groupby(level=0).mean().mean() * 100
    return {int(n): float(v) for n, v in acc.items()}  # type: ignore[call-overload]
