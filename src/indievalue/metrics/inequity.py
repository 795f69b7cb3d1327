"""Accuracy per demographic group and the Value Inequity Index σ_INEQUITY (PROTOCOL §4.3)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd


def group_accuracy(person_acc: pd.Series, groups: pd.Series) -> pd.Series:
    """Mean person accuracy (percent) of each group; persons without a group are left out."""
    joined = pd.DataFrame({"acc": person_acc, "group": groups.reindex(person_acc.index)})
    joined = joined.dropna(subset=["group"])
    return joined.groupby("group")["acc"].mean() * 100


def dimension_sigma(group_acc: pd.Series) -> float:
    """Sample standard deviation (ddof=1) of group accuracies; NaN with fewer than 2 groups."""
    return float(np.std(group_acc.to_numpy(), ddof=1)) if len(group_acc) > 1 else math.nan


def inequity(person_acc: pd.Series, demographics: pd.DataFrame) -> dict[str, object]:
    """Per-dimension group accuracies and σ, and σ_INEQUITY = mean σ over dimensions.

    ``demographics`` is indexed by person id with one column per dimension holding the person's
    demographic statement (None when missing). Dimensions with fewer than two groups present
    have no σ and are left out of the mean.
    """
    per_dim: dict[str, dict[str, object]] = {}
    sigmas = []
    for dim in demographics.columns:
        acc = group_accuracy(person_acc, demographics[dim])
        sigma = dimension_sigma(acc)
        counts = demographics[dim].reindex(person_acc.index).value_counts()
        per_dim[dim] = {
            "sigma": None if math.isnan(sigma) else sigma,
            "groups": {str(g): {"accuracy": float(a), "n": int(counts.get(g, 0))}
                       for g, a in acc.items()},
        }
        if not math.isnan(sigma):
            sigmas.append(sigma)
    return {
        "sigma_inequity": float(np.mean(sigmas)) if sigmas else None,
        "dimensions": per_dim,
    }
