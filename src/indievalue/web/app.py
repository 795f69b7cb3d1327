"""``indievalue serve``: the elicitation as a local web page (FastAPI; plain HTML + JS, no build
step).

The server keeps no answers. Every request carries the person's answers so far and gets back
the next question, the model's predictions for the unasked questions, the expected accuracy
and the person's place on the culture map; the page holds the answers and builds the survey
row download itself (``POST /api/survey`` only formats what it is sent). A bad request is a
4xx JSON error (``{"detail": ...}``); an unexpected failure a 500 JSON error, never a
traceback.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from indievalue.catalog.spec import COUNTRY_ENTRY, Form
from indievalue.elicit.load import Opened, open_value_model
from indievalue.elicit.scoring import CRITERIA, Criterion
from indievalue.elicit.session import Elicitation, survey_csv
from indievalue.errors import IndieValueError, require

MAP_FIT_PERSONS = 20_000  # training persons the map is fitted on (seeded sample)
MAP_SHOWN_PERSONS = 1_500  # population dots sent to the page
STREAM_MAP = 51
MAX_ANSWERS = 253


class Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    qid: str = Field(max_length=32, description="Question id, e.g. Q1.")
    option: int = Field(ge=0, le=64, description="Index of the chosen statement.")


class State(BaseModel):
    """The person's answers so far (the page's state; the server keeps none)."""

    model_config = ConfigDict(extra="forbid")
    answers: list[Answer] = Field(default_factory=list, max_length=MAX_ANSWERS)
    skipped: list[str] = Field(default_factory=list, max_length=MAX_ANSWERS)


class Population:
    """The culture map and the population drawn on it, computed once at start."""

    def __init__(self, opened: Opened, form: Form):
        from indievalue.valuemodel.embed import country_labels, fit_culture_map

        cat, model = opened.catalog, opened.model
        self.fit = None
        self.payload: dict[str, Any] | None = None
        if "country_code" not in cat.persons:
            return
        rng = np.random.default_rng(STREAM_MAP)
        train = np.flatnonzero(np.isin(cat.person_ids, model.person_ids))
        rows = np.sort(rng.choice(train, min(MAP_FIT_PERSONS, len(train)), replace=False))
        mat = cat.matrix(form)[rows]
        qidx = np.broadcast_to(np.arange(mat.shape[1], dtype=np.int64), mat.shape)
        vectors = model.encode(form, qidx, mat)
        codes = cat.persons["country_code"].fillna(-1).to_numpy(dtype=np.int64)[rows]
        self.fit = fit_culture_map(vectors, codes)
        if self.fit is None:
            return
        xy = self.fit.culture_map.project(vectors)
        shown = rng.permutation(len(rows))[:MAP_SHOWN_PERSONS]
        continents = cat.persons["continent"].to_numpy(dtype=object)[rows] \
            if "continent" in cat.persons else np.full(len(rows), None, dtype=object)
        names = _country_names(cat)
        labels = country_labels()
        from indievalue.valuemodel.embed import IW_AXES, map_view

        (x0, x1), (y0, y1) = map_view(self.fit)
        self.payload = {
            "axes": list(IW_AXES),
            "view": {"x": [round(x0, 3), round(x1, 3)], "y": [round(y0, 3), round(y1, 3)]},
            "r": [round(v, 3) for v in self.fit.r],
            "r_held_out": [round(v, 3) for v in self.fit.r_held_out],
            "persons": [[round(float(xy[i, 0]), 3), round(float(xy[i, 1]), 3),
                         continents[i] if isinstance(continents[i], str) else "unknown"]
                        for i in shown],
            "countries": [{"code": int(c), "label": labels.get(int(c), str(c)),
                           "name": names.get(int(c), str(c)),
                           "x": round(float(m[0]), 3), "y": round(float(m[1]), 3)}
                          for c, m in zip(self.fit.countries, self.fit.means, strict=True)],
        }

    def place(self, vector: np.ndarray | None) -> list[float] | None:
        if self.fit is None or vector is None:
            return None
        xy = self.fit.culture_map.project(vector[None])[0]
        return [round(float(xy[0]), 3), round(float(xy[1]), 3)]


def _country_names(cat: Any) -> dict[int, str]:
    entry = next((d for d in cat.spec.demographics if d.did == COUNTRY_ENTRY), None)
    if entry is None or entry.mapping is None:
        return {}
    return {int(k): str(v) for k, v in entry.mapping.items()}


def _session(opened: Opened, form: Form, criterion: Criterion, state: State) -> Elicitation:
    """Replay the page's answers into a fresh session (a bad one is a 400)."""
    session = Elicitation(opened.scorer, form=form, criterion=criterion)
    for a in state.answers:
        session.answer(a.qid, a.option)
    for q in state.skipped:
        session.skip(q)
    return session


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def step_payload(session: Elicitation, population: Population) -> dict[str, Any]:
    """What the page shows after each answer."""
    question = session.next_question()
    spec = session.spec
    predictions = [
        {"qid": p.qid, "category": spec.category_name(spec.questions[p.index].category),
         "statement": _capital(p.statement), "probability": round(p.confidence, 4)}
        for p in session.predictions()]
    acc = session.expected_accuracy()
    return {
        "answered": session.n_answered,
        "question": None if question is None else {
            "qid": question.qid, "category": question.category,
            "options": [_capital(o) for o in question.options],
            "gain": round(question.gain, 4)},
        "predictions": predictions,
        "expected_accuracy": None if np.isnan(acc) else round(acc, 4),
        "position": population.place(session.person_vector()),
    }


def create_app(catalog: str | Path, model_dir: str | Path, form: str = "refined",
               criterion: str = "information", threads: int = 1) -> Any:
    """The FastAPI app serving the page and its JSON API for one catalog and model."""
    require("fastapi", purpose="indievalue serve", install="'indievalue[serve]'")
    import fastapi
    from fastapi import responses, staticfiles
    if form not in ("polar", "refined"):
        raise IndieValueError(f"form must be polar or refined, not {form!r}")
    if criterion not in CRITERIA:
        raise IndieValueError(f"criterion must be one of {', '.join(CRITERIA)}, not "
                              f"{criterion!r}")
    opened = open_value_model(catalog, model_dir, threads)
    population = Population(opened, form)  # type: ignore[arg-type]
    static = Path(str(resources.files("indievalue.web") / "static"))
    app = fastapi.FastAPI(title="indievalue", docs_url=None, redoc_url=None,
                          openapi_url=None)

    @app.exception_handler(IndieValueError)
    async def user_error(request: Any, exc: IndieValueError) -> Any:
        return responses.JSONResponse({"detail": " ".join(str(exc).split())},
                                      status_code=400)

    @app.exception_handler(Exception)
    async def internal_error(request: Any, exc: Exception) -> Any:
        return responses.JSONResponse({"detail": "internal error"}, status_code=500)

    @app.get("/")
    def index() -> Any:
        return responses.FileResponse(static / "index.html")

    @app.get("/api/info")
    def info() -> dict[str, Any]:
        return {"form": form, "criterion": criterion, "synthetic": opened.catalog.synthetic,
                "questions": len(opened.catalog.spec.questions), "map": population.payload}

    @app.post("/api/step")
    def step(state: State) -> dict[str, Any]:
        session = _session(opened, form, criterion, state)  # type: ignore[arg-type]
        return step_payload(session, population)

    @app.post("/api/survey")
    def survey(state: State) -> Any:
        session = _session(opened, form, criterion, state)  # type: ignore[arg-type]
        return responses.Response(survey_csv(session.survey_row()), media_type="text/csv", headers={
            "Content-Disposition": 'attachment; filename="my-answers.csv"'})

    app.mount("/static", staticfiles.StaticFiles(directory=static), name="static")
    return app
