"""A trained value model: the network, what it was trained on, and its saved form.

A model directory holds ``model.json`` (format, options, option layout, catalog identity, the
training report, provenance, the SHA-256 of the weights file) and ``weights.npz`` (every
tensor, plus the ids of the persons the model learned from, so a run can refuse a model that
has seen its evaluation persons). No pickle: the arrays load with ``allow_pickle=False``.

A model directory is moved, copied and edited by hand, so :meth:`ValueModel.load` trusts
neither file: ``model.json`` must be a known format version with every field of the right type
and a layout that matches its fingerprint; ``weights.npz`` must be the file ``model.json``
records (its hash, from version 3), readable, and hold exactly the tensors the options and
layout call for, in their shapes, finite, with ``n_persons`` unique person ids.
:meth:`ValueModel.check_catalog` refuses a catalog of another layout or statement spec.
Each failure is one :class:`IndieValueError` line naming the file.
"""

from __future__ import annotations

import copy
import hashlib
import io
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from indievalue.catalog.spec import Form
from indievalue.errors import IndieValueError
from indievalue.fsutil import atomic_dir, atomic_write_bytes, read_json, write_json
from indievalue.valuemodel.layout import Layout, tokens
from indievalue.valuemodel.network import ValueNet
from indievalue.valuemodel.options import (
    LATER_TRAINING_FIELDS,
    TRAINING_FIELDS,
    ValueModelOptions,
)

if TYPE_CHECKING:
    from indievalue.catalog.store import Catalog

MODEL_FORMAT = "indievalue-value-model"
MODEL_VERSION = 3  # 3: model.json records weights_sha256
READABLE_VERSIONS = (2, 3)
MODEL_FILE = "model.json"
WEIGHTS_FILE = "weights.npz"
PERSONS_KEY = "__person_ids__"
ENCODE_CHUNK = 4096  # persons / episodes per forward pass at inference


class LayoutFile(BaseModel):
    """The ``layout`` entry of ``model.json`` (see :class:`Layout`)."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)
    n_polar: list[int] = Field(min_length=1)
    n_refined: list[int] = Field(min_length=1)
    refined_to_polar: list[list[int]]


class ModelFile(BaseModel):
    """``model.json``, as read back: every field the loader relies on, strictly typed."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)
    format: str
    version: int
    options: dict[str, Any] = Field(description="ValueModelOptions the model was trained with.")
    seed: int
    layout: LayoutFile
    layout_fingerprint: str = Field(description="Layout.fingerprint() of ``layout``.")
    n_persons: int = Field(ge=0, description="Person ids stored in the weights file.")
    groups: list[str] = Field(description="Country code of each group index of the head.")
    info: dict[str, Any] = Field(description="Catalog identity (catalog_hash) and training "
                                 "report.")
    indievalue_version: str
    torch_version: str
    saved: str
    weights_sha256: str | None = Field(None, pattern="^[0-9a-f]{64}$",
                                       description="Hash of weights.npz (version 3 on).")


def spec_key(catalog_hash: str) -> str:
    """The statement-spec part of a catalog's ``content_hash`` (``<source>-<spec>``)."""
    return catalog_hash.rpartition("-")[2]


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

    # -- the catalog it runs on ---------------------------------------------------------------
    def check_catalog(self, catalog: Catalog, where: str | Path) -> None:
        """Refuse a catalog of another option layout or statement spec than the one the model
        was trained on (``where``: the model directory, for the message)."""
        if not self.layout.same_as(Layout.from_spec(catalog.spec)):
            raise IndieValueError(f"{where}: trained on a catalog with other questions or "
                                  "options than this one")
        ours, theirs = spec_key(self.info["catalog_hash"]), spec_key(catalog.content_hash)
        if ours != theirs:
            raise IndieValueError(f"{where}: trained on a catalog of another statement spec "
                                  f"(spec {ours}, this catalog's {theirs}); train a model on "
                                  "this catalog")

    # -- saving ----------------------------------------------------------------------------
    def save(self, directory: str | Path, overwrite: bool = False) -> Path:
        if not isinstance(self.info.get("catalog_hash"), str):
            raise ValueError("ValueModel.info must record the catalog_hash it was trained on")
        directory = Path(directory)
        arrays = {k: v.detach().cpu().numpy() for k, v in self.net.state_dict().items()}
        arrays[PERSONS_KEY] = np.asarray(self.person_ids, dtype=np.int64)
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)
        weights = buf.getvalue()
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
            "weights_sha256": hashlib.sha256(weights).hexdigest(),
        }
        with atomic_dir(directory, overwrite=overwrite) as tmp:
            atomic_write_bytes(tmp / WEIGHTS_FILE, weights)
            write_json(tmp / MODEL_FILE, meta)
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> ValueModel:
        """Read and check a saved model (see the module docstring for what is checked)."""
        directory = Path(directory)
        if not (directory / MODEL_FILE).is_file():
            raise IndieValueError(f"{directory}: not a value-model directory (no {MODEL_FILE})")
        meta, options, layout = read_model_file(directory / MODEL_FILE)
        arrays = read_weights(directory / WEIGHTS_FILE, meta.weights_sha256)
        net = ValueNet(layout, options.dim, options.hidden, torch.Generator().manual_seed(0),
                       len(meta.groups))
        person_ids = check_weights(directory / WEIGHTS_FILE, arrays, net, meta.n_persons)
        net.load_state_dict({k: torch.from_numpy(v) for k, v in arrays.items()})
        net.eval()
        return cls(net, layout, options, meta.seed, person_ids, meta.info, list(meta.groups))


def read_model_file(path: Path) -> tuple[ModelFile, ValueModelOptions, Layout]:
    """``model.json``: a known format and version, every field typed, options valid, the
    layout consistent with itself and its fingerprint, the catalog identity recorded."""
    raw = read_json(path)
    if not isinstance(raw, dict) or raw.get("format") != MODEL_FORMAT:
        raise IndieValueError(f"{path}: not an indievalue value model (format is not "
                              f"{MODEL_FORMAT!r})")
    version = raw.get("version")
    if type(version) is not int or version not in READABLE_VERSIONS:
        raise IndieValueError(f"{path}: format version {version!r} is not one this indievalue "
                              f"reads ({', '.join(map(str, READABLE_VERSIONS))}); save the "
                              "model again with this version or use the version that wrote it")
    try:
        meta = ModelFile.model_validate(raw)
    except ValidationError as exc:
        raise IndieValueError(f"{path}: {_first_error(exc)}") from None
    if meta.version >= 3 and meta.weights_sha256 is None:
        raise IndieValueError(f"{path}: field weights_sha256: missing (required from version 3)")
    for name, value in LATER_TRAINING_FIELDS.items():
        meta.options.setdefault(name, value)
    missing = [f for f in TRAINING_FIELDS if f not in meta.options]
    if missing:
        raise IndieValueError(f"{path}: field options: missing {', '.join(missing)}")
    try:
        options = ValueModelOptions.model_validate(meta.options, strict=True)
    except ValidationError as exc:
        raise IndieValueError(f"{path}: {_first_error(exc, 'options.', 1)}") from None
    layout = _check_layout(path, meta.layout)
    if layout.fingerprint() != meta.layout_fingerprint:
        raise IndieValueError(f"{path}: layout does not match layout_fingerprint (edited?)")
    catalog_hash = meta.info.get("catalog_hash")
    if not isinstance(catalog_hash, str) or "-" not in catalog_hash:
        raise IndieValueError(f"{path}: field info.catalog_hash: missing or not a catalog "
                              "hash (the catalog the model was trained on)")
    if not all(_is_code(g) for g in meta.groups) or len(set(meta.groups)) != len(meta.groups):
        raise IndieValueError(f"{path}: field groups: must be distinct country codes")
    return meta, options, layout


def _is_code(text: str) -> bool:
    try:
        return str(int(text)) == text
    except ValueError:
        return False


def _first_error(exc: ValidationError, prefix: str = "", depth: int | None = None) -> str:
    """``field a.b: what is wrong`` for the first error (``depth``: leave out the union
    branch tags that follow a field of a union type)."""
    first = exc.errors()[0]
    where = prefix + ".".join(str(p) for p in first["loc"][:depth])
    return f"field {where}: {'missing' if first['type'] == 'missing' else first['msg']}"


def _check_layout(path: Path, data: LayoutFile) -> Layout:
    n_p, n_r = np.asarray(data.n_polar), np.asarray(data.n_refined)
    rows = data.refined_to_polar
    width = int(n_r.max(initial=0))
    if (len(n_r) != len(n_p) or len(rows) != len(n_p) or (n_p < 1).any() or (n_r < 1).any()
            or any(len(r) != width for r in rows)):
        raise IndieValueError(f"{path}: field layout: option counts and refined_to_polar "
                              "do not fit together")
    r2p = np.asarray(rows, dtype=np.int64)
    inside = np.arange(width)[None, :] < n_r[:, None]
    if ((r2p >= n_p[:, None]) | (r2p < 0))[inside].any() or (r2p[~inside] != -1).any():
        raise IndieValueError(f"{path}: field layout.refined_to_polar: an option index out "
                              "of range")
    return Layout.from_dict(data.model_dump())


def read_weights(path: Path, sha256: str | None) -> dict[str, np.ndarray]:
    """Every array of ``weights.npz`` (no pickle), after checking the recorded hash."""
    try:
        blob = path.read_bytes()
    except FileNotFoundError:
        raise IndieValueError(f"{path}: no such file") from None
    except OSError as exc:
        raise IndieValueError(f"{path}: unreadable ({exc})") from None
    if sha256 is not None and hashlib.sha256(blob).hexdigest() != sha256:
        raise IndieValueError(f"{path}: not the weights {MODEL_FILE} records (its SHA-256 "
                              "differs: truncated, damaged or another model's)")
    try:
        with np.load(io.BytesIO(blob), allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise IndieValueError(f"{path}: unreadable ({detail})") from None


def check_weights(path: Path, arrays: dict[str, np.ndarray], net: ValueNet,
                  n_persons: int) -> np.ndarray:
    """Exactly the tensors ``net`` has, in its shapes and dtypes, all finite; returns the
    person ids (removed from ``arrays``): ``n_persons`` distinct int64 ids."""
    expected = {k: v.detach().numpy() for k, v in net.state_dict().items()}
    missing = sorted(set(expected) - set(arrays))
    extra = sorted(set(arrays) - set(expected) - {PERSONS_KEY})
    if PERSONS_KEY not in arrays:
        missing.append(PERSONS_KEY)
    if missing or extra:
        parts = [f"{label} {', '.join(names[:3])}{' ...' if len(names) > 3 else ''}"
                 for label, names in (("missing", missing), ("unexpected", extra)) if names]
        raise IndieValueError(f"{path}: tensors do not fit {MODEL_FILE} ({'; '.join(parts)})")
    for name, want in expected.items():
        got = arrays[name]
        if got.shape != want.shape or got.dtype != want.dtype:
            raise IndieValueError(f"{path}: tensor {name} is {got.dtype} {got.shape}, the "
                                  f"options and layout in {MODEL_FILE} need {want.dtype} "
                                  f"{want.shape}")
        if not np.isfinite(got).all():
            raise IndieValueError(f"{path}: tensor {name} holds non-finite values")
    ids = arrays.pop(PERSONS_KEY)
    if ids.dtype != np.int64 or ids.ndim != 1 or len(ids) != n_persons:
        raise IndieValueError(f"{path}: person ids are {ids.dtype} {ids.shape}, {MODEL_FILE} "
                              f"records {n_persons} int64 ids")
    if len(np.unique(ids)) != len(ids):
        raise IndieValueError(f"{path}: person ids repeat")
    return ids
