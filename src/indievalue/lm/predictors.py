"""Language-model predictors: ``hf`` (local transformers), ``openai`` (any OpenAI-compatible
endpoint) and ``vllm`` (offline engine on GPU machines).

Scoring modes, declared by the ``mode`` option:

- ``generate``: the model writes an answer that is parsed. Protocol A answers map to probes by
  their NSG key. An unparsable answer is resampled at ``retry_temperature`` at most ``retries``
  times (each retry seeded differently and cached); what is still missing is a parse failure —
  scored wrong and counted separately. The raw text is kept in the records.
- ``loglik``: each option's text is scored after the prompt with one pass over the prompt
  (its KV cache is reused for every option); the option probabilities go into the records.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from indievalue.benchmark.episodes import Episodes
from indievalue.lm.backends.base import Backend, Completion, GenParams, Messages, ScoreGroup
from indievalue.lm.cache import ResponseCache, cache_key, default_cache_path
from indievalue.lm.parsing import parse_protocol_a, parse_protocol_b
from indievalue.lm.prompts import PromptTemplates, fill, known_block, nsg_block, option_lines
from indievalue.predictors.base import (
    Predictions,
    Predictor,
    PredictorOptions,
    PredictorStats,
    empty_probs,
    register_predictor,
)

DEFAULT_MAX_NEW_TOKENS = {"A": 4096, "B": 64}


class LMOptions(PredictorOptions):
    model: str = Field(description="Model: a local directory or .gguf file (hf), an endpoint "
                       "model name (openai), or a path / hub id already on disk (vllm).")
    mode: Literal["generate", "loglik"] = Field("generate", description="Scoring mode.")
    prompt_template: str | None = Field(
        None, description="File with an exact prompt template ({known_statements}, "
        "{probe_statements}).")
    system_prompt: str | None = Field(None, description="Optional system message.")
    temperature: float = Field(0.0, ge=0.0, le=2.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    max_new_tokens: int | None = Field(
        None, ge=1, description="Generation limit (default 4096 for protocol A, 64 for B).")
    retries: int = Field(3, ge=0, le=10, description="Resamples of an unparsable answer.")
    retry_temperature: float = Field(0.6, ge=0.0, le=2.0)
    cache: str = Field("default", description="Response cache: 'default' (user cache dir), "
                       "'off', or a SQLite file path.")
    batch_size: int = Field(8, ge=1, le=4096, description="Episodes per predict call.")


class LMPredictor(Predictor):
    """Shared logic; subclasses build their backend."""

    Options: ClassVar[type[PredictorOptions]] = LMOptions
    options: LMOptions
    gives_probabilities = False  # only in loglik mode; records carry probs when present

    def __init__(self, options: PredictorOptions | None = None, *, seed: int = 0):
        super().__init__(options, seed=seed)
        self._backend: Backend | None = None
        self._cache: ResponseCache | None = None
        self._templates: PromptTemplates | None = None
        self.retries_used = 0
        self.parse_failures = 0

    # -- pieces built on first use ---------------------------------------------------------
    def make_backend(self) -> Backend:
        raise NotImplementedError

    @property
    def backend(self) -> Backend:
        if self._backend is None:
            self._backend = self.make_backend()
        return self._backend

    @property
    def cache(self) -> ResponseCache:
        if self._cache is None:
            spec = self.options.cache
            path = None if spec == "off" else default_cache_path() if spec == "default" \
                else Path(spec)
            self._cache = ResponseCache(path)
        return self._cache

    @property
    def templates(self) -> PromptTemplates:
        if self._templates is None:
            self._templates = PromptTemplates.from_file(self.options.prompt_template)
        return self._templates

    @property
    def batch_size(self) -> int:
        return self.options.batch_size

    def stats(self) -> PredictorStats:
        b = self.backend.stats if self._backend is not None else None
        return PredictorStats(
            cache_hits=self.cache.hits if self._cache else 0,
            cache_misses=self.cache.misses if self._cache else 0,
            retries=self.retries_used,
            parse_failures=self.parse_failures,
            requests=b.requests if b else 0,
            tokens_in=b.tokens_in if b else 0,
            tokens_out=b.tokens_out if b else 0,
            cost=round(b.cost, 6) if b else 0.0,
            faults=dict(b.faults) if b else {},
        )

    # -- prompts ---------------------------------------------------------------------------
    def messages(self, eps: Episodes, e: int) -> Messages:
        known = known_block(eps.demonstration_lines(e), eps.protocol)
        if eps.protocol == "A":
            groups = [eps.option_texts(e, j) for j in range(eps.probe_qidx.shape[1])]
            text = fill(self.templates.a, known, nsg_block(groups))
        else:
            text = fill(self.templates.b, known, option_lines(eps.option_texts(e, 0)))
        msgs: Messages = []
        if self.options.system_prompt:
            msgs.append({"role": "system", "content": self.options.system_prompt})
        msgs.append({"role": "user", "content": text})
        return msgs

    def _params(self, eps: Episodes, attempt: int) -> GenParams:
        limit = self.options.max_new_tokens or DEFAULT_MAX_NEW_TOKENS[eps.protocol]
        temp = self.options.temperature if attempt == 0 else self.options.retry_temperature
        return GenParams(temperature=temp, top_p=self.options.top_p, max_new_tokens=limit,
                         seed=self.seed * 1000 + attempt)

    def _key(self, kind: str, params: dict[str, Any], prompt: Any) -> str:
        return cache_key(f"{self.name}:{kind}", self.options.model, params, prompt)

    def _complete(self, prompts: list[Messages], params: GenParams) -> list[Completion]:
        keys = [self._key("generate", params.key(), m) for m in prompts]
        found = [self.cache.get(k) for k in keys]
        todo = [i for i, f in enumerate(found) if f is None]
        if todo:
            def store(k: int, comp: Completion) -> None:  # as each arrives, not per batch
                self.cache.put(keys[todo[k]], comp.to_json())

            fresh = self.backend.generate([prompts[i] for i in todo], params, on_done=store)
            for i, comp in zip(todo, fresh, strict=True):
                found[i] = comp.to_json()
        return [Completion.from_json(f) for f in found]  # type: ignore[arg-type]

    # -- predict ---------------------------------------------------------------------------
    def predict(self, episodes: Episodes) -> Predictions:
        if self.options.mode == "loglik":
            return self._predict_loglik(episodes)
        return self._predict_generate(episodes)

    def _parse(self, eps: Episodes, e: int, text: str) -> list[int]:
        m = eps.probe_qidx.shape[1]
        if eps.protocol == "A":
            n_opt = [int(x) for x in eps.n_options[e]]
            return parse_protocol_a(text, n_opt).choices
        return [parse_protocol_b(text, eps.option_texts(e, 0))] * m

    def _predict_generate(self, eps: Episodes) -> Predictions:
        prompts = [self.messages(eps, e) for e in range(len(eps))]
        m = eps.probe_qidx.shape[1]
        choices = np.full((len(eps), m), -1, dtype=np.int64)
        best = [-1] * len(eps)
        texts = [""] * len(eps)
        attempts = [0] * len(eps)
        pending = list(range(len(eps)))
        for attempt in range(self.options.retries + 1):
            if not pending:
                break
            if attempt:
                self.retries_used += len(pending)
            comps = self._complete([prompts[e] for e in pending], self._params(eps, attempt))
            still = []
            for e, comp in zip(pending, comps, strict=True):
                parsed = self._parse(eps, e, comp.text)
                n_ok = sum(c >= 0 for c in parsed)
                attempts[e] = attempt + 1
                if n_ok > best[e]:  # keep the most complete answer seen
                    best[e], choices[e], texts[e] = n_ok, parsed, comp.text
                if n_ok < m:
                    still.append(e)
            pending = still
        status = np.where(choices >= 0, "ok", "parse_failure")
        self.parse_failures += int((choices < 0).sum())
        extras = [{"response": texts[e], "attempts": attempts[e]} for e in range(len(eps))]
        return Predictions(choices, status=status, extras=extras)

    def _predict_loglik(self, eps: Episodes) -> Predictions:
        m = eps.probe_qidx.shape[1]
        probs = empty_probs(eps)
        for e in range(len(eps)):
            prompt = self.messages(eps, e)
            groups = []
            for j in range(m):
                opts = eps.option_texts(e, j)
                if eps.protocol == "A":
                    g = j + 1
                    groups.append(ScoreGroup(f'{{"NSG{g}": {{"choice": "',
                                             [f'NSG{g}_s{k}"' for k in range(1, len(opts) + 1)]))
                else:
                    groups.append(ScoreGroup("", [f"Option {k}: {t}"
                                                  for k, t in enumerate(opts, 1)]))
            key = self._key("loglik", {}, {"prompt": prompt,
                                           "groups": [[g.prefix, g.options] for g in groups]})
            scores = self.cache.get(key)
            if scores is None:
                scores = self.backend.score(prompt, groups)
                self.cache.put(key, scores)
            for j, s in enumerate(scores):
                lp = np.asarray(s, dtype=np.float64)
                p = np.exp(lp - lp.max())
                probs[e, j, : len(p)] = p / p.sum()
        filled = np.where(np.isnan(probs), -1.0, probs)
        return Predictions(filled.argmax(axis=-1), probs=probs)


class HFOptions(LMOptions):
    device: str = Field("auto", description="'auto', 'cpu', 'cuda', 'cuda:1', ...")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto", description="auto: bf16 on GPUs that have it, fp16 on other GPUs, fp32 on CPU.")
    gen_batch_size: int = Field(4, ge=1, description="Prompts generated together.")


@register_predictor("hf")
class HFPredictor(LMPredictor):
    """A local transformers model (directory or GGUF file), on CPU or GPU."""

    Options = HFOptions
    options: HFOptions

    def make_backend(self) -> Backend:
        from indievalue.lm.backends.hf import HFBackend

        return HFBackend(self.options.model, device=self.options.device,
                         dtype=self.options.dtype, batch_size=self.options.gen_batch_size)


class OpenAIOptions(LMOptions):
    base_url: str | None = Field(None, description="Endpoint, e.g. http://127.0.0.1:8000/v1 "
                                 "(default: the OpenAI API).")
    api_key_env: str = Field("OPENAI_API_KEY", description="Environment variable with the key.")
    concurrency: int = Field(8, ge=1, le=256, description="Requests in flight at once.")
    max_attempts: int = Field(8, ge=1, le=50, description="Tries per request on faults.")
    timeout: float = Field(120.0, gt=0, description="Seconds per request.")
    backoff: float = Field(1.0, ge=0, description="First backoff delay in seconds (doubles).")
    logprobs: bool = Field(False, description="Ask for token log-probabilities.")
    price_in: float = Field(0.0, ge=0, description="Price per million input tokens.")
    price_out: float = Field(0.0, ge=0, description="Price per million output tokens.")


@register_predictor("openai")
class OpenAIPredictor(LMPredictor):
    """Any OpenAI-compatible chat endpoint (generate mode)."""

    Options = OpenAIOptions
    options: OpenAIOptions

    def make_backend(self) -> Backend:
        from indievalue.lm.backends.openai_http import OpenAIBackend

        o = self.options
        return OpenAIBackend(o.model, o.base_url, o.api_key_env, o.concurrency, o.max_attempts,
                             o.timeout, o.backoff, logprobs=o.logprobs, price_in=o.price_in,
                             price_out=o.price_out, seed=self.seed)


class VLLMOptions(LMOptions):
    tensor_parallel: int = Field(1, ge=1, description="GPUs per model.")
    gpu_memory_utilization: float = Field(0.9, gt=0, le=1)
    max_model_len: int | None = Field(None, ge=256)
    batch_size: int = Field(512, ge=1, le=65536, description="Episodes per predict call.")


@register_predictor("vllm")
class VLLMPredictor(LMPredictor):
    """The vLLM offline engine (install the 'vllm' extra on a GPU machine)."""

    Options = VLLMOptions
    options: VLLMOptions

    def make_backend(self) -> Backend:
        from indievalue.lm.backends.vllm_engine import VLLMBackend

        o = self.options
        return VLLMBackend(o.model, o.tensor_parallel, o.gpu_memory_utilization,
                           o.max_model_len)
