"""Local transformers backend: a model directory or a GGUF file, on CPU or GPU."""

from __future__ import annotations

import contextlib
from pathlib import Path
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


def _require_torch() -> tuple[Any, Any]:
    torch, transformers = require("torch", "transformers", purpose="the hf predictor",
                                  install="'indievalue[lm]'")
    return torch, transformers


def resolve_model_path(model: str) -> tuple[str, str | None]:
    """(directory, gguf file name or None) for a model directory or a ``.gguf`` file."""
    p = Path(model).expanduser()
    if p.is_file() and p.suffix.lower() == ".gguf":
        return str(p.parent), p.name
    if p.is_dir():
        ggufs = sorted(p.glob("*.gguf"))
        if not (p / "config.json").exists() and len(ggufs) == 1:
            return str(p), ggufs[0].name
        if not (p / "config.json").exists():
            raise IndieValueError(f"{p}: no config.json (not a transformers model directory)")
        return str(p), None
    raise IndieValueError(f"model {model!r}: no such directory or .gguf file "
                          "(models are loaded from local paths only)")


class HFBackend:
    name = "hf"

    def __init__(self, model: str, device: str = "auto", dtype: str = "auto",
                 batch_size: int = 4):
        self.model_id = model
        self.device_opt = device
        self.dtype_opt = dtype
        self.batch_size = batch_size
        self.stats = BackendStats()
        self._model: Any = None
        self._tok: Any = None

    # -- loading (first use) ---------------------------------------------------------------
    def _load(self) -> None:
        if self._model is not None:
            return
        torch, transformers = _require_torch()
        path, gguf = resolve_model_path(self.model_id)
        device = self.device_opt
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16,
                 "float16": torch.float16}.get(self.dtype_opt)
        if dtype is None:  # auto: bf16 where the GPU has it, fp16 on other GPUs, fp32 on CPU
            if device.startswith("cuda"):
                dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
            else:
                dtype = torch.float32
        kwargs: dict[str, Any] = {"gguf_file": gguf} if gguf else {}
        try:
            tok = transformers.AutoTokenizer.from_pretrained(path, **kwargs)
            model = transformers.AutoModelForCausalLM.from_pretrained(path, dtype=dtype,
                                                                      **kwargs)
        except (OSError, ValueError) as exc:
            raise IndieValueError(f"cannot load model {self.model_id}: "
                                  f"{str(exc).splitlines()[0]}") from None
        model.to(device).eval()
        if tok.pad_token is None:
            tok.pad_token = tok.eos_token
        tok.padding_side = "left"
        self._model, self._tok, self.device = model, tok, device

    def prompt_text(self, messages: Messages) -> str:
        self._load()
        if getattr(self._tok, "chat_template", None):
            return str(self._tok.apply_chat_template(messages, tokenize=False,
                                                     add_generation_prompt=True))
        body = "\n\n".join(m["content"] for m in messages)
        return body + "\n"

    # -- generation --------------------------------------------------------------------------
    def generate(self, prompts: list[Messages], params: GenParams,
                 on_done: OnDone | None = None) -> list[Completion]:
        self._load()
        torch, _ = _require_torch()
        out: list[Completion] = []
        for start in range(0, len(prompts), self.batch_size):
            texts = [self.prompt_text(m) for m in prompts[start : start + self.batch_size]]
            enc = self._tok(texts, return_tensors="pt", padding=True,
                            add_special_tokens=False).to(self.device)
            sample = params.temperature > 0
            kwargs: dict[str, Any] = {"max_new_tokens": params.max_new_tokens,
                                      "do_sample": sample, "pad_token_id": self._tok.pad_token_id}
            if sample:
                kwargs.update(temperature=params.temperature, top_p=params.top_p)
            rng = torch.random.fork_rng(devices=[]) if sample else contextlib.nullcontext()
            with rng, torch.inference_mode():
                if sample:
                    torch.manual_seed(params.seed)
                gen = self._model.generate(**enc, **kwargs)
            new = gen[:, enc["input_ids"].shape[1]:]
            for i in range(len(texts)):
                ids = new[i]
                ids = ids[ids != self._tok.pad_token_id] if self._tok.pad_token_id is not None \
                    else ids
                text = self._tok.decode(ids, skip_special_tokens=True)
                n_in = int(enc["attention_mask"][i].sum())
                out.append(Completion(text, n_in, len(ids)))
                self.stats.tokens_in += n_in
                self.stats.tokens_out += len(ids)
                if on_done is not None:
                    on_done(start + i, out[-1])
            self.stats.requests += len(texts)
        return out

    # -- option scoring with one prompt pass ----------------------------------------------
    def score(self, prompt: Messages, groups: list[ScoreGroup]) -> list[list[float]]:
        self._load()
        torch, transformers = _require_torch()
        tok, model = self._tok, self._model
        ids = tok(self.prompt_text(prompt), return_tensors="pt",
                  add_special_tokens=False)["input_ids"].to(self.device)
        n_prompt = ids.shape[1]
        with torch.inference_mode():
            cache = transformers.DynamicCache()
            kv = {_cache_kwarg(model): cache, "use_cache": True}
            # Only the last position's logits are needed: skip the LM head over the whole prompt.
            first = model(ids, logits_to_keep=1, **kv)
            last_logits = first.logits[:, -1, :]
            out: list[list[float]] = []
            for group in groups:
                base_logits, base_len = last_logits, n_prompt
                if group.prefix:
                    pre = tok(group.prefix, return_tensors="pt",
                              add_special_tokens=False)["input_ids"].to(self.device)
                    res = model(pre, logits_to_keep=1, **kv)
                    base_logits, base_len = res.logits[:, -1, :], n_prompt + pre.shape[1]
                scores = []
                for option in group.options:
                    opt = tok(option, return_tensors="pt",
                              add_special_tokens=False)["input_ids"].to(self.device)
                    logp = torch.log_softmax(base_logits.float(), dim=-1)[0, opt[0, 0]]
                    if opt.shape[1] > 1:
                        res = model(opt[:, :-1], **kv)
                        lp = torch.log_softmax(res.logits.float(), dim=-1)[0]
                        logp = logp + lp.gather(1, opt[0, 1:, None]).sum()
                        _crop_to(cache, base_len)  # drop the option, keep prompt + prefix
                    scores.append(float(logp))
                    self.stats.tokens_in += int(opt.shape[1])
                if group.prefix:
                    _crop_to(cache, n_prompt)
                out.append(scores)
        self.stats.requests += 1
        self.stats.tokens_in += n_prompt
        return out


def _cache_kwarg(model: Any) -> str:
    """The forward argument that takes a KV cache: ``cache`` in recent transformers (where
    ``past_key_values`` is deprecated), ``past_key_values`` before."""
    import inspect

    params = inspect.signature(model.forward).parameters
    return "cache" if "cache" in params else "past_key_values"


def _crop_to(cache: Any, length: int) -> None:
    """Drop cached tokens beyond ``length`` (DynamicCache.crop takes the count to drop)."""
    extra = int(cache.get_seq_length()) - length
    if extra > 0:
        cache.crop(-extra)
