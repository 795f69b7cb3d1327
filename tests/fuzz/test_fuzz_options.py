"""Fuzz ``--option KEY=VALUE`` (``evaluate``, ``export batch``, ``train value-model``),
``--set KEY=VALUE`` (``train model``) and the integers the commands take (``--seed``,
``--eval-size``, ``--persons``).

Pairs carry known and unknown keys, values of the wrong type, huge and negative numbers, NaN
and infinities, YAML-looking text, control characters, and no ``=`` at all.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from _fuzz_support import (
    SMALL_VALUE_MODEL,
    FuzzData,
    check,
    evaluate_args,
    fuzz_settings,
    run_cli,
    watching,
)
from hypothesis import example, given
from hypothesis import strategies as st

KEYS = {
    "random": (),
    "majority": (),
    "resemble": ("top_k", "pool", "context", "sweep"),
    "value-model": ("dim", "hidden", "epochs", "lr", "batch_size", "pool_size", "context",
                    "threads", "max_demos", "calibrate", "groups", "model_dir"),
    "hf": ("model", "mode", "device", "dtype", "batch_size", "temperature", "retries"),
    "openai": ("model", "base_url", "concurrency", "timeout", "max_attempts", "logprobs"),
    "vllm": ("model", "tensor_parallel", "gpu_memory_utilization", "max_model_len"),
    "oracle": (),
}
CHEAP = ("random", "majority", "resemble")
VALUES = st.one_of(
    st.integers(-(2**70), 2**70).map(str),
    st.sampled_from(["0", "1", "-1", "24", "500", "501", "2147483648", "9" * 40, "1e309", "nan",
                     "inf", "-inf", "-0.0", "0.5", "1_000", "0x18", "all", "visible", "demos",
                     "true", "false", "yes", "none", "null", "[1, 2]", "{a: 1}", "", " ",
                     "=", "a=b", "\x00", "\n", "é", "~", "generate", "loglik", "auto"]),
    st.text(max_size=8),
)


# Values each known key accepts, so that some drawn option sets are valid.
GOOD = {"top_k": ["1", "5", "24"], "pool": ["all", "40"], "context": ["visible", "demos"],
        "sweep": ["0", "3"], "threads": ["1"], "temperature": ["0", "0.7"], "top_p": ["1"],
        "max_new_tokens": ["16"], "system_prompt": ["Be brief."], "lr": ["0.01"],
        "batch_size": ["64"], "pool_size": ["all", "100"], "max_demos": ["50"],
        "weight_decay": ["0"], "polar_weight": ["1"], "learning_rate": ["1e-4"],
        "epochs": ["1"], "max_steps": ["2"], "seed": ["3"], "lora": ["true"], "lora_r": ["8"],
        "precision": ["fp32"], "per_device_batch_size": ["1"], "save_total_limit": ["1"],
        "max_length": ["512"]}


@st.composite
def pairs(draw: st.DrawFn, known: tuple[str, ...]) -> list[str]:
    """A list of ``--option`` values: mostly KEY=VALUE (often a valid one), some without '='
    or without a key; sometimes none at all."""
    out = []
    for _ in range(draw(st.integers(0, 4))):
        key = draw(st.sampled_from(known) if known and draw(st.integers(0, 3)) else
                   st.sampled_from(["unknown", "", " ", "top_k ", "TOP_K", "a.b"])
                   | st.text(max_size=6))
        shape = draw(st.sampled_from(["pair", "pair", "pair", "bare", "spaced"]))
        good = GOOD.get(key.strip())
        value = draw(st.sampled_from(good) if good and draw(st.booleans()) else VALUES)
        out.append(f"{key}={value}" if shape == "pair" else key if shape == "bare" else
                   f" {key} = {value} ")
    return out


def _final(options: list[str]) -> dict[str, str]:
    """What the CLI makes of the pairs when they parse (the last of a key wins)."""
    out = {}
    for pair in options:
        key, sep, value = pair.partition("=")
        if sep and key.strip():
            out[key.strip()] = value.strip()
    return out


def test_evaluate_options(fuzz_data: FuzzData, depth: int, tmp_path: Path) -> None:
    @fuzz_settings(40, depth)
    @given(data=st.data(), name=st.sampled_from(sorted(KEYS)), existing=st.booleans())
    def case(data: st.DataObject, name: str, existing: bool) -> None:
        options = data.draw(pairs(KEYS[name]))
        work = Path(tempfile.mkdtemp(dir=tmp_path))
        try:
            # Half the cases write into a finished run of `random`: the same run resumes
            # (nothing to do), another is refused, and a refusal leaves the run as it was.
            out = fuzz_data.copy(fuzz_data.run, work) if existing else work / "run"
            # Only cheap predictors get a real catalog: the others stop there once their
            # options are validated (no model loading, training or network).
            catalog = fuzz_data.catalog if name in CHEAP else work / "none"
            args = [*evaluate_args(catalog, out, fuzz_data.eval_ids_file), "--predictor", name]
            for pair in options:
                args += ["--option", pair]
            with watching(out) as unchanged:
                check(f"option: evaluate {name}", run_cli(*args), unchanged)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    case()


def test_export_batch_options(fuzz_data: FuzzData, depth: int, tmp_path: Path) -> None:
    pytest.importorskip("openai")
    keys = ("prompt_template", "system_prompt", "temperature", "top_p", "max_new_tokens",
            "model", "mode")

    @fuzz_settings(8, depth)
    @given(options=pairs(keys))
    def case(options: list[str]) -> None:
        work = Path(tempfile.mkdtemp(dir=tmp_path))
        try:
            out = work / "requests.jsonl"
            args: list[str | Path] = ["export", "batch", "--catalog", fuzz_data.catalog,
                                      "--out", out, "--model", "stub", "--form", "polar",
                                      "--demos", "5", "--eval-ids", fuzz_data.eval_ids_file]
            for pair in options:
                args += ["--option", pair]
            with watching(out, work / "requests.plan.json") as unchanged:
                check("option: export batch", run_cli(*args), unchanged)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    case()


def test_value_model_options_with_a_saved_model(fuzz_data: FuzzData, value_model_dir: Path,
                                                depth: int, tmp_path: Path) -> None:
    """The saved model's options against the ones given: equal, different or invalid."""
    keys = tuple(k for k in KEYS["value-model"] if k != "model_dir")

    @fuzz_settings(10, depth)
    @given(options=pairs(keys))
    def case(options: list[str]) -> None:
        work = Path(tempfile.mkdtemp(dir=tmp_path))
        try:
            out = work / "run"
            args = [*evaluate_args(fuzz_data.catalog, out, fuzz_data.eval_ids_file),
                    "--predictor", "value-model"]
            for pair in options:
                args += ["--option", pair]
            args += ["--option", f"model_dir={value_model_dir}"]
            with watching(out) as unchanged:
                check("option: evaluate value-model (saved)", run_cli(*args), unchanged)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    case()


def test_train_value_model_options(fuzz_data: FuzzData, depth: int, tmp_path: Path) -> None:
    # The small-model options come last and win: fuzzed values of those keys are overridden,
    # so a valid set trains in well under a second.
    keys = ("lr", "batch_size", "pool_size", "max_demos", "weight_decay", "polar_weight",
            "context", "threads", "model_dir")

    @fuzz_settings(8, depth)
    @given(options=pairs(keys))
    def case(options: list[str]) -> None:
        if "threads" in _final(options):
            options = [p for p in options if not p.strip().startswith("threads")]
        work = Path(tempfile.mkdtemp(dir=tmp_path))
        try:
            out = work / "model"
            args: list[str | Path] = ["train", "value-model", "--catalog", fuzz_data.catalog,
                                      "--out", out, "--eval-ids", fuzz_data.eval_ids_file]
            for pair in options:
                args += ["--option", pair]
            args += [*SMALL_VALUE_MODEL, "--option", "threads=1"]
            with watching(out) as unchanged:
                check("option: train value-model", run_cli(*args), unchanged)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    case()


def test_train_set(depth: int, tmp_path: Path) -> None:
    keys = ("learning_rate", "epochs", "max_steps", "batch_size", "per_device_batch_size",
            "precision", "lora", "lora_r", "max_length", "save_total_limit", "seed")

    @fuzz_settings(12, depth)
    @given(options=pairs(keys), lora=st.booleans())
    def case(options: list[str], lora: bool) -> None:
        work = Path(tempfile.mkdtemp(dir=tmp_path))
        try:
            out = work / "trained"
            args: list[str | Path] = ["train", "model", "--data", work / "no-data", "--base-model",
                                      work / "no-model", "--out", out]
            for pair in options:
                args += ["--set", pair]
            if lora:
                args.append("--lora")
            with watching(out) as unchanged:
                check("option: train model --set", run_cli(*args), unchanged)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    case()


NUMBERS = st.integers(-(2**70), 2**70) | st.sampled_from(
    [0, -1, 1, 2**32 - 1, 2**32, 2**63, 2**64, 10**30, -(2**63)])


@pytest.mark.parametrize("command", ["evaluate", "train-value-model", "synth"])
def test_numbers(fuzz_data: FuzzData, command: str, depth: int, tmp_path: Path) -> None:
    """--seed (and --eval-size, --persons) anywhere in the integers typer accepts."""

    @fuzz_settings(8, depth)
    @given(seed=NUMBERS, size=NUMBERS, use_ids=st.booleans(),
           persons=st.integers(-3, 30) | st.sampled_from([10**8, 10**12]))
    @example(seed=-1, size=5, use_ids=True, persons=3)
    @example(seed=0, size=5, use_ids=True, persons=10**8)  # more than the id scheme holds
    def case(seed: int, size: int, use_ids: bool, persons: int) -> None:
        work = Path(tempfile.mkdtemp(dir=tmp_path))
        try:
            out = work / "out"
            ids = ["--eval-ids", fuzz_data.eval_ids_file] if use_ids else []
            if command == "evaluate":
                args: list[str | Path] = [
                    "evaluate", "--catalog", fuzz_data.catalog, "--form", "polar", "--out", out,
                    "--demos", "5", "--predictor", "random", *ids,
                    *(["--eval-size", str(size)] if size >= 1 else [])]  # < 1: typer's check
            elif command == "train-value-model":
                args = ["train", "value-model", "--catalog", fuzz_data.catalog, "--out", out, *ids,
                        *SMALL_VALUE_MODEL]
            else:
                out = work / "survey.csv"
                args = ["synth", "--persons", str(persons), "--out", out]
            with watching(out) as unchanged:
                check(f"number: {command} --seed", run_cli(*args, "--seed", str(seed)),
                      unchanged)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    case()
