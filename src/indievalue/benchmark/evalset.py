"""The held-out evaluation persons ("balanced demographic representation") and the training pool.

How the persons are drawn comes from the spec's protocol (:mod:`indievalue.catalog.protocol`
describes the steps); the constants below are the reference protocol's values, which the
built-in WVS-7 spec carries.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from indievalue.benchmark.setups import ProbeSetup, probe_setups, probe_union
from indievalue.catalog.protocol import Cap, group_labels, strata_groups
from indievalue.catalog.store import Catalog
from indievalue.errors import IndieValueError
from indievalue.fsutil import atomic_write_text

DEFAULT_EVAL_SIZE = 800
MIN_VALID_ANSWERS = 239  # 200 demonstrations + 39 probes
MIN_VALID_DEMOGRAPHICS = 24
RELIGION_CAP_AT_800 = 80
OCEANIA = "Oceania"
QUOTA_CONTINENTS = ("Africa", "Asia", "Europe", "North America", "South America")
# Q289 codes whose groups are capped per continent: none, Catholic, Protestant, Orthodox,
# Muslim, Buddhist, other Christian, other. Jewish (4), Hindu (6) and missing are never capped.
CAPPED_RELIGION_CODES = (0, 1, 2, 3, 5, 7, 8, 9)
RELIGION_COLUMN = "Q289_code"
STREAM_EVALSET = 1
STREAM_SPLIT = 2


@dataclass(frozen=True)
class EvalSet:
    """Evaluation person ids in their drawn order; test and val halves of that order."""

    person_ids: np.ndarray
    test_ids: np.ndarray
    val_ids: np.ndarray


def eligible_mask(cat: Catalog, setups: list[ProbeSetup]) -> np.ndarray:
    """Persons valid on every probe question of every setup with enough valid answers."""
    cols = [cat.spec.index(q) for q in probe_union(setups)]
    valid_probes = (cat.polar[:, cols] >= 0).all(axis=1)
    need = cat.spec.protocol.min_valid_answers
    return valid_probes & (cat.persons["n_valid"].to_numpy() >= need)


def select_eval_set(cat: Catalog, size: int | None = None, seed: int = 0) -> EvalSet:
    """Draw the eval set as the spec's protocol says (for WVS-7 the reference way: all eligible
    Oceania persons, a quota per other continent after capping large religion groups, then
    ``size`` drawn from the union). ``size`` defaults to the protocol's."""
    params = cat.spec.protocol.eval_set
    size = params.size if size is None else size
    if size < 1:
        raise IndieValueError("--eval-size must be at least 1")
    check_seed(seed)
    rng = np.random.default_rng([seed, STREAM_EVALSET])
    setups = probe_setups(cat.spec)
    ok = eligible_mask(cat, setups)
    enough_demo = cat.persons["n_valid_demographics"].to_numpy() >= params.min_valid_demographics
    take_all, groups = strata_groups(cat.spec)
    if params.strata is None:
        pool = np.flatnonzero(ok & enough_demo)
        chosen = [_capped(cat, pool, params.cap, size, rng)]
    else:
        group = _group_index(cat, params.strata.entry, (*take_all, *groups))
        whole = np.flatnonzero(ok & (group >= 0) & (group < len(take_all)))
        chosen = [whole]
        n_rest = size - min(len(whole), size)
        quota = max(1, math.floor(n_rest / len(groups)) + 1) if groups else 0
        for g, name in enumerate(groups, start=len(take_all)):
            pool = np.flatnonzero(ok & (group == g) & enough_demo)
            capped = _capped(cat, pool, params.cap, size, rng)
            if len(capped) < quota:
                raise IndieValueError(
                    f"the catalog is too small for an eval set of {size}: {name} has "
                    f"{len(capped)} eligible persons and needs {quota}; choose a smaller "
                    "--eval-size"
                )
            chosen.append(rng.choice(capped, quota, replace=False))
    union = np.concatenate(chosen)
    if len(union) < size:
        raise IndieValueError(
            f"the catalog is too small for an eval set of {size}: only {len(union)} persons "
            "pass the filters; choose a smaller --eval-size"
        )
    rows = rng.choice(union, size, replace=False)
    return with_halves(cat.person_ids[rows], seed)


def _group_index(cat: Catalog, entry_id: str, names: tuple[str, ...]) -> np.ndarray:
    """Each person's position in ``names`` by their code of strata entry ``entry_id`` (-1:
    none of them, or missing)."""
    entry = next(d for d in cat.spec.demographics if d.did == entry_id)
    position = {name: i for i, name in enumerate(names)}
    labels = group_labels(entry)
    codes = cat.demographics[f"{entry.column}_code"].to_numpy(dtype=np.int64)
    uniq, inverse = np.unique(codes, return_inverse=True)
    per_code = np.array([position.get(labels.get(int(c), ""), -1) for c in uniq],
                        dtype=np.int64)
    return per_code[inverse.reshape(-1)] if len(uniq) else np.zeros(0, dtype=np.int64)


def _capped(cat: Catalog, pool: np.ndarray, cap: Cap | None, size: int,
            rng: np.random.Generator) -> np.ndarray:
    """``pool`` (sorted rows) with each capped code group thinned to the cap, sorted."""
    if cap is None:
        return pool
    codes = cat.demographics[f"{cap.column}_code"].to_numpy()
    limit = cap.limit(size)
    kept = [pool[~np.isin(codes[pool], cap.codes)]]
    for code in cap.codes:
        group = pool[codes[pool] == code]
        kept.append(rng.choice(group, limit, replace=False) if len(group) > limit else group)
    return np.sort(np.concatenate(kept))


def check_seed(seed: int) -> None:
    """Seeds feed numpy's SeedSequence, which takes no negative numbers: every run draws its
    eval set here first, so a negative --seed is refused here, before anything is written."""
    if seed < 0:
        raise IndieValueError(f"--seed must be non-negative (got {seed})")


def with_halves(person_ids: np.ndarray, seed: int) -> EvalSet:
    """Shuffle the ids once (seeded); the first half is test, the rest val."""
    order = np.random.default_rng([seed, STREAM_SPLIT]).permutation(len(person_ids))
    shuffled = person_ids[order]
    half = len(shuffled) // 2
    return EvalSet(np.asarray(person_ids, dtype=np.int64), shuffled[:half], shuffled[half:])


def write_eval_ids(path: str | Path, ids: np.ndarray) -> None:
    atomic_write_text(path, "".join(f"{int(i)}\n" for i in ids))


def read_eval_ids(path: str | Path, cat: Catalog, seed: int = 0) -> EvalSet:
    """Read ids (one per line) and check each is a person of the catalog."""
    p = Path(path)
    check_seed(seed)
    try:
        lines = [ln.strip() for ln in p.read_text(encoding="utf-8").splitlines()]
    except FileNotFoundError:
        raise IndieValueError(f"{p}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise IndieValueError(f"{p}: cannot read ({exc})") from None
    ids = []
    for n, line in enumerate(lines, 1):
        if not line:
            continue
        try:
            ids.append(int(line))
        except ValueError:
            raise IndieValueError(f"{p}:{n}: not a person id: {line!r}") from None
    if not ids:
        raise IndieValueError(f"{p}: no person ids")
    if len(set(ids)) != len(ids):
        raise IndieValueError(f"{p}: a person id appears twice")
    known = set(cat.person_ids.tolist())
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise IndieValueError(f"{p}: {len(unknown)} id(s) not in the catalog, e.g. {unknown[0]}")
    return with_halves(np.array(ids, dtype=np.int64), seed)


def training_rows(cat: Catalog, eval_ids: np.ndarray) -> np.ndarray:
    """Catalog rows of everyone not in the eval set."""
    return np.flatnonzero(~np.isin(cat.person_ids, eval_ids))
