"""Training settings: the paper's Table 16 as defaults, YAML and --set overrides, and how they
reach TRL's SFTConfig."""

from __future__ import annotations

from pathlib import Path

import pytest

from indievalue.errors import IndieValueError
from indievalue.training.config import TrainConfig, load_train_config, parse_set


def test_defaults_are_table_16() -> None:
    c = TrainConfig()
    assert (c.learning_rate, c.lr_scheduler_type, c.warmup_ratio, c.weight_decay, c.epochs,
            c.max_length, c.batch_size) == (5e-6, "linear", 0.03, 0.0, 2.0, 4096, 8)
    assert c.gradient_checkpointing and not c.lora and c.precision == "auto"


def test_yaml_then_set_overrides(tmp_path: Path) -> None:
    f = tmp_path / "c.yaml"
    f.write_text("learning_rate: 1.0e-5\nepochs: 1\nlora: true\n")
    c = load_train_config(f, parse_set(["epochs=3", "lora_r=8", "lora_target_modules=[q_proj]"]))
    assert (c.learning_rate, c.epochs, c.lora, c.lora_r) == (1e-5, 3, True, 8)
    assert c.lora_target_modules == ["q_proj"]


@pytest.mark.parametrize("text,match", [
    ("learning_rat: 1\n", "learning_rat"),
    ("batch_size: 8\nper_device_batch_size: 3\n", "multiple"),
    ("- 1\n", "mapping"),
    ("epochs: [\n", "YAML"),
])
def test_bad_config_files(tmp_path: Path, text: str, match: str) -> None:
    f = tmp_path / "c.yaml"
    f.write_text(text)
    with pytest.raises(IndieValueError, match=match):
        load_train_config(f)


def test_set_syntax_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(IndieValueError, match="KEY=VALUE"):
        parse_set(["epochs"])
    with pytest.raises(IndieValueError, match="no such file"):
        load_train_config(tmp_path / "none.yaml")


def test_global_batch_over_devices() -> None:
    c = TrainConfig(batch_size=8, per_device_batch_size=1)
    assert [c.accumulation(w) for w in (1, 2, 8)] == [8, 4, 1]
    with pytest.raises(IndieValueError, match="devices"):
        c.accumulation(3)


def test_sft_config_carries_the_settings(tmp_path: Path) -> None:
    pytest.importorskip("trl")
    from indievalue.training.trainer import sft_config

    args = sft_config(tmp_path, TrainConfig(use_cpu=True), world_size=2)
    assert args.learning_rate == 5e-6 and args.weight_decay == 0.0
    assert args.lr_scheduler_type == "linear"
    assert args.num_train_epochs == 2 and args.per_device_train_batch_size == 1
    assert args.gradient_accumulation_steps == 4  # 8 = 1 per device x 2 devices x 4
    assert args.completion_only_loss is True and args.max_length is None
    assert not args.bf16 and not args.fp16  # CPU: fp32
    warmup = getattr(args, "warmup_ratio", None) or args.warmup_steps
    assert warmup == pytest.approx(0.03)
