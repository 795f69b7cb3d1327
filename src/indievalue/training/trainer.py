"""Fine-tuning a causal LM on a training-data directory with TRL's SFTTrainer.

- The chat examples become prompt/completion pairs, so TRL computes the loss on the answer only
  (``completion_only_loss``): every prompt token, chat-template tokens included, is labelled
  -100. The prompt is rendered with the tokenizer's chat template and a generation prompt,
  exactly what the ``hf`` predictor sends at evaluation.
- Examples longer than ``max_length`` are dropped and counted (truncating would cut off the
  answer, the only trained tokens).
- Rerunning the same command resumes from the newest checkpoint in the output folder; another
  data set, base model or config there is refused. The finished model (with tokenizer) is
  written to ``final/`` atomically; LoRA adapters go to ``adapter/``.
- Multi-GPU: run under ``accelerate launch`` with configs/accelerate/fsdp.yaml or zero3.yaml;
  the trainer reads the distributed setup from the environment accelerate sets.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from indievalue.errors import IndieValueError, require
from indievalue.fsutil import read_json, write_json
from indievalue.runs.spec import provenance
from indievalue.training.config import TrainConfig
from indievalue.training.data import DATA_SPEC_FILE
from indievalue.training.datadir import check_hf_dataset, open_training_data

SPEC_FILE = "train_spec.json"
SUMMARY_FILE = "train_summary.json"
FINAL_DIR = "final"
ADAPTER_DIR = "adapter"


@dataclass(frozen=True)
class TrainResult:
    out: Path
    final: Path
    adapter: Path | None
    summary: dict[str, Any]


def _require() -> tuple[Any, Any, Any]:
    datasets, torch, trl = require("datasets", "torch", "trl", purpose="training",
                                   install="'indievalue[train]'")
    return torch, datasets, trl


def is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def load_training_dataset(data: str | Path) -> Any:
    """The examples of a ``train-data`` directory (its HF dataset, else its JSONL), after
    checking the directory against what it records (training/datadir.py)."""
    _, datasets, _ = _require()
    checked = open_training_data(data)
    source = checked.source_path
    try:
        if checked.source == "hf":
            ds = datasets.load_from_disk(str(source))
        else:
            ds = datasets.load_dataset("json", data_files=str(source), split="train")
    except (OSError, ValueError, KeyError, datasets.exceptions.DatasetsError) as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise IndieValueError(f"{source}: unreadable ({detail})") from None
    if checked.source == "hf":
        check_hf_dataset(checked, ds)
    return ds


def to_prompt_completion(ds: Any) -> Any:
    """``messages`` (user, assistant) → ``prompt`` (the user turn) and ``completion``."""
    return ds.map(lambda r: {"prompt": r["messages"][:-1], "completion": r["messages"][-1:]},
                  remove_columns=ds.column_names, desc="prompt/completion")


def resolve_precision(config: TrainConfig) -> tuple[bool, bool, bool]:
    """(on GPU, bf16, fp16)."""
    torch, _, _ = _require()
    gpu = torch.cuda.is_available() and not config.use_cpu
    if config.precision == "auto":
        bf16 = gpu and torch.cuda.is_bf16_supported()
        return gpu, bf16, gpu and not bf16
    if config.precision in ("bf16", "fp16") and not gpu:
        raise IndieValueError(f"precision {config.precision} needs a GPU; use fp32 or auto")
    return gpu, config.precision == "bf16", config.precision == "fp16"


def sft_config(out: Path, config: TrainConfig, world_size: int) -> Any:
    """TRL's SFTConfig with the Table 16 settings (names differ across transformers releases:
    ``activation_checkpointing`` replaced ``gradient_checkpointing``, a float
    ``warmup_steps`` replaced ``warmup_ratio``)."""
    _, _, trl = _require()
    _, bf16, fp16 = resolve_precision(config)
    names = {f.name for f in dataclasses.fields(trl.SFTConfig)}
    kwargs: dict[str, Any] = {
        "output_dir": str(out),
        "per_device_train_batch_size": config.per_device_batch_size,
        "gradient_accumulation_steps": config.accumulation(world_size),
        "learning_rate": config.learning_rate,
        "lr_scheduler_type": config.lr_scheduler_type,
        "weight_decay": config.weight_decay,
        "num_train_epochs": config.epochs,
        "max_steps": config.max_steps,
        "max_length": None,  # over-long examples are dropped beforehand, never truncated
        "completion_only_loss": True,
        "bf16": bf16,
        "fp16": fp16,
        "use_cpu": config.use_cpu,
        "logging_steps": config.logging_steps,
        "logging_first_step": True,
        "save_strategy": "steps",
        "save_steps": config.save_steps,
        "save_total_limit": config.save_total_limit,
        "seed": config.seed,
        "data_seed": config.seed,
        "report_to": "none",
        "disable_tqdm": True,
        "include_num_input_tokens_seen": "non_padding",
        "dataloader_num_workers": config.dataloader_num_workers,
        "dataset_num_proc": config.dataset_num_proc,
        "chat_template_path": config.chat_template_path,
    }
    ckpt = "activation_checkpointing" if "activation_checkpointing" in names \
        else "gradient_checkpointing"
    kwargs[ckpt] = config.gradient_checkpointing
    kwargs[f"{ckpt}_kwargs"] = {"use_reentrant": False} if config.gradient_checkpointing \
        else None
    if "warmup_ratio" in names:
        kwargs["warmup_ratio"] = config.warmup_ratio
    else:
        kwargs["warmup_steps"] = config.warmup_ratio
    return trl.SFTConfig(**kwargs)


def _check_base_model(base_model: str | Path) -> Path:
    p = Path(base_model).expanduser()
    if not (p / "config.json").is_file():
        raise IndieValueError(f"{p}: not a transformers model directory (no config.json); "
                              "models load from local paths only")
    return p.resolve()


def _data_digest(data: Path) -> str:
    spec = data / DATA_SPEC_FILE
    body = spec.read_bytes() if spec.is_file() else str(data.resolve()).encode()
    return hashlib.sha256(body).hexdigest()


def _prepare_out(out: Path, spec: dict[str, Any]) -> None:
    """Create the output folder, or check that it holds this very run (then it resumes)."""
    path = out / SPEC_FILE
    if path.exists():
        old = read_json(path).get("spec", {})
        if old != spec:
            diff = sorted(k for k in set(old) | set(spec) if old.get(k) != spec.get(k))
            if "config" in diff:
                a, b = old.get("config", {}), spec["config"]
                diff = [*(d for d in diff if d != "config"),
                        *(f"config.{k}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k))]
            raise IndieValueError(f"{out} holds a different training run (differs in: "
                                  f"{', '.join(diff)}); choose another --out or remove it")
        return
    if out.exists() and any(out.iterdir()):
        raise IndieValueError(f"{out} exists and is not a training run; choose another --out")
    if is_main_process():
        out.mkdir(parents=True, exist_ok=True)
        write_json(path, {"spec": spec, "provenance": provenance()})


def build_trainer(data: str | Path, base_model: str | Path, out: str | Path,
                  config: TrainConfig, callbacks: list[Any] | None = None,
                  dataset: Any = None) -> tuple[Any, int]:
    """The SFTTrainer, its train dataset tokenized and labelled; and how many examples were
    dropped for exceeding ``max_length``. ``dataset``: ``data`` already loaded."""
    torch, _, trl = _require()
    from transformers import AutoModelForCausalLM, AutoTokenizer, PrinterCallback

    out = Path(out)
    base = _check_base_model(base_model)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    args = sft_config(out, config, world)  # before the model: ZeRO-3 partitions at load
    gpu, bf16, fp16 = resolve_precision(config)
    tok = AutoTokenizer.from_pretrained(str(base), local_files_only=True)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    if not getattr(tok, "chat_template", None) and config.chat_template_path is None:
        raise IndieValueError(f"{base}: the tokenizer has no chat template; set "
                              "chat_template_path (and evaluate with the same template)")
    # Full fine-tuning keeps fp32 master weights (bf16 autocast computes): a 5e-6 update is
    # below bf16's resolution. LoRA leaves the base frozen, so it may sit in half precision.
    dtype = torch.float32
    if config.lora and gpu:
        dtype = torch.bfloat16 if bf16 else torch.float16 if fp16 else torch.float32
    model_kwargs: dict[str, Any] = {"dtype": dtype, "local_files_only": True}
    if config.attn_implementation:
        model_kwargs["attn_implementation"] = config.attn_implementation
    model = AutoModelForCausalLM.from_pretrained(str(base), **model_kwargs)
    ds = dataset if dataset is not None else load_training_dataset(data)
    if config.max_examples is not None and config.max_examples < len(ds):
        ds = ds.shuffle(seed=config.seed).select(range(config.max_examples))
    peft_config = None
    if config.lora:
        from peft import LoraConfig

        peft_config = LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha,
                                 lora_dropout=config.lora_dropout,
                                 target_modules=config.lora_target_modules,
                                 task_type="CAUSAL_LM")
    trainer = trl.SFTTrainer(model=model, args=args, train_dataset=to_prompt_completion(ds),
                             processing_class=tok, peft_config=peft_config,
                             callbacks=callbacks or [])
    trainer.remove_callback(PrinterCallback)  # our callback reports instead
    prepared = trainer.train_dataset
    limit = config.max_length
    kept = prepared.filter(lambda ids: [len(x) <= limit for x in ids], batched=True,
                           input_columns=["input_ids"], desc="dropping over-long examples")
    if len(kept) == 0:
        raise IndieValueError(f"every example is longer than max_length {limit} tokens")
    trainer.train_dataset = kept
    return trainer, len(prepared) - len(kept)


def _last_checkpoint(out: Path) -> str | None:
    from transformers.trainer_utils import get_last_checkpoint

    return get_last_checkpoint(str(out)) if out.is_dir() else None


def train(data: str | Path, base_model: str | Path, out: str | Path, config: TrainConfig,
          console: Console | None = None, callbacks: list[Any] | None = None) -> TrainResult:
    """Fine-tune (or resume fine-tuning) and write ``final/``; returns the run summary.
    ``callbacks`` are extra ``transformers.TrainerCallback`` objects."""
    from indievalue.training.progress import RichProgressCallback

    _require()
    console = console or Console(stderr=True, highlight=False)
    out, data = Path(out), Path(data)
    base = _check_base_model(base_model)
    dataset = load_training_dataset(data)  # a bad data folder fails before anything is made
    spec = {"data": str(data.resolve()), "data_spec_sha256": _data_digest(data),
            "base_model": str(base), "config": config.model_dump(mode="json")}
    final, adapter = out / FINAL_DIR, (out / ADAPTER_DIR if config.lora else None)
    if (out / SUMMARY_FILE).is_file() and final.is_dir():
        _prepare_out(out, spec)  # refuses a different run
        console.print(f"{out}: already trained; the model is in {final}")
        return TrainResult(out, final, adapter, read_json(out / SUMMARY_FILE))
    _prepare_out(out, spec)
    progress = RichProgressCallback(out, console)
    trainer, dropped = build_trainer(data, base, out, config, [progress, *(callbacks or [])],
                                     dataset)
    if dropped:
        console.print(f"dropped {dropped} example(s) longer than {config.max_length} tokens")
    resume = _last_checkpoint(out)
    if resume:
        console.print(f"resuming from {resume}")
    result = trainer.train(resume_from_checkpoint=resume)
    _save_final(trainer, base, out, config)
    state = trainer.state
    runtime = float(result.metrics.get("train_runtime", 0.0))
    tokens = int(getattr(state, "num_input_tokens_seen", 0) or 0)
    summary = {
        "final": FINAL_DIR, "adapter": ADAPTER_DIR if config.lora else None,
        "steps": state.global_step, "epochs": round(float(state.epoch or 0), 4),
        "examples": len(trainer.train_dataset), "dropped_over_max_length": dropped,
        "train_loss": result.metrics.get("train_loss"), "runtime_s": round(runtime, 2),
        "tokens_seen": tokens,
        "tokens_per_second": round(tokens / runtime, 1) if runtime else None,
        "resumed_from": resume,
        "losses": [[h["step"], h["loss"]] for h in state.log_history if "loss" in h],
    }
    if is_main_process():
        write_json(out / SUMMARY_FILE, summary)
    console.print(f"model saved to {final}")
    return TrainResult(out, final, adapter, summary)


def _save_final(trainer: Any, base: Path, out: Path, config: TrainConfig) -> None:
    """Write ``final/`` (and ``adapter/``) through temporary siblings renamed into place."""
    model = trainer.model
    model.config.use_cache = True  # switched off for gradient checkpointing; generation wants it
    tmp = out / f".{FINAL_DIR}.tmp"
    if config.lora:
        trainer.save_model(str(out / f".{ADAPTER_DIR}.tmp"))
    else:
        trainer.save_model(str(tmp))
    trainer.accelerator.wait_for_everyone()
    if not is_main_process():
        return
    tok = trainer.processing_class
    if config.lora:
        _replace(out / f".{ADAPTER_DIR}.tmp", out / ADAPTER_DIR)
        tok.save_pretrained(str(out / ADAPTER_DIR))
        if not config.merge_lora:
            return
        merged = _merge_adapter(base, out / ADAPTER_DIR)
        merged.save_pretrained(str(tmp))
    tok.save_pretrained(str(tmp))
    _replace(tmp, out / FINAL_DIR)


def _merge_adapter(base: Path, adapter: Path) -> Any:
    """Base model + adapter merged into plain weights, on the CPU (one process)."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(base), local_files_only=True)
    return PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()


def _replace(tmp: Path, target: Path) -> None:
    if target.exists():
        shutil.rmtree(target)
    os.replace(tmp, target)
