"""The vLLM offline engine (GPU machines only; an optional extra, imported on first use)."""

from __future__ import annotations

from typing import Any

from indievalue.errors import require
from indievalue.lm.backends.base import (
    BackendStats,
    Completion,
    GenParams,
    Messages,
    OnDone,
    ScoreGroup,
)


class VLLMBackend:
    name = "vllm"

    def __init__(self, model: str, tensor_parallel: int = 1, gpu_memory_utilization: float = 0.9,
                 max_model_len: int | None = None):
        self.model_id = model
        self.tensor_parallel = tensor_parallel
        self.gpu_memory_utilization = gpu_memory_utilization
        self.max_model_len = max_model_len
        self.stats = BackendStats()
        self._llm: Any = None

    def _load(self) -> Any:
        if self._llm is None:
            (vllm,) = require("vllm", purpose="the vllm predictor (on a GPU machine)",
                              install="'indievalue[vllm]'")
            self._llm = vllm.LLM(model=self.model_id, tensor_parallel_size=self.tensor_parallel,
                                 gpu_memory_utilization=self.gpu_memory_utilization,
                                 max_model_len=self.max_model_len, enable_prefix_caching=True)
        return self._llm

    def _prompt(self, messages: Messages) -> str:
        tok = self._load().get_tokenizer()
        return str(tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True))

    def generate(self, prompts: list[Messages], params: GenParams,
                 on_done: OnDone | None = None) -> list[Completion]:
        import vllm

        llm = self._load()
        sampling = vllm.SamplingParams(temperature=params.temperature, top_p=params.top_p,
                                       max_tokens=params.max_new_tokens, seed=params.seed)
        outs = llm.generate([self._prompt(m) for m in prompts], sampling, use_tqdm=False)
        result = []
        for o in outs:
            n_in, n_out = len(o.prompt_token_ids), len(o.outputs[0].token_ids)
            self.stats.requests += 1
            self.stats.tokens_in += n_in
            self.stats.tokens_out += n_out
            result.append(Completion(o.outputs[0].text, n_in, n_out))
            if on_done is not None:
                on_done(len(result) - 1, result[-1])
        return result

    def score(self, prompt: Messages, groups: list[ScoreGroup]) -> list[list[float]]:
        """Prompt log-probs of prompt+prefix+option; prefix caching makes the shared prompt
        a single computation."""
        import vllm

        llm = self._load()
        tok = llm.get_tokenizer()
        base = self._prompt(prompt)
        texts, spans = [], []
        for g in groups:
            head = base + g.prefix
            n_head = len(tok(head, add_special_tokens=False)["input_ids"])
            for opt in g.options:
                texts.append(head + opt)
                spans.append(n_head)
        sampling = vllm.SamplingParams(max_tokens=1, prompt_logprobs=0)
        outs = llm.generate(texts, sampling, use_tqdm=False)
        flat = []
        for o, start in zip(outs, spans, strict=True):
            ids = o.prompt_token_ids
            lps = o.prompt_logprobs
            flat.append(float(sum(lps[i][ids[i]].logprob for i in range(start, len(ids)))))
        out, k = [], 0
        for g in groups:
            out.append(flat[k : k + len(g.options)])
            k += len(g.options)
        self.stats.requests += 1
        return out
