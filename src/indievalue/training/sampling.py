"""Sampling a training unit (PROTOCOL §6.2), vectorised over persons.

For each question of the unit (catalog order): shuffle the pool, draw a demonstration count for
every visited person, accept a person whose probe answer is valid and who has at least ``count``
other valid answers, and keep the first N accepted. Every accepted (person, question) becomes
its own example — the reference stored the draws inside a shared person record, so repeated
persons came out as copies of their last question; here each example owns its arrays.

Demonstrations are drawn later, chunk by chunk (:func:`draw_demos`), so a unit of any size
never holds its persons × questions random keys at once.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from indievalue.benchmark.setups import probe_setups, probe_union
from indievalue.catalog.store import Catalog
from indievalue.errors import IndieValueError
from indievalue.training.units import Unit

STREAM_SFT = 41


@dataclass(frozen=True)
class UnitSample:
    """The accepted (person, question) pairs of one unit, question-major."""

    unit: Unit
    rows: np.ndarray  # (E,) int64 catalog rows
    probe_qidx: np.ndarray  # (E,) int16 question index
    counts: np.ndarray  # (E,) int16 demonstrations to draw (0 for demographics units)
    gold: np.ndarray  # (E,) int8 option index in the probe form

    def __len__(self) -> int:
        return len(self.rows)


def unit_rng(seed: int, unit: Unit) -> np.random.Generator:
    """The unit's own stream: the same unit in two mixtures gets the same examples."""
    return np.random.default_rng([seed, STREAM_SFT, zlib.crc32(unit.name.encode())])


def unit_questions(cat: Catalog, unit: Unit) -> np.ndarray:
    """Question indices of the unit in catalog order: all, or the 108 probe questions."""
    if unit.questions == "full":
        return np.arange(len(cat.spec.questions), dtype=np.int64)
    qids = probe_union(probe_setups(cat.spec))
    return np.sort(np.array([cat.spec.index(q) for q in qids], dtype=np.int64))


def unit_pool(cat: Catalog, train_rows: np.ndarray, unit: Unit) -> np.ndarray:
    """The unit's candidate persons: the training pool, restricted to a continent if asked."""
    if unit.continent is None:
        return train_rows
    names = cat.persons["continent"].to_numpy(dtype=object)[train_rows]
    # The reference keeps persons whose continent statement *contains* the name.
    hit = np.array([isinstance(c, str) and unit.continent.lower() in c.lower() for c in names],
                   dtype=bool)
    if not hit.any():
        raise IndieValueError(f"unit {unit.name}: no training persons in {unit.continent}")
    return train_rows[hit]


def sample_unit(cat: Catalog, pool: np.ndarray, unit: Unit,
                rng: np.random.Generator) -> UnitSample:
    """Draw the unit's N persons for every question (see the module docstring)."""
    probe = cat.matrix(unit.probe_form)[pool]
    demo_valid = cat.matrix(unit.demo_form)[pool] >= 0
    n_valid = demo_valid.sum(axis=1)
    probe_valid = np.asfortranarray(probe >= 0)  # column access per question
    lo, hi = unit.count_range
    n_pool = len(pool)
    out_rows, out_q, out_counts, out_gold = [], [], [], []
    for qi in unit_questions(cat, unit):
        perm = rng.permutation(n_pool)
        counts = np.full(n_pool, lo, dtype=np.int64) if lo == hi else \
            rng.integers(lo, hi + 1, size=n_pool)
        # demonstrations come from the person's valid answers other than this question
        available = n_valid[perm] - demo_valid[perm, qi]
        ok = probe_valid[perm, qi] & (available >= counts)
        accepted = np.flatnonzero(ok)[: unit.n]
        if len(accepted) < unit.n:
            raise IndieValueError(
                f"unit {unit.name}: question {cat.spec.questions[qi].qid} has only "
                f"{len(accepted)} eligible training persons, {unit.n} needed; lower N or "
                "use a larger catalog")
        chosen = perm[accepted]
        out_rows.append(pool[chosen])
        out_q.append(np.full(unit.n, qi, dtype=np.int16))
        out_counts.append(counts[accepted].astype(np.int16))
        out_gold.append(probe[chosen, qi].astype(np.int8))
    return UnitSample(unit, np.concatenate(out_rows).astype(np.int64), np.concatenate(out_q),
                      np.concatenate(out_counts), np.concatenate(out_gold))


def draw_demos(demo: np.ndarray, probe_qidx: np.ndarray, counts: np.ndarray,
               rng: np.random.Generator) -> np.ndarray:
    """Demonstration question indices, (E, max count), -1 padded, in random draw order.

    ``demo`` holds the examples' persons' answers in the demo form (E × Q). Each row draws
    ``counts[e]`` questions uniformly without replacement among its valid answers other than
    its probe: sorting uniform random keys, with ineligible questions keyed +inf.
    """
    width = int(counts.max()) if len(counts) else 0
    if width == 0:
        return np.full((len(counts), 0), -1, dtype=np.int16)
    keys = rng.random(demo.shape)
    keys[demo < 0] = np.inf
    keys[np.arange(len(keys)), probe_qidx.astype(np.int64)] = np.inf
    order = np.argsort(keys, axis=1, kind="stable")[:, :width]
    keep = np.arange(width)[None, :] < counts[:, None]
    return np.where(keep, order, -1).astype(np.int16)
