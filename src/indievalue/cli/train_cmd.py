"""``indievalue train data`` (build an IndieValueReasoner training set), ``indievalue train
model`` (fine-tune a local model on it) and ``indievalue train value-model``.

The first release named these ``train-data``, ``train --data ...`` and ``train-value-model``;
those names still work (hidden) for one release.
"""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape

from indievalue.cli.catalog_cmd import synthetic_banner
from indievalue.cli.console import err, new_progress, out
from indievalue.cli.embed_cmd import value_model_cmd
from indievalue.errors import IndieValueError

if TYPE_CHECKING:  # the library is imported by each command, so `--help` stays fast
    from indievalue.training.data import DataFormat


class FormatChoice(str, Enum):
    hf = "hf"
    jsonl = "jsonl"
    both = "both"


def print_presets(as_json: bool) -> None:
    from indievalue.training.presets import PRESETS

    if as_json:
        out.print_json(json.dumps([
            {"name": p.name, "paper": p.paper, "units": [u.name for u in p.units],
             "per_question": p.per_question, "examples": p.examples(),
             "provenance": p.provenance} for p in PRESETS.values()]))
        return
    for p in PRESETS.values():
        out.print(f"[bold]{p.name}[/]  {escape(p.paper)}: {p.per_question} per question, "
                  f"{p.examples():,} examples")
        out.print("    units: " + ", ".join(u.name for u in p.units))
        out.print("    " + escape(p.provenance))


def _formats(choice: FormatChoice) -> tuple[DataFormat, ...]:
    if choice == FormatChoice.both:
        return ("hf", "jsonl")
    return ("hf",) if choice == FormatChoice.hf else ("jsonl",)


def data_cmd(
    catalog: Path | None = typer.Option(None, "--catalog", help="Catalog directory."),
    preset: str | None = typer.Option(
        None, "--preset", help="Named mixture (see --list-presets)."),
    units: str | None = typer.Option(
        None, "--units", help="Comma-separated unit names instead of a preset, e.g. "
        "p200_p1_n200_full,rmixed_r1_n50_full_Europe,demo_p1_n100_full."),
    out_dir: Path | None = typer.Option(None, "--out", help="Output directory to create."),
    tokenizer: Path | None = typer.Option(
        None, "--tokenizer", help="Local model/tokenizer directory for token statistics."),
    eval_ids: Path | None = typer.Option(
        None, "--eval-ids", help="File of eval person ids to exclude, one per line."),
    eval_size: int | None = typer.Option(
        None, "--eval-size", min=1,
        help="Size of the eval set drawn (as `indievalue evaluate` draws it) and excluded "
        "(default: the catalog spec's; 800 for WVS-7)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the eval-set draw and the sampling."),
    max_length: int = typer.Option(
        4096, "--max-length", min=1, help="Token limit counted in the statistics."),
    fmt: FormatChoice = typer.Option(FormatChoice.hf, "--format",
                                     help="hf (save_to_disk), jsonl, or both."),
    prompt_template: Path | None = typer.Option(
        None, "--prompt-template",
        help="Exact protocol-B template file (evaluate with the same prompt_template)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --out."),
    list_presets: bool = typer.Option(False, "--list-presets",
                                      help="List the presets with their units and exit."),
    as_json: bool = typer.Option(False, "--json", help="With --list-presets: JSON."),
) -> None:
    """Build an IndieValueReasoner training set (chat examples + stats.json) from a catalog,
    excluding the eval persons."""
    from indievalue.catalog.store import Catalog
    from indievalue.training.data import DataRequest, build_training_data

    if list_presets:
        print_presets(as_json)
        return
    if catalog is None or out_dir is None:
        raise IndieValueError("give --catalog and --out (or --list-presets)")
    request = DataRequest(preset=preset, units=units, seed=seed, eval_size=eval_size,
                          eval_ids_file=eval_ids, tokenizer=tokenizer, max_length=max_length,
                          formats=_formats(fmt), prompt_template=prompt_template)
    request.resolve()  # a bad preset or unit name fails before any work
    cat = Catalog.load(catalog)  # and so does a bad catalog
    bar = new_progress()
    task = bar.add_task("training examples", total=None)

    def update(done: int, total: int) -> None:
        if not bar.live.is_started:  # shown once sampling is done: errors come first
            bar.start()
        bar.update(task, completed=done, total=total)

    try:
        stats = build_training_data(cat, out_dir, request, overwrite=overwrite,
                                    progress=update)
    finally:
        if bar.live.is_started:
            bar.stop()
    synthetic_banner(cat.synthetic)
    line = (f"{stats['examples']:,} examples ({stats['per_question']} per question) from "
            f"{stats['distinct_persons']:,} training persons in {stats['seconds']:.1f} s")
    tok = stats.get("tokens")
    if tok:
        line += (f"; tokens min {tok['min']} / mean {tok['mean']:.0f} / max {tok['max']}, "
                 f"{tok['over_max_length']} over {stats['max_length']}")
    out.print(line)
    out.print(f"training data: {out_dir}")


def fine_tune(data: Path, base_model: Path, out_dir: Path, lora: bool, config: Path | None,
              set_: list[str]) -> None:
    """Fine-tune ``base_model`` on the training set ``data`` into ``out_dir``."""
    from indievalue.training.config import load_train_config, parse_set
    from indievalue.training.trainer import train

    overrides = parse_set(set_)
    if lora:
        overrides["lora"] = True
    cfg = load_train_config(config, overrides)
    result = train(data, base_model, out_dir, cfg, console=err)
    s = result.summary
    loss = s.get("train_loss")
    out.print(f"trained {s['steps']} steps ({s['epochs']} epochs) on {s['examples']:,} "
              f"examples" + (f", mean loss {loss:.4f}" if loss is not None else "")
              + (f", {s['tokens_per_second']:.0f} tokens/s" if s.get("tokens_per_second")
                 else ""))
    out.print(f"model: {result.final}")
    out.print(f"evaluate: indievalue evaluate --catalog CATALOG --predictor hf --option "
              f"model={result.final} --protocol B --form polar --out RUN_DIR")


DATA_HELP = "Directory written by `indievalue train data`."
BASE_HELP = "Local transformers model directory."
OUT_HELP = "Output directory (resumed if it holds this run)."
LORA_HELP = "Train LoRA adapters (peft)."
CONFIG_HELP = "YAML file of training settings (defaults: paper Table 16)."
SET_HELP = "Override one setting, KEY=VALUE (repeatable)."


def model_cmd(
    data: Path = typer.Option(..., "--data", help=DATA_HELP),
    base_model: Path = typer.Option(..., "--base-model", help=BASE_HELP),
    out_dir: Path = typer.Option(..., "--out", help=OUT_HELP),
    lora: bool = typer.Option(False, "--lora", help=LORA_HELP),
    config: Path | None = typer.Option(None, "--config", help=CONFIG_HELP),
    set_: list[str] = typer.Option([], "--set", help=SET_HELP),
) -> None:
    """Fine-tune a causal LM on a training set (loss on the answers only); the model and
    tokenizer land in OUT/final, ready for `indievalue evaluate --predictor hf`."""
    fine_tune(data, base_model, out_dir, lora, config, set_)


train_app = typer.Typer(
    help="Training: build a training set (data), fine-tune a local LM on it (model), train "
    "the value model (value-model).", invoke_without_command=True)


@train_app.callback()
def train_group(
    ctx: typer.Context,
    # The first release's `indievalue train --data ...` (now `train model`), kept hidden.
    data: Path | None = typer.Option(None, "--data", hidden=True, help=DATA_HELP),
    base_model: Path | None = typer.Option(None, "--base-model", hidden=True, help=BASE_HELP),
    out_dir: Path | None = typer.Option(None, "--out", hidden=True, help=OUT_HELP),
    lora: bool = typer.Option(False, "--lora", hidden=True, help=LORA_HELP),
    config: Path | None = typer.Option(None, "--config", hidden=True, help=CONFIG_HELP),
    set_: list[str] = typer.Option([], "--set", hidden=True, help=SET_HELP),
) -> None:
    """Training: build a training set (data), fine-tune a local LM on it (model), train the
    value model (value-model)."""
    if ctx.invoked_subcommand is not None:
        return
    if data is None and base_model is None and out_dir is None:
        typer.echo(ctx.get_help())
        raise typer.Exit(0)
    if data is None or base_model is None or out_dir is None:
        raise IndieValueError("train: give --data, --base-model and --out (or use "
                              "`indievalue train model`)")
    fine_tune(data, base_model, out_dir, lora, config, set_)


train_app.command("data")(data_cmd)
train_app.command("model")(model_cmd)
train_app.command("value-model")(value_model_cmd)


def register(app: typer.Typer) -> None:
    app.add_typer(train_app, name="train")
    # The first release's names, for one release more.
    app.command("train-data", hidden=True)(data_cmd)
    app.command("train-value-model", hidden=True)(value_model_cmd)
