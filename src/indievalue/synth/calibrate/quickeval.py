"""A fast numpy approximation of the paper's statistical baselines on a synthetic population.

Used by the calibration tool: labels come from the statement spec, the probe setups are the
benchmark's (``benchmark.setups``), the 800 evaluation persons are drawn by the benchmark's
eval-set rules (``benchmark.evalset``, PROTOCOL §3.2) straight from the generated frame, and
global majority / Resemble (top 1, top-N vote) are scored per probe setup (§3.1, §5).
Similarity counts equal *valid* labels over the setup's 214 non-probe questions; ties go to the
earlier person. The eval draw uses its own seed stream; given the benchmark's stream it picks
the same persons as ``select_eval_set`` (tests/synth/test_quickeval.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from indievalue.benchmark import evalset
from indievalue.benchmark.setups import probe_setups as benchmark_setups
from indievalue.catalog.build import CONTINENT_ENTRY
from indievalue.catalog.spec import Form, StatementSpec
from indievalue.predictors.base import pool_sample

MISSING = -1


SMALL_POOL = 1600  # the paper's Resemble (1600) rows: a seeded sample of the training pool


@dataclass(frozen=True)
class Baselines:
    """Accuracies in percent, per form: global majority, Resemble top 1, Resemble top N over
    the whole pool and over a seeded sample of ``SMALL_POOL`` of it; ``per_setup`` holds the
    same figures per probe setup (name -> form -> one value per setup)."""

    majority: dict[str, float]
    top1: dict[str, float]
    topn: dict[str, float]
    n_eval: int
    n_pool: int
    top1_small: dict[str, float] = field(default_factory=dict)
    topn_small: dict[str, float] = field(default_factory=dict)
    per_setup: dict[str, dict[str, list[float]]] = field(default_factory=dict)


def labels(df: pd.DataFrame, spec: StatementSpec, form: Form) -> np.ndarray:
    """Persons x questions option indices (int8), MISSING where the code is not valid."""
    lut = spec.code_lut(form)
    raw = df[spec.qids].to_numpy(dtype=np.int64)
    ok = (raw >= 0) & (raw < lut.shape[1])
    out = np.full(raw.shape, MISSING, dtype=np.int8)
    cols = np.broadcast_to(np.arange(raw.shape[1]), raw.shape)
    out[ok] = lut[cols[ok], raw[ok]]
    return out


def probe_setups(spec: StatementSpec) -> list[list[int]]:
    """Question indices of the benchmark's probe setups, each in setup order."""
    return [[spec.index(q) for q in s.qids] for s in benchmark_setups(spec)]


def valid_demographics(df: pd.DataFrame, spec: StatementSpec) -> np.ndarray:
    count = np.zeros(len(df), dtype=np.int64)
    for d in spec.demographics:
        table = d.statement_table()
        count += df[d.column].isin(list(table)).to_numpy()
    return count


def _eligible(df: pd.DataFrame, spec: StatementSpec, polar: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
    """Which rows may enter the eval set (every probe question and enough answers valid),
    and each row's continent statement."""
    probes = sorted({q for s in probe_setups(spec) for q in s})
    ok = (polar[:, probes] >= 0).all(axis=1) & (
        (polar >= 0).sum(axis=1) >= evalset.MIN_VALID_ANSWERS)
    return ok, df["B_COUNTRY"].map(continents(spec)).to_numpy()


def continents(spec: StatementSpec) -> Mapping[int, str]:
    """Country code -> continent name, from the spec's continent demographic."""
    entry = next(d for d in spec.demographics if d.did == CONTINENT_ENTRY)
    assert entry.mapping is not None
    return entry.mapping


def eligible_oceania(df: pd.DataFrame, spec: StatementSpec) -> int:
    """How many Oceania persons the eval set may take. The reference keeps every one of them
    and an equal quota of each other continent, so this sets Oceania's share of the eval set
    (about n / (n + 5 * quota))."""
    ok, continent = _eligible(df, spec, labels(df, spec, "polar"))
    return int((ok & (continent == evalset.OCEANIA)).sum())


def continent_quota(n_oceania: int, size: int) -> int:
    """Persons drawn from each non-Oceania continent when ``n_oceania`` Oceania persons are
    kept for an eval set of ``size`` (PROTOCOL §3.2)."""
    return max(1, (size - min(n_oceania, size)) // len(evalset.QUOTA_CONTINENTS) + 1)


def select_eval(
    df: pd.DataFrame, spec: StatementSpec, polar: np.ndarray, size: int, rng: np.random.Generator
) -> np.ndarray:
    """Row indices of the evaluation persons, the reference way (quota per continent).

    The rules of ``benchmark.evalset.select_eval_set``, read from the frame instead of a
    catalog; where a continent or the union falls short this takes what there is instead of
    refusing (the search may run on small populations)."""
    ok, continent = _eligible(df, spec, polar)
    n_demo = valid_demographics(df, spec)
    oce = np.flatnonzero(ok & (continent == evalset.OCEANIA))
    quota = continent_quota(len(oce), size)
    cap = max(round(evalset.RELIGION_CAP_AT_800 * size / evalset.DEFAULT_EVAL_SIZE), 1)
    chosen = [oce]
    religion = df["Q289"].to_numpy()
    capped_codes = evalset.CAPPED_RELIGION_CODES
    for cont in evalset.QUOTA_CONTINENTS:
        pool = np.flatnonzero(
            ok & (continent == cont) & (n_demo >= evalset.MIN_VALID_DEMOGRAPHICS))
        keep = [pool[~np.isin(religion[pool], capped_codes)]]
        for r in capped_codes:
            grp = pool[religion[pool] == r]
            keep.append(rng.choice(grp, cap, replace=False) if len(grp) > cap else grp)
        capped = np.sort(np.concatenate(keep))
        chosen.append(rng.choice(capped, min(quota, len(capped)), replace=False))
    union = np.concatenate(chosen)
    return rng.choice(union, min(size, len(union)), replace=False)


def _onehot(lab: np.ndarray, n_opt: np.ndarray) -> np.ndarray:
    offsets = np.concatenate([[0], np.cumsum(n_opt)[:-1]])
    out = np.zeros((lab.shape[0], int(n_opt.sum())), dtype=np.float32)
    rows, cols = np.nonzero(lab >= 0)
    out[rows, offsets[cols] + lab[rows, cols]] = 1.0
    return out


def _vote(votes: np.ndarray, n_opt: int) -> np.ndarray:
    """Majority of each row (MISSING counts as a candidate and loses ties)."""
    counts = np.stack([(votes == k).sum(axis=1) for k in range(n_opt)] +
                      [(votes == MISSING).sum(axis=1)], axis=1)
    best = counts.argmax(axis=1)
    return np.where(best == n_opt, MISSING, best)


def _top(sim: np.ndarray, top_n: int) -> np.ndarray:
    """(E, top_n) pool indices, most similar first; ties go to the earlier pool person."""
    key = sim.astype(np.float64) * (1 << 20) - np.arange(sim.shape[1])
    part = np.argpartition(-key, top_n - 1, axis=1)[:, :top_n]
    order = np.argsort(-np.take_along_axis(key, part, axis=1), axis=1)
    return np.take_along_axis(part, order, axis=1)


def baselines(
    df: pd.DataFrame, spec: StatementSpec, seed: int = 0, size: int = 800, top_n: int = 24,
    small_pool: int | None = SMALL_POOL,
) -> Baselines:
    rng = np.random.default_rng(seed)
    polar = labels(df, spec, "polar")
    ev = select_eval(df, spec, polar, size, rng)
    pool = np.setdiff1d(np.arange(len(df)), ev)
    pools = {"": pool}
    if small_pool is not None and small_pool < len(pool):
        # as Resemble's pool=N draws it (rows in file order = person-id order here)
        pools["_small"] = np.sort(pool_sample(pool, small_pool, seed))
    setups = probe_setups(spec)
    names = ["majority", *(f"{k}{tag}" for tag in pools for k in ("top1", "topn"))]
    per_setup: dict[str, dict[str, list[float]]] = {k: {} for k in names}
    for form in ("polar", "refined"):
        lab = polar if form == "polar" else labels(df, spec, form)
        n_opt = spec.option_counts(form)
        offsets = np.concatenate([[0], np.cumsum(n_opt)[:-1]])
        e_hot = _onehot(lab[ev], n_opt)
        for k in names:
            per_setup[k][form] = []
        for tag, rows in pools.items():
            p_hot = _onehot(lab[rows], n_opt)
            # Similarity over all questions once; each setup removes its probes' matches.
            full = e_hot @ p_hot.T
            for probes in setups:
                cols = np.concatenate([offsets[q] + np.arange(n_opt[q]) for q in probes])
                top = _top(full - e_hot[:, cols] @ p_hot[:, cols].T, top_n)
                # the majority vote needs no neighbours: scored with the whole pool only
                hits = {f"top1{tag}": 0.0, f"topn{tag}": 0.0, **({} if tag else {"majority": 0.0})}
                for q in probes:
                    truth = lab[ev, q]
                    col = lab[rows, q]
                    if not tag:
                        maj = _vote(col[None, :], int(n_opt[q]))[0]
                        hits["majority"] += float((truth == maj).sum())
                    hits[f"top1{tag}"] += float((truth == col[top[:, 0]]).sum())
                    hits[f"topn{tag}"] += float((truth == _vote(col[top], int(n_opt[q]))).sum())
                for k, v in hits.items():
                    per_setup[k][form].append(100.0 * v / (len(ev) * len(probes)))
    mean = {k: {f: float(np.mean(v)) for f, v in per.items()} for k, per in per_setup.items()}
    return Baselines(mean["majority"], mean["top1"], mean["topn"], len(ev), len(pool),
                     mean.get("top1_small", {}), mean.get("topn_small", {}), per_setup)
