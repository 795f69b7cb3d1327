"""What a language-model backend offers: chat generation and option scoring."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

Messages = list[dict[str, str]]


@dataclass(frozen=True)
class GenParams:
    """Decoding parameters; part of every cache key."""

    temperature: float = 0.0
    top_p: float = 1.0
    max_new_tokens: int = 256
    seed: int = 0

    def key(self) -> dict[str, Any]:
        return {"temperature": self.temperature, "top_p": self.top_p,
                "max_new_tokens": self.max_new_tokens, "seed": self.seed}


@dataclass(frozen=True)
class Completion:
    text: str
    tokens_in: int = 0
    tokens_out: int = 0
    logprobs: list[dict[str, Any]] | None = None

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "tokens_in": self.tokens_in, "tokens_out": self.tokens_out,
                "logprobs": self.logprobs}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Completion:
        return cls(d["text"], d.get("tokens_in", 0), d.get("tokens_out", 0), d.get("logprobs"))


@dataclass(frozen=True)
class ScoreGroup:
    """Continuations to score after the prompt (and an optional assistant-side prefix)."""

    prefix: str
    options: list[str]


@dataclass
class BackendStats:
    """Counters a backend keeps while it runs (faults survived, tokens, cost)."""

    requests: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost: float = 0.0
    faults: dict[str, int] = field(default_factory=dict)

    def fault(self, kind: str) -> None:
        self.faults[kind] = self.faults.get(kind, 0) + 1


# Called with (index in the request list, completion) as soon as each completion arrives, so
# the caller can cache it before the rest of the batch is done (a killed run loses nothing paid).
OnDone = Callable[[int, "Completion"], None]


class Backend(Protocol):
    name: str
    model_id: str
    stats: BackendStats

    def generate(self, prompts: list[Messages], params: GenParams,
                 on_done: OnDone | None = None) -> list[Completion]:
        """One completion per conversation (the backend applies the chat template);
        ``on_done`` sees each completion as it arrives."""

    def score(self, prompt: Messages, groups: list[ScoreGroup]) -> list[list[float]]:
        """Summed log-probability of each option of each group after the prompt, with one
        pass over the prompt for all of them."""
