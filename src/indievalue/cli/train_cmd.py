"""``indievalue train-data`` (build an IndieValueReasoner training set) and ``indievalue train``
(fine-tune a local model on it)."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path

import typer
from rich.markup import escape

from indievalue.cli.catalog_cmd import synthetic_banner
from indievalue.cli.console import err, new_progress, out
from indievalue.errors import IndieValueError
from indievalue.training.data import DataFormat, DataRequest, build_training_data
from indievalue.training.presets import PRESETS


class FormatChoice(str, Enum):
    hf = "hf"
    jsonl = "jsonl"
    both = "both"


def print_presets(as_json: bool) -> None:
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


def register(app: typer.Typer) -> None:
    @app.command("train-data")
    def train_data_cmd(
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
        eval_size: int = typer.Option(
            800, "--eval-size", min=1,
            help="Size of the eval set drawn (as `indievalue evaluate` draws it) and excluded."),
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
        if list_presets:
            print_presets(as_json)
            return
        if catalog is None or out_dir is None:
            raise IndieValueError("give --catalog and --out (or --list-presets)")
        request = DataRequest(preset=preset, units=units, seed=seed, eval_size=eval_size,
                              eval_ids_file=eval_ids, tokenizer=tokenizer, max_length=max_length,
                              formats=_formats(fmt), prompt_template=prompt_template)
        request.resolve()  # a bad preset or unit name fails before any work
        bar = new_progress()
        task = bar.add_task("training examples", total=None)

        def update(done: int, total: int) -> None:
            if not bar.live.is_started:  # shown once sampling is done: errors come first
                bar.start()
            bar.update(task, completed=done, total=total)

        try:
            stats = build_training_data(catalog, out_dir, request, overwrite=overwrite,
                                        progress=update)
        finally:
            if bar.live.is_started:
                bar.stop()
        from indievalue.catalog.store import Catalog

        synthetic_banner(Catalog.load(catalog).synthetic)
        line = (f"{stats['examples']:,} examples ({stats['per_question']} per question) from "
                f"{stats['distinct_persons']:,} training persons in {stats['seconds']:.1f} s")
        tok = stats.get("tokens")
        if tok:
            line += (f"; tokens min {tok['min']} / mean {tok['mean']:.0f} / max {tok['max']}, "
                     f"{tok['over_max_length']} over {stats['max_length']}")
        out.print(line)
        out.print(f"training data: {out_dir}")

    @app.command("train")
    def train_cmd(
        data: Path = typer.Option(..., "--data", help="Directory written by train-data."),
        base_model: Path = typer.Option(..., "--base-model",
                                        help="Local transformers model directory."),
        out_dir: Path = typer.Option(..., "--out",
                                     help="Output directory (resumed if it holds this run)."),
        lora: bool = typer.Option(False, "--lora", help="Train LoRA adapters (peft)."),
        config: Path | None = typer.Option(
            None, "--config", help="YAML file of training settings (defaults: paper Table 16)."),
        set_: list[str] = typer.Option(
            [], "--set", help="Override one setting, KEY=VALUE (repeatable)."),
    ) -> None:
        """Fine-tune a causal LM on a training set (loss on the answers only); the model and
        tokenizer land in OUT/final, ready for `indievalue evaluate --predictor hf`."""
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
