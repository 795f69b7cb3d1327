"""The ``replay`` predictor: an LM predictor whose answers were recorded elsewhere (an Inspect
eval log, a Batch API result file) and are read back instead of asked for.

It renders prompts, picks decoding parameters, resamples unparsable answers and parses exactly
as the other LM predictors do (it *is* one, with a :class:`ReplayBackend`), so an imported
run's records equal a live run's whenever the recorded texts equal the live ones. It is not in
the predictor registry: it only makes sense with the answers an importer hands it
(:mod:`indievalue.lm.plan`), and ``spec.json`` names it ``replay`` with the source file, the
route and the model among its options.

An episode whose first attempt has no recorded answer is recorded with status ``error``
(prediction -1, empty response, 0 attempts) and counted in ``lm_stats.json`` as
``no_recorded_answer``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import ClassVar, Literal

import numpy as np
from pydantic import Field

from indievalue.benchmark.episodes import Episodes
from indievalue.lm.backends.base import Backend, Completion, GenParams
from indievalue.lm.backends.replay import NO_ANSWER, ReplayBackend
from indievalue.lm.predictors import LMOptions, LMPredictor
from indievalue.lm.prompts import PromptTemplates
from indievalue.predictors.base import Predictions, PredictorOptions, PredictorStats

#: The LM options that decide what a model is asked and how it decodes (what the Inspect task
#: takes as arguments and the batch export writes into its requests).
PROMPT_FIELDS = ("prompt_template", "system_prompt", "temperature", "top_p", "max_new_tokens",
                 "retries", "retry_temperature")

Route = Literal["inspect", "batch"]


class ReplayOptions(LMOptions):
    model: str = Field(default="", description="The model that wrote the answers, as the "
                       "source names it (e.g. an Inspect model name).")
    mode: Literal["generate"] = Field(default="generate",
                                      description="Recorded answers are text.")
    cache: Literal["off"] = Field(default="off",
                                  description="Nothing to cache: nothing is asked.")
    route: Route | None = Field(default=None, description="Where the answers came from.")
    source: str | None = Field(default=None, description="The file the answers were read "
                               "from (an Inspect eval log or a Batch API result file).")


class ReplayPredictor(LMPredictor):
    """Answers from ``answers`` (by :func:`~indievalue.lm.backends.replay.answer_key`);
    ``templates`` replaces reading ``prompt_template`` (the text recorded with the source)."""

    name: ClassVar[str] = "replay"
    Options: ClassVar[type[PredictorOptions]] = ReplayOptions
    options: ReplayOptions

    def __init__(self, options: PredictorOptions | None = None, *, seed: int = 0,
                 answers: Mapping[str, Completion] | None = None,
                 templates: PromptTemplates | None = None):
        super().__init__(options if options is not None else ReplayOptions.model_validate({}),
                         seed=seed)
        self.answers: Mapping[str, Completion] = answers or {}
        self._templates = templates

    def make_backend(self) -> Backend:
        return ReplayBackend(self.answers, self.options.model)

    def stats(self) -> PredictorStats:
        return replace(super().stats(), cache_hits=0, cache_misses=0)  # no cache: nothing asked

    def attempt_params(self, eps: Episodes, attempt: int) -> GenParams:
        """Decoding parameters of attempt ``attempt`` (0: the first answer, then retries)."""
        return self._params(eps, attempt)

    def predict(self, episodes: Episodes) -> Predictions:
        backend = self.backend
        assert isinstance(backend, ReplayBackend)
        first = self._params(episodes, 0)
        have = np.array([backend.has(self.messages(episodes, e), first)
                         for e in range(len(episodes))], dtype=bool)
        if have.all():
            return super().predict(episodes)
        n_missing = int((~have).sum())
        for _ in range(n_missing):
            backend.stats.fault(NO_ANSWER)
        m = episodes.probe_qidx.shape[1]
        choices = np.full((len(episodes), m), -1, dtype=np.int64)
        status = np.full((len(episodes), m), "error", dtype=object)
        extras: list[dict[str, object]] = [{"response": "", "attempts": 0}
                                           for _ in range(len(episodes))]
        rows = np.flatnonzero(have)
        if len(rows):
            part = super().predict(episodes.subset(rows))
            choices[rows] = part.choices
            status[rows] = part.status if part.status is not None else "ok"
            for r, extra in zip(rows, part.extras or [{}] * len(rows), strict=True):
                extras[int(r)] = extra
        return Predictions(choices, status=status.astype(str), extras=extras)
