"""Training hyper-parameters: the paper's Table 16 as defaults, overridable from YAML.

A config file is a flat YAML mapping of the fields below (``indievalue train --config FILE``);
``--set KEY=VALUE`` overrides single fields after the file. Unknown keys are refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from indievalue.errors import IndieValueError


class TrainConfig(BaseModel):
    """Everything that determines a fine-tuning run besides the data and the base model."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    learning_rate: float = Field(5e-6, gt=0, description="Peak learning rate (Table 16: 5e-6).")
    lr_scheduler_type: str = Field("linear", description="Schedule after warm-up (Table 16: "
                                   "linear decay to 0).")
    warmup_ratio: float = Field(0.03, ge=0, lt=1, description="Share of steps spent warming up.")
    weight_decay: float = Field(0.0, ge=0, description="AdamW weight decay (Table 16: 0).")
    epochs: float = Field(2.0, gt=0, description="Passes over the data (Table 16: 2).")
    max_steps: int = Field(-1, description="Stop after this many optimizer steps (-1: epochs "
                           "decide).")
    max_length: int = Field(4096, ge=16, description="Longest example in tokens (Table 16: "
                            "4096). Longer examples are dropped and counted, never truncated: "
                            "truncation would cut off the answer being trained.")
    batch_size: int = Field(8, ge=1, description="Global batch: examples per optimizer step "
                            "over all devices (Table 16: 8).")
    per_device_batch_size: int = Field(1, ge=1, description="Examples per device per forward "
                                       "pass; gradient accumulation makes up the rest.")
    seed: int = Field(0, description="Seed of model init extras, shuffling and dropout.")
    precision: Literal["auto", "bf16", "fp16", "fp32"] = Field(
        "auto", description="auto: bf16 mixed precision on GPUs that have it, fp16 on other "
        "GPUs, fp32 on CPU.")
    gradient_checkpointing: bool = Field(True, description="Recompute activations in the "
                                         "backward pass (less memory, ~20% slower).")
    lora: bool = Field(False, description="Train LoRA adapters instead of all weights.")
    lora_r: int = Field(16, ge=1, description="LoRA rank.")
    lora_alpha: int = Field(32, ge=1, description="LoRA scaling numerator.")
    lora_dropout: float = Field(0.05, ge=0, lt=1, description="Dropout on the LoRA input.")
    lora_target_modules: str | list[str] = Field(
        "all-linear", description="Modules given adapters ('all-linear' or a list of names).")
    merge_lora: bool = Field(True, description="Also save base + adapters merged in final/ "
                             "(what the hf predictor loads); the adapter alone is in adapter/.")
    logging_steps: int = Field(10, ge=1, description="Log loss, learning rate and tokens/s every "
                               "this many steps.")
    save_steps: int = Field(500, ge=1, description="Checkpoint every this many steps.")
    save_total_limit: int | None = Field(2, ge=1, description="Checkpoints kept (oldest removed).")
    max_examples: int | None = Field(None, ge=1, description="Train on a seeded random subset "
                                     "of this many examples (quick trials).")
    use_cpu: bool = Field(False, description="Train on the CPU even if a GPU is present.")
    attn_implementation: str | None = Field(None, description="e.g. 'sdpa', 'flash_attention_2' "
                                            "(default: the model's).")
    chat_template_path: str | None = Field(
        None, description="Jinja file or tokenizer directory whose chat template to use (for "
        "base models without one; evaluate with the same).")
    dataloader_num_workers: int = Field(0, ge=0, description="Data loading worker processes.")
    dataset_num_proc: int | None = Field(None, ge=1, description="Processes for tokenizing.")

    @model_validator(mode="after")
    def _divisible(self) -> TrainConfig:
        if self.batch_size % self.per_device_batch_size:
            raise ValueError("batch_size must be a multiple of per_device_batch_size")
        return self

    def accumulation(self, world_size: int) -> int:
        """Gradient accumulation steps giving the global batch on ``world_size`` devices."""
        per_step = self.per_device_batch_size * world_size
        if self.batch_size % per_step:
            raise IndieValueError(
                f"batch_size {self.batch_size} is not a multiple of per_device_batch_size "
                f"{self.per_device_batch_size} x {world_size} devices")
        return self.batch_size // per_step


def _validate(values: dict[str, Any], source: str) -> TrainConfig:
    try:
        return TrainConfig(**values)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "config"
        raise IndieValueError(f"{source}: {where}: {first['msg']}") from None


def parse_set(pairs: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` strings; values are read as YAML scalars (``3``, ``1e-4``, ``true``)."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise IndieValueError(f"--set expects KEY=VALUE, got {pair!r}")
        try:
            out[key.strip()] = yaml.safe_load(value) if value.strip() else None
        except yaml.YAMLError:
            out[key.strip()] = value
    return out


def load_train_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None,
                      ) -> TrainConfig:
    """Defaults, then the YAML file, then the overrides."""
    values: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        try:
            data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
        except FileNotFoundError:
            raise IndieValueError(f"{p}: no such file") from None
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else "unreadable"
            raise IndieValueError(f"{p}: not a readable YAML file ({first})") from None
        if not isinstance(data, dict):
            raise IndieValueError(f"{p}: expected a mapping of training settings")
        bad = [k for k in data if not isinstance(k, str)]
        if bad:
            raise IndieValueError(f"{p}: setting names must be text, not {bad[0]!r}")
        _validate(data, str(p))  # report a bad file before any override hides it
        values.update(data)
    values.update(overrides or {})
    return _validate(values, str(path) if path else "training settings")
