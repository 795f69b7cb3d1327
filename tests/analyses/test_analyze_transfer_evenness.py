"""``transfer_analysis`` (Figure 8) and ``evenness_analysis`` (Figure 7)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from _analysis_catalog import EVAL_SIZE, analysis_catalog

from indievalue.analyses.common import AnalysisResult
from indievalue.analyses.evenness import evenness_analysis
from indievalue.analyses.transfer import draw_subset, transfer_analysis
from indievalue.catalog.store import Catalog
from indievalue.errors import IndieValueError
from indievalue.metrics.evenness import evenness_by_group

PERSONS = 10


@pytest.fixture(scope="module")
def transfer(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, AnalysisResult]:
    cat = analysis_catalog(tmp_path_factory)
    out = tmp_path_factory.mktemp("transfer")
    return cat, out, transfer_analysis(cat, "majority", out, persons=PERSONS,
                                       eval_size=EVAL_SIZE, seed=3)


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_one_run_per_source_category_on_the_subset(
        transfer: tuple[Path, Path, AnalysisResult]) -> None:
    cat_path, out, result = transfer
    spec = Catalog.load(cat_path).spec
    keys = [c.key for c in spec.categories]
    assert [p.name for p in result.runs] == [f"demo-{k}" for k in keys]
    full = (out / "eval_ids.txt").read_text().split()
    subset = (out / "transfer_ids.txt").read_text().split()
    assert len(full) == EVAL_SIZE and len(subset) == PERSONS
    assert subset == [i for i in full if i in set(subset)]  # eval-set order kept
    for key, run in zip(keys, result.runs, strict=True):
        s = json.loads((run / "spec.json").read_text())["spec"]
        assert s["demo_category"] == key and s["demos"] == 200 and s["seed"] == 3
        assert (run / "eval_ids.txt").read_text().split() == subset


def test_matrix_is_source_by_probe_category(
        transfer: tuple[Path, Path, AnalysisResult]) -> None:
    cat_path, out, result = transfer
    names = [c.name for c in Catalog.load(cat_path).spec.categories]
    rows = read_csv(out / "transfer.csv")
    assert [r["demonstrations from"] for r in rows] == names
    assert list(rows[0]) == ["demonstrations from", *names, "All"]
    for row, run in zip(rows, result.runs, strict=True):
        summary = json.loads((run / "summary.json").read_text())
        for name in names:
            assert float(row[name]) == pytest.approx(summary["per_category"][name], abs=1e-4)
        assert float(row["All"]) == pytest.approx(summary["overall"], abs=1e-4)
    assert result.figure.read_bytes().startswith(b"\x89PNG")
    md = result.markdown.read_text(encoding="utf-8")
    assert "(./transfer.png)" in md and "| Economic Values (EV) |" in md


def test_subset_draw() -> None:
    ids = np.arange(100, 130)
    a = draw_subset(ids, 10, seed=1)
    assert len(a) == 10 and list(a) == sorted(a)
    assert list(draw_subset(ids, 10, seed=1)) == list(a)
    assert list(draw_subset(ids, 10, seed=2)) != list(a)
    assert list(draw_subset(ids, 99, seed=1)) == list(ids)
    with pytest.raises(IndieValueError):
        draw_subset(ids, 0, seed=1)


def test_evenness_by_continent(tmp_path_factory: pytest.TempPathFactory,
                               tmp_path: Path) -> None:
    cat_path = analysis_catalog(tmp_path_factory)
    result = evenness_analysis(cat_path, tmp_path, form="refined")
    cat = Catalog.load(cat_path)
    continent = cat.persons["continent"].to_numpy(dtype=object)
    want = evenness_by_group(cat.refined, cat.spec.option_counts("refined"), continent)
    rows = read_csv(tmp_path / "evenness.csv")
    assert [r["continent"] for r in rows] == [*sorted(want), "all persons"]
    for r in rows[:-1]:
        assert float(r["evenness"]) == pytest.approx(want[r["continent"]], abs=1e-4)
        assert int(r["persons"]) == int((continent == r["continent"]).sum())
    assert int(rows[-1]["persons"]) == len(continent)
    assert 0 < float(rows[-1]["evenness"]) <= 1
    assert result.figure.read_bytes().startswith(b"\x89PNG") and result.runs == []
