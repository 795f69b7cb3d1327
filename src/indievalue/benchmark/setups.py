"""The probe setups: which questions are held out as probes in each of the three setups."""

from __future__ import annotations

from dataclasses import dataclass

from indievalue.catalog.spec import StatementSpec

N_SETUPS = 3
PER_CATEGORY = 3


@dataclass(frozen=True)
class ProbeSetup:
    """One setup: its probe question ids in setup order (category order, then position)."""

    index: int
    qids: tuple[str, ...]
    categories: tuple[str, ...]  # category key of each probe, aligned with qids


def probe_setups(
    spec: StatementSpec, n_setups: int = N_SETUPS, per_category: int = PER_CATEGORY
) -> list[ProbeSetup]:
    """Setup k takes, inside each category (in catalog order), the questions at positions
    ``per_category*k + j`` (j < per_category) modulo the category's size."""
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
