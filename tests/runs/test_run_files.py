"""Typed run files (runs/files.py): format versions, reading released files, and refusing
whatever does not belong to a run: one IndieValueError line naming the file (and line)."""

from __future__ import annotations

import json
import math
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from _bench_data import BenchData
from indievalue.errors import IndieValueError
from indievalue.report.build import partial_notes
from indievalue.report.runs import load_run, load_runs
from indievalue.report.tables import runs_table
from indievalue.runs.config import EvalConfig
from indievalue.runs.evaluate import evaluate
from indievalue.runs.files import (
    SPEC_FORMAT,
    SUMMARY_FORMAT,
    RecordLine,
    SpecFile,
    Summary,
    read_run,
)
from indievalue.runs.records import RECORDS
from indievalue.runs.summary import score

N = 12
EXPECTED = N * 117


@pytest.fixture(scope="module")
def finished(bench: BenchData, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("files") / "run"
    evaluate(bench.catalog, EvalConfig(predictor="majority", eval_size=N, seed=0), out)
    return out


@pytest.fixture
def run(finished: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "run"
    shutil.copytree(finished, copy)
    return copy


def read_lines(run: Path) -> list[str]:
    return (run / RECORDS).read_text(encoding="utf-8").splitlines()


def write_lines(run: Path, lines: list[str], end: str = "\n") -> None:
    (run / RECORDS).write_text("\n".join(lines) + end, encoding="utf-8")


def edit_json(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def refusal(run: Path) -> str:
    """The one-line error reading the run's records gives."""
    with pytest.raises(IndieValueError) as info:
        read_run(run).records  # noqa: B018 - reading is the test
    text = str(info.value)
    assert "\n" not in text
    return text


def test_new_files_carry_their_format_version(finished: Path) -> None:
    spec = json.loads((finished / "spec.json").read_text())
    assert next(iter(spec)) == "format_version" and spec["format_version"] == SPEC_FORMAT == 1
    summary = json.loads((finished / "summary.json").read_text())
    assert summary["format_version"] == SUMMARY_FORMAT == 2
    assert summary["expected_records"] == EXPECTED and summary["complete"] is True
    run = read_run(finished)
    assert isinstance(run.spec_file, SpecFile) and isinstance(run.summary, Summary)
    assert run.spec.predictor == "majority" and run.spec.n_persons == N
    assert run.expected_records == run.n_records == EXPECTED and run.partial is None
    assert run.summary.to_json() == summary


def test_records_as_a_frame_and_as_typed_lines(finished: Path) -> None:
    run = read_run(finished)
    frame = run.records
    assert len(frame) == EXPECTED and frame["correct"].dtype == bool
    first = next(run.iter_records())
    assert isinstance(first, RecordLine)
    assert first.person_id == int(run.eval_ids[0]) and first.setup == 0
    assert first.question == run.spec.setups[0][0] and first.status == "ok"
    assert first.probs is not None and len(first.probs) == first.n_options
    assert sum(1 for _ in run.iter_records()) == EXPECTED


def test_files_without_a_version_read_as_version_1(run: Path) -> None:
    """Run directories of the released version: no format_version, no expected_records in
    the summary. They read, report and rescore; reading rewrites nothing."""
    edit_json(run / "spec.json", lambda d: d.pop("format_version"))

    def released(d: dict[str, Any]) -> None:
        d.pop("format_version")
        d.pop("expected_records")

    edit_json(run / "summary.json", released)
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    loaded = read_run(run)
    assert loaded.spec_file.format_version == 1
    assert loaded.summary.format_version == 1 and loaded.summary.expected_records is None
    assert loaded.partial is None
    assert load_run(run).summary.overall == loaded.summary.overall
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before
    assert score(run).format_version == SUMMARY_FORMAT


def test_a_newer_format_is_refused(run: Path) -> None:
    edit_json(run / "spec.json", lambda d: d.update(format_version=SPEC_FORMAT + 1))
    with pytest.raises(IndieValueError, match=r"spec.json: format_version 2 is newer"):
        read_run(run)


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d["spec"].update(demos="200"), r"spec.json: spec.demos: Input should be a "
     r"valid integer \(got \"200\"\)"),
    (lambda d: d.pop("label"), r"spec.json: label: Field required$"),
    (lambda d: d.update(notes="mine"), r"spec.json: notes: Extra inputs are not permitted"),
    (lambda d: d["spec"].update(protocol="C"), r"spec.json: spec.protocol: Input should be"),
    (lambda d: d.update(expected_records=-1), r"spec.json: expected_records: Input should be "
     r"greater than or equal to 0"),
])
def test_a_spec_file_of_another_shape_is_refused(run: Path, change: Callable[..., Any],
                                                 message: str) -> None:
    edit_json(run / "spec.json", change)
    with pytest.raises(IndieValueError, match=message) as info:
        read_run(run)
    assert "\n" not in str(info.value) and str(run / "spec.json") in str(info.value)


def test_eval_ids_of_another_run_are_refused(run: Path) -> None:
    ids = (run / "eval_ids.txt").read_text().split()
    (run / "eval_ids.txt").write_text("\n".join(ids[1:]) + "\n")
    with pytest.raises(IndieValueError, match=r"eval_ids.txt: does not match spec.json"):
        read_run(run)


def set_field(line: str, **changes: Any) -> str:
    rec = json.loads(line)
    rec.update(changes)
    return json.dumps(rec, separators=(",", ":"))


def drop_field(line: str, name: str) -> str:
    rec = json.loads(line)
    del rec[name]
    return json.dumps(rec, separators=(",", ":"))


# (what is done to the lines, the message expected)
RECORD_DAMAGE: list[tuple[str, Callable[[list[str]], list[str]], str]] = [
    ("wrong type", lambda ls: [*ls[:2], set_field(ls[2], gold="1"), *ls[3:]],
     r":3: gold: Input should be a valid integer \(got \"1\"\)"),
    ("missing field", lambda ls: [*ls[:3], drop_field(ls[3], "status"), *ls[4:]],
     r":4: status is missing$"),
    ("unknown status", lambda ls: [*ls[:4], set_field(ls[4], status="maybe"), *ls[5:]],
     r":5: status is not one of ok, parse_failure, error, abstain"),
    ("probs per option", lambda ls: [set_field(ls[0], probs=[1.0]), *ls[1:]],
     r":1: probs has not one value per option"),
    ("probs range", lambda ls: [ls[0], set_field(ls[1], probs=[1.5, -0.5]), *ls[2:]],
     r":2: probs holds a value outside \[0, 1\]"),
    ("gold range", lambda ls: [ls[0], set_field(ls[1], gold=7), *ls[2:]],
     r":2: gold is not an option index or -1"),
    ("person", lambda ls: [*ls[:9], set_field(ls[9], person_id=999999999), *ls[10:]],
     r":10: person 999999999 is not in eval_ids.txt"),
    ("question", lambda ls: [set_field(ls[0], question="Q9999"), *ls[1:]],
     r":1: question 'Q9999' is not in setup 0 of the spec"),
    ("setup", lambda ls: [set_field(ls[0], setup=3), *ls[1:]],
     r":1: setup 3 is not one of the spec's 3 setups"),
    ("category", lambda ls: [set_field(ls[0], category="Gardening"), *ls[1:]],
     r":1: category 'Gardening' is not in the spec's category_order"),
    ("episode", lambda ls: [set_field(ls[0], episode=5), *ls[1:]],
     r":1: episode 5 in a protocol A run"),
    ("duplicate", lambda ls: [*ls[:-1], ls[0]],
     rf":{EXPECTED}: a second record of person, setup, episode and question"),
    ("too many", lambda ls: [*ls, ls[0]],
     rf"{EXPECTED + 1} records, more than the {EXPECTED} spec.json expects"),
    ("empty line", lambda ls: [*ls[:6], "", *ls[6:-1]], r":7: empty line"),
    ("not json", lambda ls: [ls[0], "{oops", *ls[2:]], r":2: not JSON"),
    ("not a record", lambda ls: [ls[0], "[1, 2]", *ls[2:]],
     r":2: not a record \(expected a JSON object\)"),
]


@pytest.mark.parametrize(("damage", "message"), [(d, m) for _, d, m in RECORD_DAMAGE],
                         ids=[name for name, _, _ in RECORD_DAMAGE])
def test_records_that_do_not_belong_are_refused(run: Path, damage: Callable[..., list[str]],
                                                message: str) -> None:
    write_lines(run, damage(read_lines(run)))
    text = refusal(run)
    assert str(run / RECORDS) in text
    assert re.search(message, text), text


def test_a_torn_last_line_says_how_to_recover(run: Path) -> None:
    lines = read_lines(run)
    write_lines(run, [*lines[:-1], lines[-1][:20]], end="")
    text = refusal(run)
    assert f"records.jsonl:{EXPECTED}: incomplete last line" in text
    assert "rerun `indievalue evaluate`" in text


def test_unknown_probabilities_are_kept(run: Path) -> None:
    lines = read_lines(run)
    rec = json.loads(lines[0])
    rec["probs"] = [float("nan")] * rec["n_options"]
    write_lines(run, [json.dumps(rec, separators=(",", ":")), *lines[1:]])
    assert math.isnan(read_run(run).records["probs"].iloc[0][0])


@pytest.fixture
def partial(run: Path) -> Path:
    """The run cut after its fifth episode (39 lines each), as a killed run leaves it."""
    write_lines(run, read_lines(run)[: 5 * 39])
    return run


def test_an_incomplete_run_says_partial_everywhere(partial: Path, tmp_path: Path,
                                                   cli: Callable[..., Any]) -> None:
    words = f"PARTIAL: 195 of {EXPECTED} expected records"
    res = cli("score", partial)
    assert res.code == 0, res.stderr
    assert res.stdout.startswith(f"{words}: ")
    summary = json.loads((partial / "summary.json").read_text())
    assert summary["complete"] is False and summary["n_records"] == 195
    assert summary["expected_records"] == EXPECTED
    assert words in (partial / "summary.md").read_text()
    res = cli("score", partial, "--json")
    assert json.loads(res.stdout)["complete"] is False
    res = cli("report", partial, "--out", tmp_path / "report")
    assert res.code == 0, res.stderr
    assert f"{words} (majority · polar)" in res.stdout
    md = (tmp_path / "report" / "report.md").read_text(encoding="utf-8")
    assert f"> **{words} in run majority · polar:" in md
    assert f"| {words} |" in md  # the runs table's 'complete' column
    page = (tmp_path / "report" / "report.html").read_text(encoding="utf-8")
    assert f'<p class="banner warning">{words} in run majority · polar:' in page


def test_a_complete_run_says_nothing_of_partial(finished: Path,
                                                cli: Callable[..., Any]) -> None:
    res = cli("score", finished)
    assert res.code == 0 and "PARTIAL" not in res.stdout
    assert res.stdout.startswith("majority: overall ")
    runs = load_runs([finished])
    assert partial_notes(runs) == [] and runs[0].partial is None
    assert runs_table(runs).table.rows[0][-1] == "yes"


@pytest.mark.parametrize(("name", "content", "message"), [
    ("groups.json", '{"1": ["I am a man"]}', r"groups.json: 1: Input should be an object"),
    ("groups.json", '{"1": {"Sex": "I am a man"}}', r"groups.json: its persons are not those "
     r"of eval_ids.txt"),
    ("groups.json", "", r"groups.json: Invalid JSON"),
    ("lm_stats.json", '{"cache_hits": "many"}', r"lm_stats.json: hits: Input should be a "
     r"valid integer"),
])
def test_damaged_side_files_are_refused_when_scoring(run: Path, name: str, content: str,
                                                     message: str) -> None:
    (run / name).write_text(content, encoding="utf-8")
    with pytest.raises(IndieValueError, match=message) as info:
        score(run)
    assert "\n" not in str(info.value)
