"""Survey specs: any person-level survey described by a spec becomes a catalog.

A tiny made-up survey (6 questions, one recoded from -1/0/1, code ranges, an inline code map)
is written as a single-file spec and as a spec directory, its data as CSV, SPSS, Stata and
Parquet; the catalog is checked against an independent recoding, against the integrity checks
every catalog passes on load, and against the spec's protocol (setups, eval set). Broken specs
are refused with one line naming the file, the entry and the rule.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from indievalue.benchmark.evalset import eligible_mask, select_eval_set
from indievalue.benchmark.setups import probe_setups
from indievalue.catalog.build import build_catalog
from indievalue.catalog.protocol import WVS_PROTOCOL
from indievalue.catalog.spec import StatementSpec
from indievalue.catalog.spec_io import builtin_spec, load_spec
from indievalue.catalog.store import Catalog
from indievalue.errors import IndieValueError, SpecError
from wvs_testdata import write_wvs

N_PERSONS = 240
UNLISTED = 9  # a survey value the recode does not list: missing

TINY: dict[str, Any] = {
    "version": "0.1",
    "survey": {"name": "tiny", "title": "A made-up survey for the tests", "id_column": "resp_id",
               "source": "the test suite", "citation": "nobody", "licence": "CC0-1.0",
               "persons": N_PERSONS},
    "categories": [["AA", "Drinks"], ["BB", "Chores"]],
    "protocol": {"setups": 2, "probes_per_category": 1, "demos": 4, "demo_counts": [0, 2, 4],
                 "min_valid_answers": 5,
                 "eval_set": {"size": 20, "strata": {"entry": "sex"}}},
    "values": [
        {"ids": ["q1", "q2", "q3"], "category": "AA", "type": "mc_3",
         "template": "I think {subject} is {answer}",
         "subjects": ["tea", "coffee", "lemonade"],
         "recode": {-1: 1, 0: 2, 1: 3},
         "polar": [[[1, 2], "no treat"], [[3], "a treat"]],
         "refined": [[[1], "awful"], [[2], "fine"], [[3], "a treat"]]},
        {"ids": ["q4", "q5", "q6"], "category": "BB", "type": "scale_4",
         "template": "I {answer} that {subject}",
         "subjects": ["washing up is relaxing", "ironing is a waste of time",
                      "gardening is good for me"],
         "polar": [[["1..2"], "agree"], [["3..4"], "disagree"]],
         "refined": [[[1], "strongly agree"], [[2], "somewhat agree"], [[3], "somewhat disagree"],
                     [[4], "strongly disagree"]]},
    ],
    "demographics": [
        {"id": "sex", "column": "sex", "dimension": "Sex", "template": "I am {answer}",
         "options": [[[1], "a woman"], [[0], "a man"]]},
        {"id": "age", "column": "age", "dimension": "Age", "template": "I am {answer}",
         "options": [[["18..39"], "younger than 40"], [["40..99"], "40 or older"]]},
        {"id": "region", "column": "region", "label": "Region",
         "template": "I live in the {answer}", "map": "regions"},
    ],
    "maps": {"regions": {1: "north", 2: "south"}},
}
POLAR = {"q1": {-1: 0, 0: 0, 1: 1}, "q4": {1: 0, 2: 0, 3: 1, 4: 1}}  # survey value -> option
REFINED = {"q1": {-1: 0, 0: 1, 1: 2}, "q4": {1: 0, 2: 1, 3: 2, 4: 3}}


def tiny_frame(n: int = N_PERSONS, seed: int = 0) -> pd.DataFrame:
    """Answers with some blanks and unlisted values; a column the spec does not read."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"resp_id": np.arange(1000, 1000 + n), "noise": rng.random(n)})
    for q in ("q1", "q2", "q3"):
        df[q] = rng.choice([-1, 0, 1, UNLISTED], size=n, p=[0.3, 0.3, 0.35, 0.05]).astype(float)
    for q in ("q4", "q5", "q6"):
        df[q] = rng.integers(1, 5, size=n).astype(float)
    for q in ("q1", "q2", "q3", "q4", "q5", "q6"):
        df.loc[rng.random(n) < 0.04, q] = np.nan
    df["sex"] = rng.integers(0, 2, size=n)
    df["age"] = rng.integers(18, 80, size=n)
    df["region"] = rng.choice([1, 2, 3], size=n)  # 3 is not in the map: no statement
    return df


def write_spec(tmp: Path, data: dict[str, Any], name: str = "tiny.yaml") -> Path:
    path = tmp / name
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def write_spec_dir(tmp: Path, data: dict[str, Any]) -> Path:
    """The same spec as a directory: header, values/*.yaml, demographics.yaml, maps/*.tsv."""
    root = tmp / "tiny-spec"
    (root / "values").mkdir(parents=True)
    (root / "maps").mkdir()
    head = {k: v for k, v in data.items() if k not in ("values", "demographics", "maps")}
    (root / "spec.yaml").write_text(yaml.safe_dump(head, sort_keys=False))
    for i, block in enumerate(data["values"]):
        (root / "values" / f"part{i}.yaml").write_text(yaml.safe_dump([block], sort_keys=False))
    (root / "demographics.yaml").write_text(yaml.safe_dump(data["demographics"], sort_keys=False))
    rows = "".join(f"{k}\t{v}\n" for k, v in data["maps"]["regions"].items())
    (root / "maps" / "regions.tsv").write_text("code\tname\n" + rows)
    return root


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, pd.DataFrame]:
    """(spec file, catalog, data frame) of the tiny survey."""
    tmp = tmp_path_factory.mktemp("tiny")
    frame = tiny_frame()
    csv = tmp / "tiny.csv"
    frame.to_csv(csv, index=False)
    spec = write_spec(tmp, TINY)
    build_catalog(csv, tmp / "catalog", spec=load_spec(spec))
    return spec, tmp / "catalog", frame


# -- the catalog ---------------------------------------------------------------------------


def test_catalog_holds_the_recoded_answers(tiny: tuple[Path, Path, pd.DataFrame]) -> None:
    _, cat_dir, frame = tiny
    cat = Catalog.load(cat_dir)
    cat.check(raw=True)  # every integrity check a WVS catalog passes
    assert cat.person_ids.tolist() == frame["resp_id"].tolist()
    for qid in ("q1", "q4"):
        values = frame[qid].to_numpy()
        j = cat.spec.index(qid)
        for form, table in (("polar", POLAR), ("refined", REFINED)):
            want = [table[qid].get(int(v), -1) if np.isfinite(v) else -1 for v in values]
            assert cat.matrix(form)[:, j].tolist() == want
    # an unlisted survey value is missing, not a code
    unlisted = frame["q1"].to_numpy() == UNLISTED
    assert unlisted.any() and (cat.polar[unlisted, 0] == -1).all()
    assert (cat.raw[unlisted, 0] == -99).all()


def test_statements_and_demographics_read_as_the_spec_says(
        tiny: tuple[Path, Path, pd.DataFrame]) -> None:
    _, cat_dir, frame = tiny
    cat = Catalog.load(cat_dir)
    row = frame.iloc[0]
    pid = int(row["resp_id"])
    demo = dict(cat.demographic_statements(pid))
    assert demo["sex"] == ("I am a woman" if row["sex"] == 1 else "I am a man")
    assert demo["age"] == ("I am younger than 40" if row["age"] < 40 else "I am 40 or older")
    region = {1: "I live in the north", 2: "I live in the south"}.get(int(row["region"]))
    assert demo.get("region") == region
    texts = dict(cat.statements(pid, "refined"))
    if np.isfinite(row["q4"]):
        word = ["strongly agree", "somewhat agree", "somewhat disagree",
                "strongly disagree"][int(row["q4"]) - 1]
        assert texts["q4"] == f"I {word} that washing up is relaxing"


def test_the_spec_is_frozen_inside_with_its_survey_and_protocol(
        tiny: tuple[Path, Path, pd.DataFrame]) -> None:
    spec_file, cat_dir, _ = tiny
    cat = Catalog.load(cat_dir)
    stored = json.loads((cat_dir / "spec.json").read_text())
    assert stored["survey"]["citation"] == "nobody"
    assert stored["protocol"]["eval_set"]["strata"]["entry"] == "sex"
    assert stored["questions"][0]["recode"] == {"-1": 1, "0": 2, "1": 3}
    assert cat.spec.content_hash == load_spec(spec_file).content_hash
    assert cat.spec.protocol == load_spec(spec_file).protocol
    assert cat.manifest["survey"]["name"] == "tiny" and cat.manifest["synthetic"] is False


@pytest.mark.parametrize("suffix", [".sav", ".dta", ".parquet"])
def test_every_data_format_gives_the_same_catalog(tiny: tuple[Path, Path, pd.DataFrame],
                                                  tmp_path: Path, suffix: str) -> None:
    spec_file, cat_dir, frame = tiny
    path = tmp_path / f"tiny{suffix}"
    if suffix == ".parquet":
        frame.to_parquet(path)
    else:
        write_wvs(frame, path)
    build_catalog(path, tmp_path / "cat", spec=load_spec(spec_file))
    a, b = Catalog.load(cat_dir), Catalog.load(tmp_path / "cat")
    for form in ("polar", "refined"):
        assert np.array_equal(a.matrix(form), b.matrix(form))
    assert np.array_equal(a.person_ids, b.person_ids)
    assert a.demographics.drop(columns=[]).equals(b.demographics)


def test_a_spec_directory_is_the_same_spec(tmp_path: Path) -> None:
    one = load_spec(write_spec(tmp_path, TINY))
    tree = load_spec(write_spec_dir(tmp_path, TINY))
    assert tree.content_hash == one.content_hash
    assert tree.demographics[2].map_name == "regions"


def test_duplicate_ids_keep_the_first_row(tmp_path: Path) -> None:
    frame = tiny_frame(30)
    frame = pd.concat([frame, frame.iloc[[3]].assign(q4=4.0)], ignore_index=True)
    frame.to_csv(tmp_path / "d.csv", index=False)
    report = build_catalog(tmp_path / "d.csv", tmp_path / "cat",
                           spec=load_spec(write_spec(tmp_path, TINY)))
    assert report.persons == 30 and report.duplicates == 1


# -- the protocol --------------------------------------------------------------------------


def test_setups_follow_the_spec(tiny: tuple[Path, Path, pd.DataFrame]) -> None:
    spec = Catalog.load(tiny[1]).spec
    setups = probe_setups(spec)
    assert [s.qids for s in setups] == [("q1", "q4"), ("q2", "q5")]
    assert [s.categories for s in setups] == [("AA", "BB"), ("AA", "BB")]


def test_eval_set_is_drawn_as_the_spec_says(tiny: tuple[Path, Path, pd.DataFrame]) -> None:
    cat = Catalog.load(tiny[1])
    ev = select_eval_set(cat, seed=0)  # the size comes from the spec
    assert len(ev.person_ids) == 20 and len(set(ev.person_ids.tolist())) == 20
    ok = eligible_mask(cat, probe_setups(cat.spec))
    rows = cat.rows(ev.person_ids)
    assert ok[rows].all()
    assert (cat.persons["n_valid"].to_numpy()[rows] >= 5).all()
    # strata: each sex has a quota of floor(20 / 2) + 1 = 11 before the final draw of 20
    sexes = cat.demographics["sex_code"].to_numpy()[rows]
    assert 9 <= (sexes == 1).sum() <= 11 and 9 <= (sexes == 0).sum() <= 11
    again = select_eval_set(cat, seed=0)
    assert np.array_equal(again.person_ids, ev.person_ids)
    bigger = select_eval_set(cat, 40, seed=0)
    assert len(bigger.person_ids) == 40


def test_eval_set_too_large_for_a_group_says_so(tiny: tuple[Path, Path, pd.DataFrame]) -> None:
    with pytest.raises(IndieValueError, match=r"I am a (wo)?man has .* eligible persons and needs"):
        select_eval_set(Catalog.load(tiny[1]), 230)


def test_the_builtin_spec_keeps_the_reference_protocol_out_of_its_hash() -> None:
    spec = builtin_spec()
    assert spec.protocol == WVS_PROTOCOL
    assert spec.survey is None
    data = spec.to_dict()
    assert "protocol" not in data and "survey" not in data
    assert not any("recode" in q for q in data["questions"])
    # a protocol of its own enters the hash
    changed = copy.deepcopy(data)
    changed["protocol"] = {**WVS_PROTOCOL.to_dict(), "setups": 2}
    assert StatementSpec.from_dict(changed).content_hash != spec.content_hash


# -- bad specs -----------------------------------------------------------------------------


def _edit(fn: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
    data = copy.deepcopy(TINY)
    fn(data)
    return data


BAD = {
    "unknown key": (lambda d: d["protocol"]["eval_set"].update(sise=3),
                    ["protocol.eval_set", "unknown key 'sise'"]),
    "missing key": (lambda d: d["survey"].pop("id_column"),
                    ["survey", "missing key 'id_column'"]),
    "non-integer code": (lambda d: d["values"][0]["polar"][0][0].append("two"),
                         ["values[0] (q1)", "polar[0][0]"]),
    "bad range": (lambda d: d["values"][1]["polar"][1][0].__setitem__(0, "4..3"),
                  ["values[1] (q4)", "code range '4..3'"]),
    "code in two options": (lambda d: d["values"][1]["refined"][0][0].append(2),
                            ["q4 (refined)", "belongs to two options"]),
    "refined straddles polar": (
        lambda d: d["values"][0].update(refined=[[[1], "awful"], [[2, 3], "fine or better"]]),
        ["question q1", "straddles"]),
    "recode to no option": (lambda d: d["values"][0]["recode"].update({5: 7}),
                            ["question q1", "recode maps to 7"]),
    "code out of range": (lambda d: d["values"][0].update(
        recode=None, polar=[[[-1, 0], "no treat"], [[1], "a treat"]],
        refined=[[[-1], "awful"], [[0], "fine"], [[1], "a treat"]]),
        ["question q1", "codes must lie in 0..16", "recode"]),
    "unknown category": (lambda d: d["values"][0].update(category="ZZ"),
                         ["question q1", "unknown category 'ZZ'"]),
    "template without answer": (lambda d: d["values"][0].update(template="I like {subject}"),
                                ["values[0] (q1)", "lacks {answer}"]),
    "unknown placeholder": (lambda d: d["values"][1].update(template="I {answer} {subjekt}"),
                            ["values[1] (q4)", "unknown placeholder {subjekt}"]),
    "subjects miscounted": (lambda d: d["values"][0]["subjects"].pop(),
                            ["values[0] (q1)", "2 subjects for 3 ids"]),
    "closing period": (lambda d: d["values"][1].update(template="I {answer} that {subject}."),
                       ["q4 (polar)", "malformed statement"]),
    "duplicate question": (lambda d: d["values"][1]["ids"].__setitem__(0, "q1"),
                           ["question q1", "appears twice"]),
    "duplicate demographic": (lambda d: d["demographics"].append(d["demographics"][0]),
                              ["demographic entry sex", "appears twice"]),
    "missing map": (lambda d: d["demographics"][2].update(map="towns"),
                    ["demographics[2] (region)", "map 'towns' not found"]),
    "options and map": (lambda d: d["demographics"][0].update(map="regions"),
                        ["demographics[0] (sex)", "exactly one of options / map"]),
    "survey without protocol": (lambda d: d.pop("protocol"),
                                ["protocol", "missing section"]),
    "too many setups": (lambda d: d["protocol"].update(setups=5),
                        ["protocol.setups", "less than or equal to 4"]),
    "too many probes": (lambda d: d["protocol"].update(probes_per_category=4),
                        ["protocol", "category AA has 3 question(s), fewer than "
                         "probes_per_category 4"]),
    "demo count above demos": (lambda d: d["protocol"].update(demo_counts=[0, 9]),
                               ["protocol", "demo_counts: 9 is outside 0..demos (4)"]),
    "unknown strata entry": (lambda d: d["protocol"]["eval_set"]["strata"].update(entry="job"),
                             ["protocol", "no demographic entry 'job'"]),
    "unknown strata group": (lambda d: d["protocol"]["eval_set"]["strata"].update(
        groups=["I am a woman", "I am a child"]), ["protocol", "'I am a child' is not an option"]),
    "cap on an unread column": (lambda d: d["protocol"]["eval_set"].update(
        cap={"column": "income", "codes": [1], "per_group": 2, "at_size": 20}),
        ["protocol", "eval_set.cap.column: 'income'"]),
    "min valid answers above the questions": (
        lambda d: d["protocol"].update(min_valid_answers=7), ["protocol", "min_valid_answers"]),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_spec_is_one_line_naming_file_entry_and_rule(tmp_path: Path, case: str) -> None:
    mutate, fragments = BAD[case]
    path = write_spec(tmp_path, _edit(mutate))
    with pytest.raises(SpecError) as info:
        load_spec(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: "), message
    for fragment in fragments:
        assert fragment in message, (fragment, message)


def test_errors_in_a_spec_directory_name_the_part_file(tmp_path: Path) -> None:
    root = write_spec_dir(tmp_path, _edit(
        lambda d: d["values"][1]["refined"][0][0].append(2)))
    with pytest.raises(SpecError, match=r"values/part1\.yaml: q4 \(refined\): a code belongs "
                       "to two options"):
        load_spec(root)
    (root / "values" / "part0.yaml").write_text("- ids: [q1\n")
    with pytest.raises(SpecError, match=r"values/part0\.yaml: not a readable YAML file"):
        load_spec(root)
    (root / "values" / "part0.yaml").write_text("- ids: [q1]\n  category: AA\n")
    with pytest.raises(SpecError, match=r"values/part0\.yaml: entry \[0\] \(q1\): missing key"):
        load_spec(root)


def test_missing_spec_paths(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="no such file or directory"):
        load_spec(tmp_path / "nope.yaml")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SpecError, match=r"needs a spec\.yaml"):
        load_spec(tmp_path / "empty")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(SpecError, match="expected a mapping of spec sections"):
        load_spec(tmp_path / "list.yaml")


def test_a_data_file_without_the_specs_columns(tiny: tuple[Path, Path, pd.DataFrame],
                                               tmp_path: Path) -> None:
    spec_file, _, frame = tiny
    frame.drop(columns=["q5", "age"]).to_csv(tmp_path / "short.csv", index=False)
    with pytest.raises(IndieValueError, match=r"short\.csv: not a tiny file as the spec .* "
                       "describes: missing column\\(s\\) q5, age"):
        build_catalog(tmp_path / "short.csv", tmp_path / "cat", spec=load_spec(spec_file))
    frame.assign(resp_id=frame["resp_id"] + 0.5).to_csv(tmp_path / "ids.csv", index=False)
    with pytest.raises(IndieValueError, match="column resp_id holds a non-integer code"):
        build_catalog(tmp_path / "ids.csv", tmp_path / "cat", spec=load_spec(spec_file))
    frame.assign(q2="often").to_parquet(tmp_path / "text.parquet")
    with pytest.raises(IndieValueError, match=r"column q2 holds (large_)?string values"):
        build_catalog(tmp_path / "text.parquet", tmp_path / "cat", spec=load_spec(spec_file))
    assert not (tmp_path / "cat").exists()


# -- the command line ----------------------------------------------------------------------


def test_catalog_build_with_a_survey_spec(tiny: tuple[Path, Path, pd.DataFrame], tmp_path: Path,
                                          cli: Callable[..., Any]) -> None:
    spec_file, cat_dir, frame = tiny
    frame.to_csv(tmp_path / "t.csv", index=False)
    r = cli("catalog", "build", "--survey", spec_file, "--data", tmp_path / "t.csv",
            "--out", tmp_path / "cat")
    assert r.code == 0, r.stderr
    assert "REAL" in r.stderr and "nobody" in r.stderr
    assert np.array_equal(Catalog.load(tmp_path / "cat").refined, Catalog.load(cat_dir).refined)


@pytest.mark.parametrize("args, message", [
    (["--out", "x"], "give --wvs FILE, or --survey SPEC with --data FILE"),
    (["--wvs", "a.csv", "--survey", "s.yaml", "--out", "x"], "not both"),
    (["--survey", "SPEC", "--out", "x"], "needs --data FILE"),
    (["--survey", "no-such-survey", "--data", "d.csv", "--out", "x"],
     "neither a spec file or directory nor a shipped dataset"),
    (["--wvs", "a.csv", "--data", "d.csv", "--out", "x"], "--data goes with --survey"),
])
def test_catalog_build_refuses_mixed_options(tiny: tuple[Path, Path, pd.DataFrame],
                                             cli: Callable[..., Any], args: list[str],
                                             message: str) -> None:
    args = [str(tiny[0]) if a == "SPEC" else a for a in args]
    r = cli("catalog", "build", *args)
    assert r.code == 2 and r.stderr.startswith("error: ") and message in r.stderr, r.stderr
    assert r.stderr.count("\n") == 1


def test_datasets_check(tiny: tuple[Path, Path, pd.DataFrame], tmp_path: Path,
                        cli: Callable[..., Any]) -> None:
    r = cli("datasets", "check", tiny[0], "--json")
    assert r.code == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["setups"] == [["q1", "q4"], ["q2", "q5"]]
    assert summary["fairness_dimensions"] == ["Sex", "Age"]
    bad = write_spec(tmp_path, _edit(lambda d: d["protocol"].update(setups=0)), "bad.yaml")
    r = cli("datasets", "check", bad)
    assert r.code == 2 and "bad.yaml: protocol.setups:" in r.stderr and r.stderr.count("\n") == 1
