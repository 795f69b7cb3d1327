"""The probe setups: which questions are held out as probes in each setup.

How many setups and how many probes per category come from the spec's protocol
(:mod:`indievalue.catalog.protocol`): 3 and 3 for WVS-7.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from indievalue.catalog.spec import StatementSpec

N_SETUPS = 3  # the reference protocol's values (WVS_PROTOCOL)
PER_CATEGORY = 3


@dataclass(frozen=True)
class ProbeSetup:
    """One setup: its probe question ids in setup order (category order, then position)."""

    index: int
    qids: tuple[str, ...]
    categories: tuple[str, ...]  # category key of each probe, aligned with qids


def probe_setups(
    spec: StatementSpec, n_setups: int | None = None, per_category: int | None = None
) -> list[ProbeSetup]:
    """Setup k takes, inside each category (in catalog order), the questions at positions
    ``per_category*k + j`` (j < per_category) modulo the category's size. ``n_setups`` and
    ``per_category`` default to the spec's protocol."""
    n_setups = spec.protocol.setups if n_setups is None else n_setups
    per_category = spec.protocol.probes_per_category if per_category is None else per_category
    setups = []
    for k in range(n_setups):
        qids: list[str] = []
        cats: list[str] = []
        for cat in spec.categories:
            members = [q.qid for q in spec.questions_in(cat.key)]
            if not members:
                continue
            picked = [members[(per_category * k + j) % len(members)] for j in range(per_category)]
            if len(set(picked)) != len(picked):
                raise ValueError(f"category {cat.key} has too few questions for {per_category} "
                                 "distinct probes")
            qids += picked
            cats += [cat.key] * per_category
        setups.append(ProbeSetup(k, tuple(qids), tuple(cats)))
    return setups


def probe_union(setups: list[ProbeSetup]) -> list[str]:
    """Distinct probe questions over all setups, in first-seen order."""
    return list(dict.fromkeys(q for s in setups for q in s.qids))


def protocol_summary(spec: StatementSpec) -> dict[str, Any]:
    """What ``indievalue datasets check`` prints about a valid spec: its size, fairness
    dimensions and the benchmark its protocol gives (setups, demonstrations, eval-set size)."""
    return {
        "version": spec.version,
        "survey": spec.survey.name if spec.survey else "WVS-7",
        "value_questions": len(spec.questions),
        "categories": len(spec.categories),
        "polar_statements": spec.n_statements("polar"),
        "refined_statements": spec.n_statements("refined"),
        "demographic_entries": len(spec.demographics),
        "fairness_dimensions": [d.dimension for d in spec.demographics if d.dimension],
        "setups": [list(s.qids) for s in probe_setups(spec)],
        "demos": spec.protocol.demos,
        "eval_size": spec.protocol.eval_set.size,
        "content_hash": spec.content_hash,
    }
