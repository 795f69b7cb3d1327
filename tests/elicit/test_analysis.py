"""``indievalue analyze elicitation`` and ``indievalue ask``: outputs, stored orders, reuse,
refusals, and the terminal session end to end."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("torch")

from _elicit_data import ElicitData, elicit_data

from indievalue.analyses import elicitation as analysis
from indievalue.benchmark.setups import probe_setups
from indievalue.catalog.store import Catalog
from indievalue.errors import IndieValueError

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "analyses"))
from _analysis_catalog import EVAL_SIZE, analysis_catalog

TINY = ["--option", "epochs=1", "--option", "dim=4", "--option", "hidden=16",
        "--option", "pool_size=300", "--option", "calibrate=false"]


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> ElicitData:
    return elicit_data(tmp_path_factory)


def test_analysis_outputs_orders_and_reuse(cli: Any, tmp_path_factory: pytest.TempPathFactory,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    catalog = analysis_catalog(tmp_path_factory)
    out = tmp_path_factory.mktemp("elicitation") / "out"
    args = ["analyze", "elicitation", "--catalog", catalog, "--out", out, *TINY,
            "--persons", "3", "--max-k", "3", "--form", "polar", "--static-persons", "5",
            "--eval-size", str(EVAL_SIZE)]
    res = cli(*args)
    assert res.code == 0, res.stderr
    assert "figure:" in res.stdout and "SYNTHETIC" in res.stdout + res.stderr
    for name in ("elicitation.png", "elicitation.md", "elicitation.csv", "eval_ids.txt",
                 "elicitation_ids.txt", "orders/polar-static.csv"):
        assert (out / name).is_file(), name
    curve = pd.read_csv(out / "elicitation.csv")
    assert set(curve["policy"]) == {"adaptive", "static", "random"}
    assert sorted(set(curve["k"])) == [1, 2, 3] and (curve["persons"] == 3).all()
    assert curve["mean"].between(0, 100).all() and (curve["lo"] <= curve["hi"]).all()
    cat = Catalog.load(catalog)
    persons = [int(x) for x in (out / "elicitation_ids.txt").read_text().split()]
    for setup in probe_setups(cat.spec):
        order = pd.read_csv(out / "orders" / f"polar-setup{setup.index}-adaptive.csv")
        assert order["person_id"].tolist() == persons
        asked = order[["q1", "q2", "q3"]].to_numpy()
        assert not set(asked.ravel()) & set(setup.qids)  # never a probe
        assert all(len(set(row)) == 3 for row in asked)
    # a rerun with the same settings reuses the stored orders
    monkeypatch.setattr(analysis, "adaptive_orders", _fail)
    monkeypatch.setattr(analysis, "static_greedy_order", _fail)
    assert cli(*args).code == 0
    # other settings are refused
    res = cli(*args[:-4], "--eval-size", str(EVAL_SIZE), "--max-k", "4")
    assert res.code == 2 and "other settings" in res.stderr and res.stderr.count("\n") == 1


def _fail(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("recomputed an order that was stored")


def test_bad_analysis_arguments(cli: Any, tmp_path: Path, data: ElicitData,
                                tmp_path_factory: pytest.TempPathFactory) -> None:
    res = cli("analyze", "elicitation", "--catalog", data.catalog, "--out", tmp_path / "o",
              "--form", "sideways")
    assert res.code == 2 and "--form" in res.stderr
    # a model that cannot be loaded fails before anything is written
    res = cli("analyze", "elicitation", "--catalog", analysis_catalog(tmp_path_factory),
              "--out", tmp_path / "o", "--option", f"model_dir={tmp_path}",
              "--eval-size", str(EVAL_SIZE))
    assert res.code == 2 and "model.json" in res.stderr
    assert not (tmp_path / "o").exists()
    with pytest.raises(IndieValueError, match="criterion"):
        analysis.elicitation_analysis(data.catalog, tmp_path / "o", criterion="nice")  # type: ignore[arg-type]


def test_questions_to_match() -> None:
    adaptive = np.array([[0.5, 0.6, 0.7], [0.5, 0.8, 0.9]])  # mean 50, 70, 80 %
    assert analysis.questions_to_match(adaptive, 70.0) == 2
    assert analysis.questions_to_match(adaptive, 95.0) is None


def test_ask_in_the_terminal(cli: Any, data: ElicitData, tmp_path: Path,
                             monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    # only answers 1 and 2, which every question has
    monkeypatch.setattr(sys, "stdin", io.StringIO("1\nx\ns\n2\nu\n2\n1\nq\n"))
    save = tmp_path / "me.csv"
    res = cli("ask", "--catalog", data.catalog, "--model", data.model_dir, "--save", save)
    assert res.code == 0, res.stderr
    assert res.stdout.count("Which statement fits you best?") >= 5
    assert "Expected accuracy on the" in res.stdout and "%" in res.stdout
    assert "answer with a number" in res.stderr
    header, row = save.read_text().splitlines()
    cells = dict(zip(header.split(","), row.split(","), strict=True))
    assert sum(v != "" for k, v in cells.items() if k.startswith("Q")) == 3  # 1, 2, 1 kept
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))  # end of input = quit
    res = cli("ask", "--catalog", data.catalog, "--model", data.model_dir, "--max", "2",
              "--form", "polar")
    assert res.code == 0
    res = cli("ask", "--catalog", data.catalog, "--model", data.model_dir, "--save",
              tmp_path / "me.txt")
    assert res.code == 2 and res.stderr.startswith("error:") and ".csv" in res.stderr
    res = cli("ask", "--catalog", data.catalog, "--model", tmp_path)
    assert res.code == 2 and "model.json" in res.stderr
