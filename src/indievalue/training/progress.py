"""A trainer callback: a rich progress bar with loss and tokens/s, one log line per logging
step (readable in a non-interactive log too), and ``train_log.jsonl`` in the output folder.
Only the main process shows or writes anything."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from transformers import TrainerCallback

LOG_FILE = "train_log.jsonl"


class RichProgressCallback(TrainerCallback):
    def __init__(self, out: Path, console: Console | None = None):
        self.out = out
        self.console = console or Console(stderr=True, highlight=False)
        self._bar: Progress | None = None
        self._task: Any = None
        self._last_time = 0.0
        self._last_tokens = 0
        self._last_step = 0
        self.history: list[dict[str, Any]] = []

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if not state.is_world_process_zero:
            return
        self._last_time = time.perf_counter()
        self._last_tokens = int(getattr(state, "num_input_tokens_seen", 0) or 0)
        self._last_step = state.global_step
        self._bar = Progress(TextColumn("training"), BarColumn(), MofNCompleteColumn(),
                             TextColumn("{task.fields[info]}"), TimeElapsedColumn(),
                             console=self.console, transient=False)
        self._bar.start()
        self._task = self._bar.add_task("train", total=state.max_steps,
                                        completed=state.global_step, info="")

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self._bar is not None:
            self._bar.update(self._task, completed=state.global_step)

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None,
               **kwargs: Any) -> None:
        if not state.is_world_process_zero or not logs:
            return
        now = time.perf_counter()
        tokens = int(getattr(state, "num_input_tokens_seen", 0) or 0)
        elapsed = max(now - self._last_time, 1e-9)
        entry: dict[str, Any] = {"step": state.global_step,
                                 "epoch": round(float(state.epoch or 0), 4)}
        entry.update({k: v for k, v in logs.items() if isinstance(v, (int, float))})
        if state.global_step > self._last_step:
            entry["tokens_per_second"] = round((tokens - self._last_tokens) / elapsed, 1)
        entry["tokens_seen"] = tokens
        self._last_time, self._last_tokens, self._last_step = now, tokens, state.global_step
        self.history.append(entry)
        with open(self.out / LOG_FILE, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry) + "\n")
        parts = [f"step {entry['step']}/{state.max_steps}"]
        if "loss" in entry:
            parts.append(f"loss {entry['loss']:.4f}")
        if "learning_rate" in entry:
            parts.append(f"lr {entry['learning_rate']:.2e}")
        if "tokens_per_second" in entry:
            parts.append(f"{entry['tokens_per_second']:.0f} tok/s")
        line = " | ".join(parts)
        if self._bar is not None:
            self._bar.update(self._task, info=line)
            self._bar.console.print(line)
        else:
            self.console.print(line)

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self._bar is not None:
            self._bar.update(self._task, completed=state.global_step)
            self._bar.stop()
            self._bar = None
