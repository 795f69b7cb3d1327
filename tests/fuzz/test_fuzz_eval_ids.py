"""Fuzz ``--eval-ids FILE`` of ``evaluate`` and ``train-value-model``: files of person ids with
unknown ids, duplicates, numbers that are not plain integers, blank and commented lines, other
line ends and encodings, binary junk, nothing at all, and a directory in the file's place."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from _fuzz_support import (
    SMALL_VALUE_MODEL,
    FuzzData,
    check,
    damaged_bytes,
    evaluate_args,
    fuzz_settings,
    run_cli,
    watching,
)
from hypothesis import given
from hypothesis import strategies as st

ODD_LINES = st.sampled_from(["", " ", "#", "# ids", "x", "1.0", "1e3", "0x10", "+5", "-5", "0",
                             "1_0", "١٢", "12 13", "12,13", "\t", "None", "9" * 30,
                             str(2**63), str(-(2**63) - 1), "\ufeff1", "\x00"])


@st.composite
def ids_file(draw: st.DrawFn, known: list[int]) -> bytes:
    """The content of an ids file."""
    how = draw(st.sampled_from(["lines", "lines", "lines", "lines", "damaged", "junk",
                                "empty"]))
    if how == "empty":
        return draw(st.sampled_from([b"", b"\n", b"\n\n  \n"]))
    if how == "junk":
        return draw(st.binary(min_size=1, max_size=200))
    # Known ids, with some unknown or odd lines mixed in; mostly few lines (a cheap run).
    odd = st.integers(-(2**64), 2**64).map(str) | ODD_LINES
    if draw(st.booleans()):  # known ids only: a valid file (or one with duplicates)
        lines = [str(i) for i in draw(st.lists(st.sampled_from(known), min_size=1, max_size=4,
                                               unique=True))]
    else:
        lines = draw(st.lists(st.sampled_from(known).map(str) | odd, min_size=1, max_size=6))
    if draw(st.integers(0, 4)) == 0:
        lines += lines[: draw(st.integers(1, len(lines)))]  # duplicates
    pad = draw(st.sampled_from(["", " ", "\t"]))
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    text = newline.join(pad + ln + pad for ln in lines) + draw(st.sampled_from([newline, ""]))
    data = text.encode(draw(st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "utf-16",
                                             "latin-1"])), errors="replace")
    return draw(damaged_bytes(data)) if how == "damaged" else data


def test_evaluate_eval_ids(fuzz_data: FuzzData, depth: int, tmp_path: Path) -> None:
    @fuzz_settings(20, depth)
    @given(raw=ids_file([*fuzz_data.eval_ids, fuzz_data.eval_ids[0] + 3]),
           predictor=st.sampled_from(["random", "majority", "resemble"]))
    def case(raw: bytes, predictor: str) -> None:
        work = Path(tempfile.mkdtemp(dir=tmp_path))
        try:
            ids = work / "ids.txt"
            ids.write_bytes(raw)
            out = work / "run"
            args = [*evaluate_args(fuzz_data.catalog, out, ids), "--predictor", predictor]
            with watching(out) as unchanged:
                check("eval-ids: evaluate", run_cli(*args), unchanged)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    case()


def test_train_value_model_eval_ids(fuzz_data: FuzzData, depth: int, tmp_path: Path) -> None:
    @fuzz_settings(4, depth)
    @given(raw=ids_file(fuzz_data.eval_ids))
    def case(raw: bytes) -> None:
        work = Path(tempfile.mkdtemp(dir=tmp_path))
        try:
            ids = work / "ids.txt"
            ids.write_bytes(raw)
            out = work / "model"
            with watching(out) as unchanged:
                check("eval-ids: train value-model",
                      run_cli("train", "value-model", "--catalog", fuzz_data.catalog, "--out", out,
                              "--eval-ids", ids, *SMALL_VALUE_MODEL), unchanged)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    case()


def test_eval_ids_that_are_not_files(fuzz_data: FuzzData, tmp_path: Path) -> None:
    """A missing file and a directory: one error line each."""
    (tmp_path / "folder").mkdir()
    for where in (tmp_path / "absent.txt", tmp_path / "folder"):
        out = tmp_path / "run"
        line = check("eval-ids: evaluate",
                     run_cli(*evaluate_args(fuzz_data.catalog, out, where), "--predictor",
                             "random"), expect_error=True)
        assert str(where) in line and not out.exists()
