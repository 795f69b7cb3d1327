"""``indievalue serve``'s API through FastAPI's TestClient: the page, a step per answer, the
download, and 4xx JSON errors for bad requests."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("torch")
pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from _elicit_data import ElicitData, elicit_data
from fastapi.testclient import TestClient

from indievalue.errors import IndieValueError
from indievalue.web.app import create_app


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> ElicitData:
    return elicit_data(tmp_path_factory)


@pytest.fixture(scope="module")
def client(data: ElicitData) -> TestClient:
    return TestClient(create_app(data.catalog, data.model_dir), raise_server_exceptions=False)


def _step(client: TestClient, answers: list[dict[str, Any]], **extra: Any) -> Any:
    r = client.post("/api/step", json={"answers": answers, **extra})
    assert r.status_code == 200, r.text
    return r.json()


def test_page_and_static_files(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert '<script src="/static/app.js">' in page.text
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/static/style.css").status_code == 200
    assert client.get("/static/nothing.js").status_code == 404


def test_info_has_the_culture_map(client: TestClient, data: ElicitData) -> None:
    info = client.get("/api/info").json()
    assert info["form"] == "refined" and info["synthetic"] is True
    assert info["questions"] == len(data.cat.spec.questions)
    m = info["map"]
    assert m["axes"] == ["Traditional ↔ Secular-rational values",
                         "Survival ↔ Self-expression values"]
    assert len(m["countries"]) == 6 and len(m["persons"]) > 100
    assert {c["label"] for c in m["countries"]} >= {"DEU", "USA", "CHN"}


def test_each_answer_moves_the_predictions(client: TestClient, data: ElicitData) -> None:
    person = data.cat.row(int(data.eval_ids[1]))
    answers: list[dict[str, Any]] = []
    first = _step(client, answers)
    assert first["answered"] == 0 and first["question"] is not None
    assert len(first["predictions"]) == len(data.cat.spec.questions)
    seen = [first]
    for _ in range(3):
        q = seen[-1]["question"]
        index = data.cat.spec.index(q["qid"])
        answers.append({"qid": q["qid"], "option": int(data.cat.refined[person, index])})
        seen.append(_step(client, answers))
    last = seen[-1]
    assert last["answered"] == 3
    assert len(last["predictions"]) == len(data.cat.spec.questions) - 3
    assert last["expected_accuracy"] > first["expected_accuracy"]
    assert last["position"] != first["position"] and len(last["position"]) == 2
    probs = {p["qid"]: p["probability"] for p in first["predictions"]}
    assert any(abs(p["probability"] - probs[p["qid"]]) > 0.05 for p in last["predictions"])
    skipped = _step(client, answers, skipped=[last["question"]["qid"]])
    assert skipped["question"]["qid"] != last["question"]["qid"]


def test_download_is_a_survey_row(client: TestClient) -> None:
    r = client.post("/api/survey", json={"answers": [{"qid": "Q1", "option": 1}]})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    header, row = r.text.splitlines()
    cells = dict(zip(header.split(","), row.split(","), strict=True))
    assert cells["Q1"] == "2" and cells["Q2"] == "" and cells["D_INTERVIEW"] == "1"


@pytest.mark.parametrize(("body", "status", "says"), [
    ({"answers": [{"qid": "Q9999", "option": 0}]}, 400, "unknown question"),
    ({"answers": [{"qid": "Q1", "option": 7}]}, 400, "out of range"),
    ({"answers": [{"qid": "Q1", "option": 0}, {"qid": "Q1", "option": 1}]}, 400,
     "already answered"),
    ({"answers": [{"qid": "Q1", "option": -1}]}, 422, ""),
    ({"answers": [{"qid": "Q1"}]}, 422, ""),
    ({"answers": "Q1"}, 422, ""),
    ({"answers": [], "extra": 1}, 422, ""),
    ({"answers": [{"qid": "Q1", "option": 0}] * 300}, 422, ""),
])
def test_bad_requests_are_4xx_json(client: TestClient, body: Any, status: int,
                                   says: str) -> None:
    for path in ("/api/step", "/api/survey"):
        r = client.post(path, json=body)
        assert r.status_code == status, (path, r.text)
        assert r.headers["content-type"] == "application/json"
        assert says in str(r.json()["detail"])
        assert "Traceback" not in r.text
    r = client.post("/api/step", content=b"{not json", headers={"content-type":
                                                                "application/json"})
    assert r.status_code == 422


def test_bad_settings_are_refused(data: ElicitData) -> None:
    with pytest.raises(IndieValueError, match="form"):
        create_app(data.catalog, data.model_dir, form="both")
    with pytest.raises(IndieValueError, match=r"model\.json"):
        create_app(data.catalog, data.catalog)
