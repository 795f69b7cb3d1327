"""``records.jsonl``: one line per person x probe, appended as soon as known.

Lines of one episode are written in a single append followed by fsync, so a killed run leaves
whole episodes plus at most one torn tail. :func:`recover` drops the torn tail and any episode
whose lines are incomplete, so a rerun redoes exactly the missing episodes.

A line is encoded once, here: :func:`encode_episodes` builds the JSON text directly (it runs
once per person x probe) and must equal ``json.dumps`` of :func:`record_dict` byte for byte;
the tests hold the two together. :func:`read_records_table` reads the file back as one Arrow
table and checks every column at once (names, types, ranges); the checks that need the run's
spec (persons, setups, counts) are in :mod:`indievalue.runs.files`. :func:`records_table`
builds the table that reading gives straight from the arrays, so a run written whole in one
call is scored without parsing its own JSON again (a property test holds the two equal).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from indievalue.benchmark.episodes import Episodes
from indievalue.errors import IndieValueError
from indievalue.fsutil import atomic_write_bytes
from indievalue.predictors.base import Predictions

RECORDS = "records.jsonl"
EPISODE_FIELDS = ("person_id", "setup", "episode")
#: The fields of every record line (format version 1), in the order they are written, with
#: their Arrow types. Predictors add their own after them (per-probe and per-episode extras).
RECORD_SCHEMA = pa.schema([
    ("person_id", pa.int64()), ("setup", pa.int64()), ("episode", pa.int64()),
    ("question", pa.string()), ("category", pa.string()), ("n_options", pa.int64()),
    ("gold", pa.int64()), ("prediction", pa.int64()), ("probs", pa.list_(pa.float64())),
    ("status", pa.string()),
])
NULLABLE = frozenset({"probs"})
Status = Literal["ok", "parse_failure", "error", "abstain"]


class RecordLine(BaseModel):
    """One line of ``records.jsonl`` (format version 1): one probe of one episode. Fields
    beyond these are the predictor's extras (per probe, e.g. ``sweep``; per episode, on its
    first line, e.g. a language model's ``response``)."""

    model_config = ConfigDict(frozen=True, extra="allow")

    person_id: int = Field(ge=0, description="Eval person (a line of eval_ids.txt).")
    setup: int = Field(ge=0, description="Index of the probe setup in the spec's setups.")
    episode: int = Field(ge=0, description="Protocol A: 0; B: the probe's question index.")
    question: str = Field(description="Probe question id (in the setup).")
    category: str = Field(description="Category name of the question.")
    n_options: int = Field(ge=1, description="Number of options in the probe form.")
    gold: int = Field(ge=-1, description="The person's answer (option index; -1: none).")
    prediction: int = Field(ge=-1, description="The predictor's answer (-1: none usable).")
    probs: list[float] | None = Field(
        description="Probability of each option, rounded to 6 decimals (NaN: unknown), or "
        "null for a predictor without probabilities.")
    status: Status = Field(description="ok; anything else is scored wrong and counted.")

    @property
    def extras(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


STATUSES: tuple[str, ...] = get_args(Status)
_PROB_SLACK = 1e-6  # probabilities are rounded to 6 decimals


# -- encoding -------------------------------------------------------------------------------

def episode_number(eps: Episodes, e: int) -> int:
    """Protocol A: 0 (one episode per person and setup); B: the probe's question index."""
    return 0 if eps.protocol == "A" else int(eps.probe_qidx[e, 0])


def dumps(value: Any) -> str:
    """JSON text as records hold it (compact, UTF-8 kept)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def round6(probs: np.ndarray) -> np.ndarray:
    """Probabilities rounded to 6 decimals (NaN stays NaN): the value nearest to n / 10**6."""
    return np.rint(probs.astype(np.float64) * 1e6) / 1e6


def record_dict(eps: Episodes, e: int, j: int, gold: np.ndarray, preds: Predictions,
                cat_of: dict[str, str], names: dict[str, str],
                extra: dict[str, Any]) -> dict[str, Any]:
    """Probe ``j`` of episode ``e`` as a record (the general encoding); ``extra`` (the
    episode's extras, given with its first probe) is merged in last and may override."""
    q = eps.spec.questions[int(eps.probe_qidx[e, j])]
    k = int(eps.n_options[e, j])
    rec: dict[str, Any] = {
        "person_id": int(eps.person_ids[e]),
        "setup": int(eps.setup),
        "episode": episode_number(eps, e),
        "question": q.qid,
        "category": names[cat_of[q.qid]],
        "n_options": k,
        "gold": int(gold[e, j]),
        "prediction": int(preds.choices[e, j]),
        "probs": None if preds.probs is None else round6(preds.probs[e, j, :k]).tolist(),
        "status": "ok" if preds.status is None else str(preds.status[e, j]),
    }
    for key, arr in (preds.probe_extras or {}).items():
        rec[key] = np.asarray(arr[e, j]).tolist()
    rec.update(extra)
    return rec


def encode_episodes(eps: Episodes, gold: np.ndarray, preds: Predictions,
                    cat_of: dict[str, str], names: dict[str, str]) -> list[list[str]]:
    """Each episode's record lines as JSON text (what ``json.dumps`` gives for
    :func:`record_dict`, built directly: this runs once per person x probe)."""
    spec = eps.spec
    n_opt = eps.n_options.tolist()
    choices = np.asarray(preds.choices).tolist()
    golds = gold.tolist()
    status = None if preds.status is None else np.asarray(preds.status).tolist()
    rounded: Any = None
    finite: Any = None
    texts: Any = None
    if preds.probs is not None:
        rounded = round6(np.asarray(preds.probs))
        inside = np.arange(rounded.shape[-1]) < eps.n_options[..., None]
        finite = np.where(inside, np.isfinite(rounded), True).all(axis=-1).tolist()
        texts = _prob_texts(rounded, eps.n_options)
    extras = preds.probe_extras or {}
    extra_cols = [(dumps(key), np.asarray(arr)) for key, arr in extras.items()]
    fast_cols = [(key, _int_texts(arr)) for key, arr in extra_cols
                 if arr.dtype.kind in "iu" and arr.ndim in (2, 3)]
    if len(fast_cols) < len(extra_cols):
        fast_cols = []
    # A probe extra named like a record field replaces it in place: the general path only.
    general = any(key in RECORD_SCHEMA.names for key in extras)
    head: dict[int, str] = {}  # question index -> '"question":…,"category":…'
    quoted: dict[str, str] = {}
    setup = int(eps.setup)
    out = []
    for e in range(len(eps)):
        extra = preds.extras[e] if preds.extras is not None else {}
        prefix = (f'{{"person_id":{int(eps.person_ids[e])},"setup":{setup},'
                  f'"episode":{episode_number(eps, e)},')
        lines = []
        for j, qi in enumerate(eps.probe_qidx[e].tolist()):
            if general or (j == 0 and extra):  # per-episode extras may override fields
                lines.append(dumps(record_dict(eps, e, j, gold, preds, cat_of, names,
                                               extra if j == 0 else {})))
                continue
            if qi not in head:
                qid = spec.questions[qi].qid
                head[qi] = f'"question":{dumps(qid)},"category":{dumps(names[cat_of[qid]])}'
            k = n_opt[e][j]
            if rounded is None:
                p = "null"
            elif texts[e][j]:
                p = texts[e][j]
            elif finite[e][j]:
                p = "[" + ",".join(map(repr, rounded[e, j, :k].tolist())) + "]"
            else:  # NaN / Infinity spelled as json.dumps spells them
                p = dumps(rounded[e, j, :k].tolist())
            st = "ok" if status is None else str(status[e][j])
            if st not in quoted:
                quoted[st] = dumps(st)
            parts = [prefix, head[qi], f',"n_options":{k},"gold":{golds[e][j]},'
                     f'"prediction":{choices[e][j]},"probs":{p},"status":{quoted[st]}']
            if fast_cols:
                for key, spelled in fast_cols:
                    parts.append(f",{key}:{spelled[e][j]}")
            else:
                for key, arr in extra_cols:
                    parts.append(f",{key}:{dumps(np.asarray(arr[e, j]).tolist())}")
            parts.append("}")
            lines.append("".join(parts))
        out.append(lines)
    return out


def _prob_texts(rounded: np.ndarray, n_options: np.ndarray) -> list[list[str]]:
    """JSON text of each probe's first ``n_options`` probabilities (rounded to 6 decimals), as
    ``json.dumps`` spells them, rendered for the whole batch at once; "" where a probe holds a
    value this path does not spell (below 1e-4, which ``repr`` writes in exponent form; above
    1; not finite): the caller spells those one by one."""
    e, j, kmax = rounded.shape
    finite = np.nan_to_num(rounded, nan=-1.0, posinf=-1.0, neginf=-1.0)
    n = np.rint(np.clip(finite, -1.0, 2.0) * 1e6).astype(np.int64).reshape(e * j, kmax)
    k = n_options.reshape(e * j).astype(np.int64)
    inside = np.arange(kmax) < k[:, None]
    plain = (n >= 100) & (n < 1_000_000)
    zero = (n == 0) & ~np.signbit(rounded).reshape(e * j, kmax)  # -0.0 is spelled "-0.0"
    spelled = plain | zero | (n == 1_000_000)
    good = (np.where(inside, spelled, True).all(axis=1) & (k >= 1) & (k <= kmax)
            & (np.isfinite(rounded).reshape(e * j, kmax) | ~inside).all(axis=1))
    # Nine bytes a value: "0." or "1.", six decimals with trailing zeros as fillers (0),
    # then a comma; values past n_options are all fillers.
    cells = np.zeros((e * j, kmax, 9), dtype=np.uint8)
    digits = ((np.clip(n, 0, 1_000_000) % 1_000_000)[..., None]
              // 10 ** np.arange(5, -1, -1)) % 10
    last = np.where(digits > 0, np.arange(6), -1).max(axis=-1)  # last nonzero decimal
    keep = np.arange(6) <= np.maximum(last, 0)[..., None]  # "0.0" / "1.0" keep one zero
    cells[..., 0] = np.where(n == 1_000_000, ord("1"), ord("0"))
    cells[..., 1] = ord(".")
    cells[..., 2:8] = np.where(keep, digits + ord("0"), 0)
    cells[..., 8] = ord(",")
    cells[~inside] = 0
    rows = np.arange(e * j)
    cells[rows, np.clip(k - 1, 0, kmax - 1), 8] = ord("]")
    flat = _bracketed_rows(cells.reshape(e * j, 9 * kmax))
    flat = [t if ok else "" for t, ok in zip(flat, good.tolist(), strict=True)]
    return [flat[i * j : (i + 1) * j] for i in range(e)]


def _bracketed_rows(body: np.ndarray) -> list[str]:
    """Each row of ``body`` (uint8 ASCII codes, 0 = filler to drop) as "[" + row text, the
    row's own closing "]" included in it: one bytes pass for the whole batch."""
    grid = np.zeros((body.shape[0], body.shape[1] + 2), dtype=np.uint8)
    grid[:, 0] = ord("[")
    grid[:, 1:-1] = body
    grid[:, -1] = ord("\n")
    return grid.tobytes().replace(b"\x00", b"").decode("ascii").split("\n")[:-1]


def _int_texts(arr: np.ndarray) -> list[list[str]]:
    """JSON text of each ``[e][j]`` entry of an integer (E, J) or (E, J, K) array, as
    ``json.dumps`` spells it. Lists of values in -9..9 (a Resemble sweep, -1 where there is no
    vote) are rendered for the whole array at once: three bytes a value (sign or a filler
    byte, digit, comma), the fillers dropped, one row a line."""
    if arr.ndim == 2:
        return [[str(v) for v in row] for row in arr.tolist()]
    e, j, k = arr.shape
    if not (k and arr.size and int(arr.min()) >= -9 and int(arr.max()) <= 9):
        return [["[" + ",".join(map(str, v)) + "]" for v in row] for row in arr.tolist()]
    values = arr.reshape(e * j, k)
    slots = np.zeros((e * j, k, 3), dtype=np.uint8)  # 0: filler, dropped
    slots[:, :, 0] = np.where(values < 0, ord("-"), 0)
    slots[:, :, 1] = np.abs(values) + ord("0")
    slots[:, :, 2] = ord(",")
    slots[:, -1, 2] = ord("]")
    flat = _bracketed_rows(slots.reshape(e * j, 3 * k))
    return [flat[i * j : (i + 1) * j] for i in range(e)]


def records_table(eps: Episodes, gold: np.ndarray, preds: Predictions,
                  cat_of: dict[str, str], names: dict[str, str]) -> pa.Table | None:
    """The Arrow table that reading back :func:`encode_episodes`' lines gives, built from the
    arrays (scoring a fresh run need not parse its own JSON again); None where the lines hold
    what only the reader types (per-episode extras, probe extras that are not integers or are
    named like record fields). Tests hold the two equal."""
    extras = preds.probe_extras or {}
    if (preds.extras is not None and any(preds.extras)) or any(
            key in RECORD_SCHEMA.names for key in extras):
        return None
    e, m = eps.probe_qidx.shape
    n = e * m
    qidx = eps.probe_qidx.reshape(n).astype(np.int64)
    qids = [q.qid for q in eps.spec.questions]
    cats = [names[cat_of[q]] for q in qids]
    n_opt = eps.n_options.reshape(n).astype(np.int64)
    episode = np.array([episode_number(eps, i) for i in range(e)], dtype=np.int64)
    columns: dict[str, pa.Array] = {
        "person_id": pa.array(np.repeat(eps.person_ids.astype(np.int64), m)),
        "setup": pa.array(np.full(n, int(eps.setup), dtype=np.int64)),
        "episode": pa.array(np.repeat(episode, m)),
        "question": pa.array(qids).take(pa.array(qidx)),
        "category": pa.array(cats).take(pa.array(qidx)),
        "n_options": pa.array(n_opt),
        "gold": pa.array(np.asarray(gold).reshape(n).astype(np.int64)),
        "prediction": pa.array(np.asarray(preds.choices).reshape(n).astype(np.int64)),
    }
    if preds.probs is None:
        columns["probs"] = pa.nulls(n, type=pa.list_(pa.float64()))
    else:
        rounded = round6(np.asarray(preds.probs)).reshape(n, -1)
        inside = np.arange(rounded.shape[1]) < n_opt[:, None]
        offsets = np.concatenate([[0], np.cumsum(n_opt)]).astype(np.int32)
        columns["probs"] = pa.ListArray.from_arrays(pa.array(offsets),
                                                    pa.array(rounded[inside]))
    status = (np.full(n, "ok", dtype=object) if preds.status is None
              else np.asarray(preds.status).reshape(n).astype(str).astype(object))
    columns["status"] = pa.array(status, type=pa.string())
    for key, arr in extras.items():
        a = np.asarray(arr)
        if a.dtype.kind not in "iu" or a.ndim not in (2, 3) or a.dtype == np.uint64:
            return None
        if a.ndim == 2:
            columns[key] = pa.array(a.reshape(n).astype(np.int64))
        else:
            k = a.shape[2]
            if not k:
                return None
            offsets = (np.arange(n + 1) * k).astype(np.int32)
            columns[key] = pa.ListArray.from_arrays(pa.array(offsets),
                                                    pa.array(a.reshape(n * k).astype(np.int64)))
    return pa.table(columns)


# -- writing and recovering -----------------------------------------------------------------

def episode_id(rec: dict[str, Any]) -> tuple[int, int, int]:
    return (int(rec["person_id"]), int(rec["setup"]), int(rec["episode"]))


def recover(run_dir: Path, expected: dict[tuple[int, int, int], int]) -> set[tuple[int, int, int]]:
    """Make ``records.jsonl`` hold only complete episodes; return their ids.

    ``expected`` maps each episode id to its number of probe lines.
    """
    path = run_dir / RECORDS
    if not path.exists():
        return set()
    raw = path.read_bytes()
    if raw.endswith(b"\n") and raw.count(b"\n") == sum(expected.values()):
        return set(expected)  # a finished run: every episode is whole
    complete = raw if raw.endswith(b"\n") or not raw else raw[: raw.rfind(b"\n") + 1]
    lines = complete.decode("utf-8").splitlines()
    by_episode: dict[tuple[int, int, int], list[str]] = {}
    for n, line in enumerate(lines, 1):
        try:
            rec = json.loads(line)
            key = episode_id(rec)
        except (json.JSONDecodeError, KeyError, TypeError, ValueError):
            raise IndieValueError(f"{path}:{n}: corrupt record line; remove the run directory "
                                  "or the line to continue") from None
        by_episode.setdefault(key, []).append(line)
    done = {k for k, v in by_episode.items() if expected.get(k) == len(v)}
    kept = [ln for k, v in by_episode.items() if k in done for ln in v]
    if len(kept) != len(lines) or complete != raw:
        atomic_write_bytes(path, "".join(ln + "\n" for ln in kept).encode("utf-8"))
    return done


class RecordWriter:
    """Appends episodes' record lines durably."""

    def __init__(self, run_dir: Path):
        self.path = run_dir / RECORDS
        self._fh = self.path.open("ab")

    def write_episodes(self, episodes: Iterable[list[dict[str, Any]]]) -> None:
        """Append episodes given as record dicts."""
        self.write_lines([dumps(rec) for rec in lines] for lines in episodes)

    def write_lines(self, episodes: Iterable[list[str]]) -> None:
        """Append episodes given as JSON lines (no newlines), in one write and one fsync."""
        blob = "".join(line + "\n" for lines in episodes for line in lines).encode("utf-8")
        if blob:
            self._fh.write(blob)
            self._fh.flush()
            os.fsync(self._fh.fileno())

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> RecordWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- reading and checking -------------------------------------------------------------------

def read_records_table(path: Path) -> pa.Table:
    """The records file as one Arrow table, every line checked against the record fields
    (:data:`RECORD_SCHEMA`): present, of their type and in range. Row ``i`` is line ``i + 1``.

    A torn last line (an interrupted run) is refused with the way out: rerunning
    ``indievalue evaluate`` recovers it.
    """
    if not path.is_file():
        raise IndieValueError(f"{path.parent}: no {RECORDS} (not a run directory?)")
    buf = pa.memory_map(str(path)).read_buffer()
    data = np.frombuffer(buf, dtype=np.uint8)
    if not len(data):
        raise IndieValueError(f"{path}: no records yet")
    ends = np.flatnonzero(data == 0x0A)  # byte offset of each line's newline
    if data[-1] != 0x0A:
        raise IndieValueError(
            f"{path}:{len(ends) + 1}: incomplete last line (an interrupted run); rerun "
            "`indievalue evaluate` with the same options to recover and finish it")
    empty = np.flatnonzero(np.diff(ends, prepend=-1) == 1)  # a newline right after another
    if len(empty):
        raise IndieValueError(f"{path}:{int(empty[0]) + 1}: empty line")
    try:
        table = parse_lines(buf, int(np.diff(ends, prepend=-1).max()))
    except pa.ArrowInvalid as exc:
        raise IndieValueError(_first_bad_line(path, buf.to_pybytes()) or
                              f"{path}: unreadable records ({exc})") from None
    if table.num_rows != len(ends):  # pragma: no cover - every line is one row above
        raise IndieValueError(f"{path}: {len(ends)} lines but {table.num_rows} records")
    check_columns(table, path)
    return table


def parse_lines(buf: pa.Buffer, longest: int) -> pa.Table:
    """Record lines (JSON, one object a line) as a table typed by :data:`RECORD_SCHEMA`,
    extras inferred. Blocks of ~1 MiB are parsed on all cores; a block must hold the longest
    line (``longest`` bytes). Raises ``pa.ArrowInvalid`` on what is not JSON."""
    options = pajson.ParseOptions(explicit_schema=RECORD_SCHEMA,
                                  unexpected_field_behavior="infer")
    block = max(1 << 20, 2 * longest)
    return pajson.read_json(pa.BufferReader(buf), parse_options=options,
                            read_options=pajson.ReadOptions(block_size=block))


def _first_bad_line(path: Path, raw: bytes) -> str | None:
    """One line naming the first line that is not a record (the slow path, run only when the
    vectorised read failed)."""
    for n, line in enumerate(raw.decode("utf-8", errors="replace").splitlines(), 1):
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            return f"{path}:{n}: not JSON ({exc.msg})"
        if not isinstance(rec, dict):
            return f"{path}:{n}: not a record (expected a JSON object)"
        try:
            RecordLine.model_validate(rec, strict=True)
        except ValidationError as exc:
            return f"{path}:{n}: {validation_text(exc)}"
    return None


def validation_text(exc: ValidationError) -> str:
    """The first problem of a pydantic error as ``field.path: message (got value)``."""
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    value = first.get("input")
    try:
        shown = json.dumps(value)
    except (TypeError, ValueError):
        shown = repr(value)
    got = "" if first["type"] in ("missing", "json_invalid") else f" (got {shown[:40]})"
    return f"{where}: {first['msg']}{got}" if where else f"{first['msg']}{got}"


def _refuse(path: Path, mask: Any, what: str) -> None:
    """Raise for the first row where ``mask`` is true, naming its line."""
    if isinstance(mask, np.ndarray):
        if mask.any():
            raise IndieValueError(f"{path}:{int(np.flatnonzero(mask)[0]) + 1}: {what}")
        return
    filled = pc.fill_null(mask, False)
    if pc.any(filled).as_py():
        row = int(np.flatnonzero(filled.to_numpy(zero_copy_only=False))[0])
        raise IndieValueError(f"{path}:{row + 1}: {what}")


def check_columns(table: pa.Table, path: Path) -> None:
    """Every record field present and in range, vectorised over the whole table: integer
    fields are integers (the read enforces types), ``status`` one of :data:`STATUSES`,
    ``n_options`` at least 1, ``gold`` and ``prediction`` an option index or -1 (none),
    ``probs`` null or one value per option, each NaN or within [0, 1]."""
    for name in RECORD_SCHEMA.names:
        if name not in NULLABLE:
            col = table.column(name)
            if col.null_count:
                _refuse(path, pc.is_null(col), f"{name} is missing")
    n_opt = table.column("n_options")
    _refuse(path, pc.less(n_opt, 1), "n_options is below 1")
    for name in ("setup", "episode", "person_id"):
        _refuse(path, pc.less(table.column(name), 0), f"{name} is negative")
    gold = table.column("gold")
    _refuse(path, pc.or_(pc.less(gold, -1), pc.greater_equal(gold, n_opt)),
            "gold is not an option index or -1 (no answer)")
    pred = table.column("prediction")
    _refuse(path, pc.or_(pc.less(pred, -1), pc.greater_equal(pred, n_opt)),
            "prediction is not an option index or -1")
    status = table.column("status")
    _refuse(path, pc.invert(pc.is_in(status, value_set=pa.array(STATUSES))),
            f"status is not one of {', '.join(STATUSES)}")
    probs = table.column("probs")
    if probs.null_count < len(probs):
        lengths = pc.list_value_length(probs)
        _refuse(path, pc.not_equal(lengths, n_opt), "probs has not one value per option")
        flat = pc.list_flatten(probs).to_numpy(zero_copy_only=False)
        bad = ~np.isnan(flat) & ((flat < -_PROB_SLACK) | (flat > 1 + _PROB_SLACK))
        if bad.any():
            counts = pc.fill_null(lengths, 0).to_numpy(zero_copy_only=False)
            owner = np.repeat(np.arange(len(probs)), counts.astype(np.int64))
            raise IndieValueError(f"{path}:{int(owner[np.flatnonzero(bad)[0]]) + 1}: "
                                  "probs holds a value outside [0, 1]")
