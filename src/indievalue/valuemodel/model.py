"""A trained value model: the network, what it was trained on, and its saved form.

A model directory holds ``model.json`` (format, options, option layout, catalog identity, the
training report, provenance) and ``weights.npz`` (every tensor, plus the ids of the persons the
model learned from, so a run can refuse a model that has seen its evaluation persons). No
pickle: the arrays load with ``allow_pickle=False``.
"""

from __future__ import annotations

import copy
import io
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch

from indievalue.catalog.spec import Form
from indievalue.errors import IndieValueError
from indievalue.fsutil import atomic_dir, atomic_write_bytes, read_json, write_json
from indievalue.valuemodel.layout import Layout, tokens
from indievalue.valuemodel.network import ValueNet
from indievalue.valuemodel.options import ValueModelOptions

MODEL_FORMAT = "indievalue-value-model"
MODEL_VERSION = 2
MODEL_FILE = "model.json"
WEIGHTS_FILE = "weights.npz"
PERSONS_KEY = "__person_ids__"
ENCODE_CHUNK = 4096  # persons / episodes per forward pass at inference


@dataclass
class ValueModel:
    """A trained network plus its provenance. Inference runs in float64 so that an episode's
    answer does not depend on which other episodes share its batch."""

    net: ValueNet
    layout: Layout
    options: ValueModelOptions
    seed: int
    person_ids: np.ndarray  # every person the model learned from (training + held-out slice)
    info: dict[str, Any]  # catalog identity, training report
    groups: list[str] = field(default_factory=list)  # group (country code) of each group index
    _net64: ValueNet | None = field(default=None, repr=False)

    @property
    def dim(self) -> int:
        return self.options.dim

    def _inference_net(self) -> ValueNet:
        if self._net64 is None:
            self._net64 = copy.deepcopy(self.net).double().eval()
        return self._net64

    @torch.no_grad()
    def encode(self, form: Form, qidx: np.ndarray, answers: np.ndarray) -> np.ndarray:
        """(N, dim) person vectors from N rows of (question index, answer) pairs, -1 padded."""
        net = self._inference_net()
        out = np.empty((len(qidx), self.dim), dtype=np.float64)
        for s in range(0, len(qidx), ENCODE_CHUNK):
            state = self._state(net, form, qidx[s : s + ENCODE_CHUNK],
                                answers[s : s + ENCODE_CHUNK])
            out[s : s + ENCODE_CHUNK] = net.person_vectors(state).numpy()
        return out

    @torch.no_grad()
    def sharpness(self, form: Form, qidx: np.ndarray, answers: np.ndarray) -> np.ndarray:
        """(N,) each row's inverse temperature: how consistently, by the model, the person
        answers (higher: sharper predictions), from (question index, answer) pairs."""
        net = self._inference_net()
        out = np.empty(len(qidx), dtype=np.float64)
        for s in range(0, len(qidx), ENCODE_CHUNK):
            state = self._state(net, form, qidx[s : s + ENCODE_CHUNK],
                                answers[s : s + ENCODE_CHUNK])
            out[s : s + ENCODE_CHUNK] = net.log_sharpness(state).exp().numpy()
        return out

    @torch.no_grad()
    def group_probs(self, form: Form, qidx: np.ndarray, answers: np.ndarray) -> np.ndarray:
        """(N, len(groups)) posterior over groups (countries, named by ``groups``) from N rows
        of (question index, answer) pairs, -1 padded; (N, 0) for a model without groups."""
        net = self._inference_net()
        out = np.empty((len(qidx), len(self.groups)), dtype=np.float64)
        for s in range(0, len(qidx), ENCODE_CHUNK):
            state = self._state(net, form, qidx[s : s + ENCODE_CHUNK],
                                answers[s : s + ENCODE_CHUNK])
            out[s : s + ENCODE_CHUNK] = net.group_log_posterior(state).exp().numpy()
        return out

    def _state(self, net: ValueNet, form: Form, qidx: np.ndarray, answers: np.ndarray,
               known_group: np.ndarray | None = None) -> torch.Tensor:
        """Network states (person vector, then group log posterior) of N rows."""
        tok = tokens(self.layout, form, qidx, answers)
        ok = tok >= 0
        counts = torch.as_tensor(ok.sum(axis=1), dtype=torch.int64)
        offsets = torch.cumsum(counts, 0) - counts
        known = None if known_group is None or not self.groups else \
            torch.as_tensor(np.asarray(known_group, dtype=np.int64))
        return net.encode(torch.as_tensor(tok[ok]), offsets, counts, known)

    @torch.no_grad()
    def probe_probs(self, form: Form, qidx: np.ndarray, answers: np.ndarray,
                    probe_form: Form, probe_qidx: np.ndarray,
                    known_group: np.ndarray | None = None) -> np.ndarray:
        """(E, m, K) float64 probabilities of each probe's options (0 beyond them), from each
        episode's demonstrations (``qidx``/``answers`` in ``form``, -1 padded) and, where
        ``known_group`` (E,) is not -1, the person's group (index into ``groups``)."""
        from indievalue.valuemodel.network import padded

        net = self._inference_net()
        k = self.layout.k_polar if probe_form == "polar" else self.layout.k_refined
        slots = getattr(net, f"slots_{probe_form}")
        out = np.zeros((*probe_qidx.shape, k), dtype=np.float64)
        for s in range(0, len(qidx), ENCODE_CHUNK):
            sl = slice(s, s + ENCODE_CHUNK)
            state = self._state(net, form, qidx[sl], answers[sl],
                                None if known_group is None else known_group[sl])
            lr, lp = net.log_probs(state, calibrated=True)
            grid = padded(lp if probe_form == "polar" else lr, slots)  # (B, Q, K)
            rows = torch.arange(len(state))[:, None]
            picked = grid[rows, torch.as_tensor(probe_qidx[sl].astype(np.int64))]
            out[sl] = picked.exp().numpy()
        return out

    # -- saving ----------------------------------------------------------------------------
    def save(self, directory: str | Path, overwrite: bool = False) -> Path:
        directory = Path(directory)
        arrays = {k: v.detach().cpu().numpy() for k, v in self.net.state_dict().items()}
        arrays[PERSONS_KEY] = np.asarray(self.person_ids, dtype=np.int64)
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)
        from indievalue import __version__

        meta = {
            "format": MODEL_FORMAT,
            "version": MODEL_VERSION,
            "options": self.options.model_dump(mode="json"),
            "seed": self.seed,
            "layout": self.layout.to_dict(),
            "layout_fingerprint": self.layout.fingerprint(),
            "n_persons": len(self.person_ids),
            "groups": self.groups,
            "info": self.info,
            "indievalue_version": __version__,
            "torch_version": torch.__version__,
            "saved": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        with atomic_dir(directory, overwrite=overwrite) as tmp:
            atomic_write_bytes(tmp / WEIGHTS_FILE, buf.getvalue())
            write_json(tmp / MODEL_FILE, meta)
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> ValueModel:
        directory = Path(directory)
        if not (directory / MODEL_FILE).is_file():
            raise IndieValueError(f"{directory}: not a value-model directory (no {MODEL_FILE})")
        meta = read_json(directory / MODEL_FILE)
        if meta.get("format") != MODEL_FORMAT or meta.get("version") != MODEL_VERSION:
            raise IndieValueError(f"{directory}: {MODEL_FILE} is not a version-{MODEL_VERSION} "
                                  "indievalue value model")
        options = ValueModelOptions(**meta["options"])
        layout = Layout.from_dict(meta["layout"])
        try:
            with np.load(directory / WEIGHTS_FILE, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
        except (OSError, ValueError) as exc:
            raise IndieValueError(f"{directory / WEIGHTS_FILE}: unreadable ({exc})") from None
        person_ids = arrays.pop(PERSONS_KEY)
        groups = [str(x) for x in meta.get("groups", [])]
        net = ValueNet(layout, options.dim, options.hidden, torch.Generator().manual_seed(0),
                       len(groups))
        try:
            net.load_state_dict({k: torch.from_numpy(v) for k, v in arrays.items()})
        except RuntimeError as exc:
            raise IndieValueError(f"{directory}: weights do not fit the saved options "
                                  f"({str(exc).splitlines()[0]})") from None
        net.eval()
        return cls(net, layout, options, int(meta["seed"]), person_ids, meta.get("info", {}),
                   groups)
