"""Fuzz ``--config FILE``: the evaluation config of ``evaluate`` and the ``analyze`` commands
(predictor, options and run settings), and the training config of ``train``.

Files are YAML documents with the right keys holding values of every type, unknown and
non-string keys, top levels that are not mappings, text damaged as bytes, YAML the safe loader
refuses (tags, several documents, tabs), and binary junk.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import yaml
from _fuzz_support import (
    FuzzData,
    check,
    damaged_bytes,
    evaluate_args,
    fuzz_settings,
    run_cli,
    watching,
)
from hypothesis import example, given
from hypothesis import strategies as st

# Predictors whose successful run is a fraction of a second on the fuzz catalog. For the
# others (model loading, network, training) the catalog is a missing directory: the config and
# options are still read and validated, and the command then stops at the catalog.
CHEAP = ("random", "majority", "resemble")
NAMES = ("random", "majority", "resemble", "value-model", "hf", "openai", "vllm", "oracle",
         "nope", "", "RANDOM", " random")
OPTION_KEYS = ("top_k", "pool", "context", "sweep", "model", "mode", "dim", "epochs",
               "model_dir", "base_url", "batch_size", "unknown", "", "top k")
# Settings a config file may hold beside the predictor (the command line's flags win).
SETTING_KEYS = ("protocol", "demos", "form", "demo_form", "probe_form", "demographics",
                "demo_category", "train_continent", "seed", "eval_size", "eval_ids_file",
                "predictor_options")
SETTING_VALUES = st.sampled_from(["A", "B", "C", "polar", "refined", "off", "on", "only", "SV",
                                  "XX", "Europe", "Atlantis", 0, 5, 200, 201, -1, 2**63,
                                  "eval_ids.txt", "/nonexistent/ids.txt", True])

SCALARS: st.SearchStrategy[Any] = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70),
    st.sampled_from([0, 1, -1, 24, 500, 501, 2**31, 2**63, 10**30]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["all", "visible", "demos", "24", "1e3", "", "yes", "off", "~", "null",
                     "generate", "loglik", "random"]),
    st.text(max_size=10),
)
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=5)
KEYS: st.SearchStrategy[Any] = (st.sampled_from(["predictor", "options", "seed", "Predictor",
                                                 "option", ""])
                                | st.text(max_size=8) | st.integers(-5, 5) | st.none()
                                | st.booleans() | st.floats(allow_nan=False))


@st.composite
def predictor_config(draw: st.DrawFn) -> Any:
    """A document shaped like ``predictor: NAME`` / ``options: {...}``, damaged."""
    doc: dict[Any, Any] = {}
    if draw(st.integers(0, 5)):
        doc["predictor"] = draw(st.sampled_from(NAMES) | VALUES)
    if draw(st.integers(0, 2)):
        keys = st.sampled_from(OPTION_KEYS) | KEYS
        options = draw(st.dictionaries(keys, VALUES, max_size=4))
        doc["options"] = options if draw(st.integers(0, 5)) else draw(VALUES)
    if draw(st.integers(0, 1)):
        settings = st.sampled_from(SETTING_KEYS)
        doc.update(draw(st.dictionaries(settings, SETTING_VALUES | VALUES, max_size=3)))
    if draw(st.integers(0, 3)) == 0:
        doc.update(draw(st.dictionaries(KEYS, VALUES, max_size=2)))
    return doc


@st.composite
def yaml_file(draw: st.DrawFn, document: st.SearchStrategy[Any]) -> bytes:
    """A YAML file: ``document`` dumped, or other content a user might pass."""
    how = draw(st.sampled_from(["doc", "doc", "doc", "doc", "top", "damaged", "refused",
                                "junk"]))
    if how in ("doc", "damaged"):
        text = yaml.safe_dump(draw(document), allow_unicode=draw(st.booleans()),
                              sort_keys=False).encode()
        return draw(damaged_bytes(text)) if how == "damaged" else text
    if how == "top":
        return yaml.safe_dump(draw(VALUES), sort_keys=False).encode()
    if how == "refused":
        return draw(st.sampled_from([
            b"predictor: !!python/object:os.system {}\n", b"a: 1\n---\nb: 2\n",
            b"predictor:\trandom\n", b"options: &a [*a]\n", b"\xef\xbb\xbfpredictor: random\n",
            b"predictor: random\noptions:\n  top_k: 3\n  top_k: 4\n", b"{", b"- - - -",
            b"predictor: random\x00\n", b"\xff\xfe" + "predictor: random\n".encode("utf-16-le"),
            b"options: {pool: .inf}\npredictor: resemble\n", b"? [a, b]\n: 1\n",
            b"predictor: resemble\noptions: {top_k: 0x18}\n",
        ]))
    return draw(st.binary(min_size=1, max_size=300))


def _predictor_name(raw: bytes) -> Any:
    """The predictor the file names (None when unreadable), to choose a catalog."""
    try:
        doc = yaml.safe_load(raw.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError):
        return None
    return doc.get("predictor") if isinstance(doc, dict) else None


def _one(kind: str, args: list[Any], out: Path) -> None:
    with watching(out) as unchanged:
        check(kind, run_cli(*args), unchanged)


def test_evaluate_config(fuzz_data: FuzzData, depth: int, tmp_path: Path) -> None:
    @fuzz_settings(25, depth)
    @given(raw=yaml_file(predictor_config()), with_predictor=st.booleans())
    @example(raw=b"\xad", with_predictor=False)  # not UTF-8
    @example(raw=b"true: 1\n", with_predictor=False)  # a key that is not a string
    @example(raw=b"predictor: random\noptions: {1: 2}\n", with_predictor=False)
    @example(raw=b"predictor: {a: 1}\n", with_predictor=False)  # a name that is not a string
    @example(raw=b"predictor: random\nseed: -1\n", with_predictor=False)
    def case(raw: bytes, with_predictor: bool) -> None:
        work = Path(tempfile.mkdtemp(dir=tmp_path))
        try:
            cfg = work / "config.yaml"
            cfg.write_bytes(raw)
            name = _predictor_name(raw)
            catalog = fuzz_data.catalog if name in CHEAP or name is None else work / "none"
            out = work / "run"
            args = [*evaluate_args(catalog, out, fuzz_data.eval_ids_file), "--config", cfg]
            if with_predictor:  # --predictor wins over the file's
                args[2] = fuzz_data.catalog
                args += ["--predictor", "majority"]
            _one("config: evaluate", args, out)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    case()


def test_analyze_config(fuzz_data: FuzzData, depth: int, tmp_path: Path) -> None:
    @fuzz_settings(10, depth)
    @given(raw=yaml_file(predictor_config()),
           command=st.sampled_from(["demos", "transfer", "continents"]))
    @example(raw=b"predictor: random\n", command="demos")
    def case(raw: bytes, command: str) -> None:
        work = Path(tempfile.mkdtemp(dir=tmp_path))
        try:
            cfg = work / "config.yaml"
            cfg.write_bytes(raw)
            name = _predictor_name(raw)
            catalog = fuzz_data.catalog if name in CHEAP or name is None else work / "none"
            out = work / "analysis"
            # The fuzz catalog is too small for the default eval set: a valid config ends in
            # that one-line error, after the config was read.
            _one("config: analyze", ["analyze", command, "--catalog", catalog, "--out", out,
                                     "--config", cfg, "--eval-size", "800"], out)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    case()


TRAIN_KEYS = ("learning_rate", "warmup_ratio", "epochs", "max_steps", "max_length", "batch_size",
              "per_device_batch_size", "precision", "lora", "lora_r", "lora_target_modules",
              "save_total_limit", "max_examples", "use_cpu", "seed")


@st.composite
def train_config(draw: st.DrawFn) -> Any:
    keys = st.sampled_from(TRAIN_KEYS) | KEYS
    return draw(st.dictionaries(keys, VALUES, max_size=5))


def test_train_config(fuzz_data: FuzzData, depth: int, tmp_path: Path) -> None:
    @fuzz_settings(12, depth)
    @given(raw=yaml_file(train_config()))
    @example(raw=b"0: null\n")  # a key that is not a string
    @example(raw=b"\x92")  # not UTF-8
    def case(raw: bytes) -> None:
        work = Path(tempfile.mkdtemp(dir=tmp_path))
        try:
            cfg = work / "train.yaml"
            cfg.write_bytes(raw)
            out = work / "trained"
            # No training data: a valid config ends in that one-line error.
            _one("config: train model", ["train", "model", "--data", work / "no-data",
                                         "--base-model", work / "no-model", "--out", out,
                                         "--config", cfg], out)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    case()
