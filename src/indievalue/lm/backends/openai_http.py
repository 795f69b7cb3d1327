"""Any OpenAI-compatible chat endpoint, through the ``openai`` client.

Requests run concurrently up to a limit. Rate limits (429), server errors (5xx), timeouts,
connection errors and unreadable responses are retried with exponential backoff and jitter, each
counted by kind; the client's own retries are switched off so every fault is seen and counted.
"""

from __future__ import annotations

import os
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from indievalue.errors import IndieValueError, require
from indievalue.lm.backends.base import (
    BackendStats,
    Completion,
    GenParams,
    Messages,
    OnDone,
    ScoreGroup,
)


class OpenAIBackend:
    name = "openai"

    def __init__(self, model: str, base_url: str | None, api_key_env: str = "OPENAI_API_KEY",
                 concurrency: int = 8, max_attempts: int = 8, timeout: float = 120.0,
                 backoff: float = 1.0, max_backoff: float = 60.0, logprobs: bool = False,
                 price_in: float = 0.0, price_out: float = 0.0, seed: int = 0):
        self.model_id = model
        self.base_url = base_url
        self.api_key_env = api_key_env
        self.concurrency = concurrency
        self.max_attempts = max_attempts
        self.timeout = timeout
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.want_logprobs = logprobs
        self.price_in = price_in  # per million input tokens
        self.price_out = price_out
        self.stats = BackendStats()
        self._client: Any = None
        self._lock = threading.Lock()
        self._jitter = random.Random(seed)

    def _load(self) -> Any:
        if self._client is None:
            (openai,) = require("openai", purpose="the openai predictor",
                                install="'indievalue[lm]'")
            key = os.environ.get(self.api_key_env) or "not-needed"
            self._client = openai.OpenAI(base_url=self.base_url, api_key=key, max_retries=0,
                                         timeout=self.timeout)
        return self._client

    def _classify(self, exc: Exception) -> str | None:
        """Fault kind for a retryable error, None for one that retrying cannot fix."""
        import openai

        if isinstance(exc, openai.RateLimitError):
            return "rate_limit"
        if isinstance(exc, openai.APITimeoutError):
            return "timeout"
        if isinstance(exc, openai.APIConnectionError):
            return "connection"
        if isinstance(exc, openai.APIStatusError):
            return "server_error" if exc.status_code >= 500 else None
        if isinstance(exc, (openai.APIResponseValidationError, ValueError, KeyError,
                            AttributeError, TypeError, IndexError)):
            return "bad_response"
        return None

    def _one(self, messages: Messages, params: GenParams) -> Completion:
        client = self._load()
        kwargs: dict[str, Any] = {
            "model": self.model_id, "messages": messages, "temperature": params.temperature,
            "top_p": params.top_p, "max_tokens": params.max_new_tokens, "seed": params.seed,
        }
        if self.want_logprobs:
            kwargs.update(logprobs=True, top_logprobs=5)
        for attempt in range(self.max_attempts):
            try:
                resp = client.chat.completions.create(**kwargs)
                choice = resp.choices[0]
                text = choice.message.content
                if not isinstance(text, str):
                    raise ValueError("response without text")
                usage = resp.usage
                n_in = int(getattr(usage, "prompt_tokens", 0) or 0)
                n_out = int(getattr(usage, "completion_tokens", 0) or 0)
                logprobs = None
                if self.want_logprobs and getattr(choice, "logprobs", None) is not None:
                    logprobs = [
                        {"token": t.token, "logprob": t.logprob,
                         "top": {x.token: x.logprob for x in (t.top_logprobs or [])}}
                        for t in (choice.logprobs.content or [])
                    ]
                with self._lock:
                    self.stats.requests += 1
                    self.stats.tokens_in += n_in
                    self.stats.tokens_out += n_out
                    self.stats.cost += (n_in * self.price_in + n_out * self.price_out) / 1e6
                return Completion(text, n_in, n_out, logprobs)
            except Exception as exc:
                kind = self._classify(exc)
                if kind is None:
                    status = getattr(exc, "status_code", None)
                    raise IndieValueError(
                        f"openai endpoint refused the request"
                        f"{f' (HTTP {status})' if status else ''}: "
                        f"{str(exc).splitlines()[0][:200]}") from None
                with self._lock:
                    self.stats.fault(kind)
                    delay = min(self.max_backoff, self.backoff * 2**attempt)
                    delay *= 0.5 + self._jitter.random()
                if attempt + 1 < self.max_attempts:  # no pointless wait before giving up
                    time.sleep(delay)
        raise IndieValueError(f"openai endpoint: giving up after {self.max_attempts} attempts "
                              f"(faults so far: {self.stats.faults})")

    def generate(self, prompts: list[Messages], params: GenParams,
                 on_done: OnDone | None = None) -> list[Completion]:
        def one(i: int) -> Completion:
            comp = self._one(prompts[i], params)
            if on_done is not None:
                on_done(i, comp)
            return comp

        if len(prompts) == 1 or self.concurrency <= 1:
            return [one(i) for i in range(len(prompts))]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(prompts))) as pool:
            return list(pool.map(one, range(len(prompts))))

    def score(self, prompt: Messages, groups: list[ScoreGroup]) -> list[list[float]]:
        raise IndieValueError("the openai backend cannot score option text (chat endpoints do "
                              "not return prompt log-probabilities); use mode=generate, or the "
                              "hf or vllm predictor for mode=loglik")
