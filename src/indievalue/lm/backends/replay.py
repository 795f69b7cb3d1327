"""A backend that asks no model: it returns the answers another route already recorded.

An Inspect eval log or a Batch API result file holds, for each episode, the text the model
wrote. Read back into a :class:`ReplayBackend`, those texts go through the same LM predictor,
parser and ``evaluate`` as a live run, so the run directory is made by the one evaluation path.

Answers are looked up by :func:`answer_key`: a hash of the exact prompt messages and decoding
parameters, so an answer is only ever used for the prompt it was given to. A prompt with no
recorded answer gets an empty text and is counted (``stats.faults``); the predictor turns a
first attempt without an answer into the ``error`` status, never a silent drop.
"""

from __future__ import annotations

from collections.abc import Mapping

from indievalue.errors import IndieValueError
from indievalue.lm.backends.base import (
    BackendStats,
    Completion,
    GenParams,
    Messages,
    OnDone,
    ScoreGroup,
)
from indievalue.lm.cache import cache_key

NO_ANSWER = "no_recorded_answer"


def answer_key(messages: Messages, params: GenParams) -> str:
    """The lookup key of one recorded answer: the prompt and the decoding parameters."""
    return cache_key("replay", "", params.key(), messages)


class ReplayBackend:
    """Recorded completions served by :func:`answer_key` (``model_id``: the model that wrote
    them, as the source names it)."""

    name = "replay"

    def __init__(self, answers: Mapping[str, Completion], model: str = ""):
        self.model_id = model
        self.answers = answers
        self.stats = BackendStats()

    def has(self, messages: Messages, params: GenParams) -> bool:
        return answer_key(messages, params) in self.answers

    def generate(self, prompts: list[Messages], params: GenParams,
                 on_done: OnDone | None = None) -> list[Completion]:
        out = []
        for i, messages in enumerate(prompts):
            comp = self.answers.get(answer_key(messages, params))
            if comp is None:
                self.stats.fault(NO_ANSWER)
                comp = Completion("")
            else:
                self.stats.requests += 1
                self.stats.tokens_in += comp.tokens_in
                self.stats.tokens_out += comp.tokens_out
            if on_done is not None:
                on_done(i, comp)
            out.append(comp)
        return out

    def score(self, prompt: Messages, groups: list[ScoreGroup]) -> list[list[float]]:
        raise IndieValueError("recorded answers are text: a replayed run scores in generate "
                              "mode only")
