"""Record encoding (runs/records.py): the fast encoder, which builds each line's JSON text
directly, equals ``json.dumps`` of the record dict line for line, and writes the bytes earlier
releases wrote."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from indievalue.benchmark.episodes import Episodes, Protocol
from indievalue.catalog.spec import StatementSpec
from indievalue.catalog.spec_io import builtin_spec
from indievalue.predictors.base import Predictions
from indievalue.runs.records import (
    RECORD_SCHEMA,
    STATUSES,
    RecordLine,
    dumps,
    encode_episodes,
    record_dict,
)

SPEC = builtin_spec()
CAT_OF = {q.qid: q.category for q in SPEC.questions}
NAMES = {c.key: c.name for c in SPEC.categories}


def episodes(spec: StatementSpec, protocol: Protocol, setup: int, person_ids: list[int],
             probe_qidx: list[list[int]]) -> Episodes:
    n = len(person_ids)
    return Episodes(protocol, setup, "refined", "refined", spec,
                    np.array(person_ids, dtype=np.int64), np.arange(n, dtype=np.int64),
                    np.array(probe_qidx, dtype=np.int16), np.full((n, 1), -1, np.int16),
                    np.full((n, 1), -1, np.int8), np.full((n, len(spec.questions)), -1, np.int8))


def general(eps: Episodes, gold: np.ndarray, preds: Predictions) -> list[list[str]]:
    """Every line through ``json.dumps`` of the record dict; an episode's extras go with its
    first line."""
    extras = preds.extras or [{} for _ in range(len(eps))]
    return [[dumps(record_dict(eps, e, j, gold, preds, CAT_OF, NAMES,
                               extras[e] if j == 0 else {}))
             for j in range(eps.probe_qidx.shape[1])] for e in range(len(eps))]


def test_record_line_model_matches_the_arrow_schema() -> None:
    assert list(RecordLine.model_fields) == RECORD_SCHEMA.names
    assert STATUSES == ("ok", "parse_failure", "error", "abstain")


def golden_lines() -> list[str]:
    """Protocol A with NaN / inf probabilities, every status, int 2-D and 3-D probe extras and
    per-episode extras; protocol B without probabilities, float and bool probe extras."""
    eps = episodes(SPEC, "A", 1, [1001, 2002], [[0, 5, 17], [0, 5, 17]])
    n = eps.n_options
    probs = np.full((2, 3, int(n.max())), np.nan, dtype=np.float32)
    for e in range(2):
        for j in range(3):
            ramp = np.linspace(0.1, 0.9, n[e, j])
            probs[e, j, : n[e, j]] = ramp / ramp.sum()
    probs[0, 1, 0], probs[1, 2, 1] = np.nan, np.inf
    gold = np.array([[0, 1, 2], [1, 0, -1]], dtype=np.int8)
    preds = Predictions(
        np.array([[0, -1, 2], [1, 1, 0]]), probs,
        status=np.array([["ok", "parse_failure", "ok"], ["abstain", "error", "ok"]]),
        extras=[{"response": 'é "x"\n', "attempts": 2}, {}],
        probe_extras={"sweep": np.arange(24).reshape(2, 3, 4) % 5 - 1,
                      "votes": np.array([[3, 4, 5], [6, 7, 8]], dtype=np.uint8)})
    lines = encode_episodes(eps, gold, preds, CAT_OF, NAMES)
    eps_b = episodes(SPEC, "B", 2, [7, 7, 9], [[40], [41], [40]])
    preds_b = Predictions(
        np.array([[1], [2], [0]]), None,
        probe_extras={"conf": np.array([[0.25], [1 / 3], [np.nan]], dtype=np.float32),
                      "flag": np.array([[True], [False], [True]])})
    lines += encode_episodes(eps_b, np.array([[1], [0], [2]], dtype=np.int8), preds_b, CAT_OF,
                             NAMES)
    return [line for episode in lines for line in episode]


def test_bytes_are_those_earlier_releases_wrote() -> None:
    lines = golden_lines()
    # sha256 of these nine lines as the encoder of release 0.x wrote them
    assert hashlib.sha256("\n".join(lines).encode()).hexdigest() == \
        "879c23c450eeb4250bef00924877448e2b9448b02672c92c720f7dced0ac3933"
    assert lines[0].startswith('{"person_id":1001,"setup":1,"episode":0,"question":"Q1",')
    assert lines[0].endswith('"status":"ok","sweep":[-1,0,1,2],"votes":3,'
                             '"response":"é \\"x\\"\\n","attempts":2}')
    assert '"probs":[NaN,0.183333,0.316667,0.45],"status":"parse_failure"' in lines[1]
    assert '"probs":[0.1,Infinity],"status":"ok"' in lines[5]
    assert lines[7].endswith('"probs":null,"status":"ok","conf":0.3333333432674408,'
                             '"flag":false}')


QUESTIONS = len(SPEC.questions)
EXTRA_NAMES = ["sweep", "votes", "conf", "ü-extra", "status", "gold"]
EXTRA_DTYPES = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.float32,
                np.float64, np.bool_]
probabilities = st.floats(allow_nan=True, allow_infinity=True, width=32)


@st.composite
def batches(draw: st.DrawFn) -> tuple[Episodes, np.ndarray, Predictions]:
    protocol: Protocol = draw(st.sampled_from(["A", "B"]))
    n_eps = draw(st.integers(1, 4))
    m = 1 if protocol == "B" else draw(st.integers(1, 5))
    qidx = draw(hnp.arrays(np.int64, (n_eps, m), elements=st.integers(0, QUESTIONS - 1)))
    persons = draw(st.lists(st.integers(0, 10**9), min_size=n_eps, max_size=n_eps))
    eps = episodes(SPEC, protocol, draw(st.integers(0, 2)), persons, qidx.tolist())
    n_opt = eps.n_options
    k = int(SPEC.option_counts("refined").max())
    # choices and gold within -1 .. n_options-1, drawn as a share of the option count
    share = draw(hnp.arrays(np.float64, (2, n_eps, m), elements=st.floats(0, 1)))
    gold = (np.floor(share[0] * (n_opt + 1)) - 1).clip(-1, n_opt - 1).astype(np.int8)
    choices = (np.floor(share[1] * (n_opt + 1)) - 1).clip(-1, n_opt - 1).astype(np.int64)
    probs = draw(st.none() | hnp.arrays(draw(st.sampled_from([np.float32, np.float64])),
                                        (n_eps, m, k), elements=probabilities))
    status = draw(st.none() | hnp.arrays(np.dtype("<U13"), (n_eps, m),
                                         elements=st.sampled_from(STATUSES)))
    values = st.one_of(st.text(max_size=8), st.integers(-5, 10**12), st.booleans(),
                       st.none(), st.lists(st.integers(-3, 3), max_size=3))
    keys = st.sampled_from(["response", "attempts", "ü", "status", "probs", "prediction"])
    extras = draw(st.none() | st.lists(st.dictionaries(keys, values, max_size=3),
                                       min_size=n_eps, max_size=n_eps))
    probe_extras: dict[str, np.ndarray] = {}
    for name in draw(st.lists(st.sampled_from(EXTRA_NAMES), max_size=3, unique=True)):
        dtype = draw(st.sampled_from(EXTRA_DTYPES))
        shape = (n_eps, m, *draw(st.lists(st.integers(0, 3), max_size=2)))
        probe_extras[name] = draw(hnp.arrays(dtype, shape))
    preds = Predictions(choices, probs, status=status, extras=extras,
                        probe_extras=probe_extras or None)
    return eps, gold, preds


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches())
def test_fast_encoder_equals_json_dumps_of_the_record_dict(
        batch: tuple[Episodes, np.ndarray, Predictions]) -> None:
    eps, gold, preds = batch
    fast = encode_episodes(eps, gold, preds, CAT_OF, NAMES)
    assert fast == general(eps, gold, preds)
    for episode in fast:  # every line is one JSON object (NaN / Infinity as Python reads them)
        for line in episode:
            rec: dict[str, Any] = json.loads(line)
            assert isinstance(rec, dict) and "person_id" in rec


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches())
def test_table_from_arrays_equals_the_records_read_back(
        batch: tuple[Episodes, np.ndarray, Predictions]) -> None:
    """What a fresh run scores from memory is what reading its records.jsonl gives: the same
    Arrow table, column types and values (NaN, infinities, -1, extras) included."""
    import pyarrow as pa

    from indievalue.runs.records import parse_lines, records_table

    eps, gold, preds = batch
    table = records_table(eps, gold, preds, CAT_OF, NAMES)
    simple = not (preds.extras and any(preds.extras)) and all(
        np.asarray(a).dtype.kind in "iu" and np.asarray(a).ndim in (2, 3)
        and (np.asarray(a).ndim == 2 or np.asarray(a).shape[2] > 0)
        and key not in RECORD_SCHEMA.names for key, a in (preds.probe_extras or {}).items())
    assert (table is not None) == simple
    if table is None:
        return
    lines = [line for episode in encode_episodes(eps, gold, preds, CAT_OF, NAMES)
             for line in episode]
    blob = ("\n".join(lines) + "\n").encode()
    read = parse_lines(pa.py_buffer(blob), max(len(line) for line in lines) + 1)
    assert table.schema.equals(read.schema), (table.schema, read.schema)
    # Arrow's equality counts NaN unequal to itself; NaN must match NaN (and not null)
    assert _same(table.to_pylist(), read.to_pylist())


def _same(a: Any, b: Any) -> bool:
    """Equality of nested Python values in which NaN equals NaN and nothing else."""
    if isinstance(a, float) and isinstance(b, float) and a != a and b != b:
        return True
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def test_batch_spelling_of_probabilities_equals_json_dumps() -> None:
    """The whole-batch spelling of rounded probabilities matches ``json.dumps`` wherever it
    spells a probe, and leaves to the caller exactly the probes it cannot spell (exponent
    forms below 1e-4, -0.0, values above 1, NaN and infinities)."""
    from indievalue.runs.records import _prob_texts, round6

    rng = np.random.default_rng(3)
    edge = np.array([0.0, -0.0, 1e-7, 1e-6, 5e-5, 9.9e-5, 1e-4, 1.23e-4, 0.1, 0.12, 1 / 3,
                     0.5, 0.9999995, 0.999999, 1.0, 1.5, np.nan, np.inf, -0.25])
    spelled = left = 0
    for trial in range(400):
        e, j, k = (int(x) for x in rng.integers(1, 5, size=3))
        p = (rng.choice(edge, size=(e, j, k)) if trial % 2 else
             rng.dirichlet(np.ones(k), size=(e, j)) * rng.random((e, j, 1)) ** 3)
        n_options = rng.integers(1, k + 1, size=(e, j))
        rounded = round6(p)
        texts = _prob_texts(rounded, n_options)
        for a in range(e):
            for b in range(j):
                values = rounded[a, b, : n_options[a, b]]
                want = json.dumps(values.tolist(), separators=(",", ":"))
                fits = bool(np.all(((values >= 1e-4) & (values <= 1))
                                   | ((values == 0) & ~np.signbit(values))))
                assert bool(texts[a][b]) == fits, (values, texts[a][b])
                if texts[a][b]:
                    assert texts[a][b] == want
                    spelled += 1
                else:
                    left += 1
    assert spelled > 500 and left > 100
