"""What a language model is asked in an evaluation, planned without asking it; and the way
answers recorded elsewhere come back into a run directory.

:func:`make_plan` builds the eval set, the setups and the episodes with the same calls, in the
same order, as :func:`indievalue.runs.evaluate.evaluate` for the same configuration and
catalog, and renders each episode's prompt and decoding parameters with the LM predictor's own
code. The Inspect task's samples, the batch requests and a native run therefore ask the same
questions in the same words.

:class:`PlanFile` freezes what identifies a plan (catalog hash, settings, eval persons, prompt
templates) into the Inspect task's metadata or the batch export's manifest.
:func:`import_answers` reads it back, rebuilds the plan and runs the ``replay`` predictor over
the recorded answers through ``evaluate``: spec, records, summary, resume all come from the one
evaluation path. The file the answers came from is named in the run's options and, with its
sha256 and what could not be used, in ``spec.json``'s provenance (``provenance.source``).
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from indievalue import __version__
from indievalue.benchmark.episodes import EpisodeSet
from indievalue.benchmark.evalset import write_eval_ids
from indievalue.catalog.build import file_sha256
from indievalue.catalog.store import Catalog
from indievalue.errors import IndieValueError
from indievalue.lm.backends.base import Completion, GenParams, Messages
from indievalue.lm.backends.replay import answer_key
from indievalue.lm.prompts import PromptTemplates
from indievalue.lm.replay import PROMPT_FIELDS, ReplayOptions, ReplayPredictor, Route
from indievalue.runs.config import EvalConfig, EvalSettings, draw_eval_set, episode_sets
from indievalue.runs.evaluate import Progress, evaluate
from indievalue.runs.files import Provenance, read_spec_file, write_spec_file
from indievalue.runs.records import episode_number

PLAN_FORMAT: Literal["indievalue-lm-plan"] = "indievalue-lm-plan"


class EpisodeKey(NamedTuple):
    """An episode as records name it: person, setup and episode number (protocol A: 0;
    B: the probe's question index)."""

    person_id: int
    setup: int
    episode: int

    @property
    def text(self) -> str:
        """``p<person>-s<setup>-e<episode>``: an Inspect sample id, the tail of a batch id."""
        return f"p{self.person_id}-s{self.setup}-e{self.episode}"

    @classmethod
    def parse(cls, text: str) -> EpisodeKey | None:
        parts = text.split("-")
        if len(parts) != 3 or [p[:1] for p in parts] != ["p", "s", "e"] \
                or not all(p[1:].isdigit() for p in parts):
            return None
        return cls(int(parts[0][1:]), int(parts[1][1:]), int(parts[2][1:]))


@dataclass(frozen=True)
class PlannedEpisode:
    """One episode's prompt, its probes (question ids and option texts) and, for scorers
    outside indievalue only, the gold answers (option indices; -1: none)."""

    key: EpisodeKey
    protocol: Literal["A", "B"]
    messages: Messages
    questions: list[str]
    options: list[list[str]]
    gold: list[int]


class Templates(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    a: str = Field(description="Protocol A template.")
    b: str = Field(description="Protocol B template.")


class PlanFile(BaseModel):
    """What identifies a plan: written into the Inspect task's metadata and beside batch
    requests, read back by the importers."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: Literal["indievalue-lm-plan"] = Field(default=PLAN_FORMAT,
                                                  description="File kind.")
    format_version: Literal[1] = Field(default=1, description="Format of this object.")
    catalog: str = Field(description="Path of the catalog the plan was made on.")
    catalog_hash: str = Field(description="Content hash of that catalog.")
    settings: EvalSettings = Field(description="Protocol settings; predictor 'replay' with "
                                   "the prompt and decoding options.")
    eval_ids: list[int] = Field(description="The eval persons, in order.")
    model: str = Field(default="", description="Model named in batch requests ('' for "
                       "Inspect, where the eval log names it).")
    templates: Templates = Field(description="The prompt templates the prompts were rendered "
                                 "with (built-in or from prompt_template).")
    indievalue_version: str = Field(description="Version that made the plan.")

    @property
    def digest(self) -> str:
        """12 hex digits identifying what is asked (the catalog's path and the version that
        wrote the plan aside)."""
        core = self.model_dump(mode="json", exclude={"catalog", "indievalue_version"})
        blob = json.dumps(core, sort_keys=True, ensure_ascii=False).encode("utf-8")
        return hashlib.sha256(blob).hexdigest()[:12]


def parse_plan_file(data: Any, where: str) -> PlanFile:
    """A :class:`PlanFile` from parsed JSON, or one error line naming ``where``."""
    if not isinstance(data, dict) or data.get("format") != PLAN_FORMAT:
        raise IndieValueError(f"{where}: not an indievalue LM plan (no format "
                              f"{PLAN_FORMAT!r})")
    try:
        return PlanFile.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise IndieValueError(f"{where}: {loc}: {first['msg']}") from None


def replay_options(options: Mapping[str, Any], where: str = "option") -> ReplayOptions:
    try:
        return ReplayOptions.model_validate(dict(options))
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"]) or "options"
        raise IndieValueError(f"{where} {loc}: {first['msg']}") from None


@dataclass
class Plan:
    """The episodes of an evaluation and how each is put to a model."""

    catalog: Catalog
    config: EvalConfig
    renderer: ReplayPredictor
    eval_ids: np.ndarray
    sets: list[EpisodeSet]

    @property
    def protocol(self) -> Literal["A", "B"]:
        return self.config.protocol

    @property
    def n_attempts(self) -> int:
        """First answer plus retries."""
        return self.renderer.options.retries + 1

    def params(self, attempt: int) -> GenParams:
        return self.renderer.attempt_params(self.sets[0].episodes, attempt)

    def __len__(self) -> int:
        return sum(len(es.episodes) for es in self.sets)

    def episodes(self) -> Iterator[PlannedEpisode]:
        """Every episode, in the order ``evaluate`` runs them (setup, then person)."""
        for es in self.sets:
            eps = es.episodes
            questions = eps.spec.questions
            for e in range(len(eps)):
                m = eps.probe_qidx.shape[1]
                yield PlannedEpisode(
                    key=EpisodeKey(int(eps.person_ids[e]), int(eps.setup),
                                   episode_number(eps, e)),
                    protocol=eps.protocol,
                    messages=self.renderer.messages(eps, e),
                    questions=[questions[int(q)].qid for q in eps.probe_qidx[e]],
                    options=[eps.option_texts(e, j) for j in range(m)],
                    gold=[int(g) for g in es.gold[e]],
                )

    def file(self, model: str = "") -> PlanFile:
        t = self.renderer.templates
        options = self.renderer.options.model_dump(mode="json", include=set(PROMPT_FIELDS))
        settings = EvalSettings.model_validate(
            {**self.config.settings(), "predictor": ReplayPredictor.name,
             "predictor_options": options})
        return PlanFile(catalog=str(self.catalog.path), catalog_hash=self.catalog.content_hash,
                        settings=settings, eval_ids=[int(i) for i in self.eval_ids],
                        model=model, templates=Templates(a=t.a, b=t.b),
                        indievalue_version=__version__)


def make_plan(catalog: Catalog, config: EvalConfig,
              templates: PromptTemplates | None = None) -> Plan:
    """The plan of ``config`` on ``catalog``; ``config.predictor_options`` are the replay
    predictor's (prompt and decoding options, optionally model/route/source). ``templates``
    replaces reading ``prompt_template`` (the text a plan file recorded)."""
    options = replay_options(config.predictor_options)
    renderer = ReplayPredictor(options, seed=config.seed, templates=templates)
    _ = renderer.templates  # a bad prompt_template fails here, before anything is written
    catalog.check()
    evalset = draw_eval_set(catalog, config)
    sets = episode_sets(catalog, evalset.person_ids, config)
    return Plan(catalog, config, renderer, np.asarray(evalset.person_ids, dtype=np.int64), sets)


# -- answers recorded elsewhere, back into a run directory ------------------------------------

@dataclass
class Recorded:
    """Answers read from a source file, before they meet the plan.

    ``answers[key]``: the texts of an episode's attempts with the decoding parameters each was
    asked with (None: the plan's first-attempt parameters). ``prompts[key]``: the prompt the
    source says it asked (checked against the plan when given). ``unused``: items of the
    source that could not be used, by kind.
    ``unknown``: what to do with an answer for an episode the plan does not have — refuse the
    source (an Inspect log: it is another evaluation's) or count it (a batch result line).
    """

    plan_file: PlanFile
    route: Route
    source: Path
    model: str
    answers: dict[EpisodeKey, list[tuple[GenParams | None, Completion]]]
    prompts: dict[EpisodeKey, Messages] = field(default_factory=dict)
    unused: dict[str, int] = field(default_factory=dict)
    unknown: Literal["refuse", "count"] = "refuse"
    details: dict[str, Any] = field(default_factory=dict)
    item: str = "answer"  # what one unit of the source is called in messages


@dataclass(frozen=True)
class ImportResult:
    summary: dict[str, Any]
    episodes: int
    answered: int
    unused: dict[str, int]

    @property
    def missing(self) -> int:
        """Episodes without a recorded answer (recorded with status error)."""
        return self.episodes - self.answered


def _catalog_of(rec: Recorded, catalog: str | Path | None) -> Catalog:
    path = Path(catalog) if catalog is not None else Path(rec.plan_file.catalog)
    if not path.is_dir():
        raise IndieValueError(f"{rec.source}: made on the catalog {path}, which is not there; "
                              "give --catalog")
    cat = Catalog.load(path)
    if cat.content_hash != rec.plan_file.catalog_hash:
        raise IndieValueError(f"{rec.source}: made on catalog {rec.plan_file.catalog_hash}, "
                              f"but {path} holds catalog {cat.content_hash}")
    return cat


def import_answers(rec: Recorded, out: str | Path, *, catalog: str | Path | None = None,
                   progress: Progress | None = None) -> ImportResult:
    """Make (or resume) the run directory ``out`` from recorded answers. The source is refused
    with one line, before anything is written, when it was made on another catalog or its
    prompts are not the ones this plan renders."""
    cat = _catalog_of(rec, catalog)
    pf = rec.plan_file
    with tempfile.TemporaryDirectory(prefix="indievalue-import-") as tmp:
        ids_file = Path(tmp) / "eval_ids.txt"
        write_eval_ids(ids_file, np.asarray(pf.eval_ids, dtype=np.int64))
        options = {**pf.settings.predictor_options, "model": rec.model, "route": rec.route,
                   "source": str(rec.source.resolve())}
        config = EvalConfig.model_validate({**pf.settings.settings(), "predictor_options":
                                            options, "eval_ids_file": ids_file})
        templates = PromptTemplates(pf.templates.a, pf.templates.b)
        plan = make_plan(cat, config, templates=templates)
        planned = {ep.key: ep for ep in plan.episodes()}
        unused = dict(rec.unused)
        for key in list(rec.answers):
            if key not in planned:
                if rec.unknown == "refuse":
                    raise IndieValueError(f"{rec.source}: {rec.item} {key.text} is not an "
                                          "episode of the evaluation it names")
                unused["foreign"] = unused.get("foreign", 0) + 1
                del rec.answers[key]
        for key, asked in rec.prompts.items():
            if key in planned and asked != planned[key].messages:
                raise IndieValueError(f"{rec.source}: the prompt of {rec.item} {key.text} "
                                      "differs from the one indievalue renders for it (made "
                                      "with another version or an edited plan)")
        first = plan.params(0)
        answers = {answer_key(planned[key].messages, params or first): comp
                   for key, attempts in rec.answers.items() for params, comp in attempts}
        pred = ReplayPredictor(replay_options(options), seed=config.seed, answers=answers,
                               templates=templates)
        summary = evaluate(cat, config, out, predictor=pred, progress=progress,
                           label=f"{rec.model or 'unknown model'} ({rec.route})")
    result = ImportResult(summary, len(planned), len(rec.answers), unused)
    _record_source(Path(out), rec, result)
    return result


def _record_source(out: Path, rec: Recorded, result: ImportResult) -> None:
    """Name the source in ``spec.json``'s provenance (recorded, never compared)."""
    spec_file = read_spec_file(out)
    source = {"route": rec.route, "file": str(rec.source.resolve()),
              "sha256": file_sha256(rec.source), "model": rec.model,
              "plan_digest": rec.plan_file.digest, "episodes": result.episodes,
              "answered": result.answered, "unused": result.unused, **rec.details}
    provenance = Provenance.model_validate({**spec_file.provenance.model_dump(),
                                            "source": source})
    write_spec_file(out, spec_file.model_copy(update={"provenance": provenance}))
