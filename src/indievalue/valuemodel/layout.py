"""Where every statement lives in the value model's input and output vectors (numpy only).

Input tokens: one per (question, answer) statement of either form — the polar statements first,
then the refined ones — so a demonstration set is a bag of token ids whatever its form.
Output: one logit per *refined* statement. Every refined option lies inside exactly one polar
option (the spec validates the nesting), so a polar probability is the sum of its refined
options' probabilities and a single head serves both probe forms.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from indievalue.catalog.spec import Form, StatementSpec


@dataclass(frozen=True)
class Layout:
    """Option counts and offsets of a statement spec, and the refined → polar map."""

    n_polar: np.ndarray  # (Q,) polar option count per question
    n_refined: np.ndarray  # (Q,) refined option count per question
    refined_to_polar: np.ndarray  # (Q, K_refined) polar index of each refined option, -1 pad

    @classmethod
    def from_spec(cls, spec: StatementSpec) -> Layout:
        n_p = spec.option_counts("polar")
        n_r = spec.option_counts("refined")
        r2p = np.full((len(n_r), int(n_r.max())), -1, dtype=np.int64)
        for i, q in enumerate(spec.questions):
            r2p[i, : n_r[i]] = q.refined_to_polar()
        return cls(n_p, n_r, r2p)

    @property
    def n_questions(self) -> int:
        return len(self.n_polar)

    @property
    def k_polar(self) -> int:
        return int(self.n_polar.max())

    @property
    def k_refined(self) -> int:
        return int(self.n_refined.max())

    def counts(self, form: Form) -> np.ndarray:
        return self.n_polar if form == "polar" else self.n_refined

    def offsets(self, form: Form) -> np.ndarray:
        """First token of each question's options, in the shared polar + refined vocabulary."""
        base = 0 if form == "polar" else int(self.n_polar.sum())
        return base + self.local_offsets(form)

    @property
    def n_tokens(self) -> int:
        return int(self.n_polar.sum() + self.n_refined.sum())

    @property
    def n_outputs(self) -> int:
        return int(self.n_refined.sum())

    def local_offsets(self, form: Form) -> np.ndarray:
        """First position of each question's options in a packed per-form vector."""
        return np.concatenate([[0], np.cumsum(self.counts(form))[:-1]]).astype(np.int64)

    def padded_slots(self, form: Form) -> np.ndarray:
        """(Q, K) packed position of each option of each question, -1 beyond its options."""
        counts = self.counts(form)
        k = np.arange(int(counts.max()))[None, :]
        return np.where(k < counts[:, None], self.local_offsets(form)[:, None] + k, -1)

    def to_dict(self) -> dict[str, Any]:
        return {"n_polar": self.n_polar.tolist(), "n_refined": self.n_refined.tolist(),
                "refined_to_polar": self.refined_to_polar.tolist()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Layout:
        return cls(np.asarray(data["n_polar"], dtype=np.int64),
                   np.asarray(data["n_refined"], dtype=np.int64),
                   np.asarray(data["refined_to_polar"], dtype=np.int64))

    def fingerprint(self) -> str:
        """Identifies the option structure a model was trained on (not the wording)."""
        blob = json.dumps(self.to_dict(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def same_as(self, other: Layout) -> bool:
        return self.fingerprint() == other.fingerprint()


def tokens(layout: Layout, form: Form, qidx: np.ndarray, answers: np.ndarray) -> np.ndarray:
    """Token id of each (question, answer) pair of ``form``; -1 where ``answers`` is -1."""
    qidx = np.asarray(qidx, dtype=np.int64)
    answers = np.asarray(answers, dtype=np.int64)
    ok = (qidx >= 0) & (answers >= 0)
    tok = layout.offsets(form)[np.where(ok, qidx, 0)] + answers
    return np.where(ok, tok, -1)
