"""``indievalue import inspect LOG``: an Inspect eval log of the ``indievalue/indievalue`` task
read back as recorded answers (:class:`~indievalue.lm.plan.Recorded`).

The log names its evaluation (the plan file in the task metadata) and the model; each sample
is one episode (its id is the episode key), with the prompt it was asked and, in its store,
every attempt's text and decoding parameters. A sample that ended in an error has no answer
(counted; its episode is recorded with status error). A log that is unreadable, of another
task, run over several epochs, or whose samples are not the plan's episodes is refused with one
line: the run it would make would not be the evaluation it claims to be.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from indievalue.errors import IndieValueError, require
from indievalue.lm.backends.base import Completion, GenParams, Messages
from indievalue.lm.plan import EpisodeKey, Recorded, parse_plan_file

TASK_NAME = "indievalue/indievalue"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


def _messages(sample: Any) -> Messages:
    if isinstance(sample.input, str):
        return [{"role": "user", "content": sample.input}]
    return [{"role": str(m.role), "content": m.text} for m in sample.input]


def _attempts(sample: Any, where: str) -> list[tuple[GenParams | None, Completion]]:
    """Each attempt's parameters and text: from the store the task's solver fills, else (a
    solver of the user's own) the final output as the first attempt."""
    from indievalue.lm.inspect_task import ATTEMPTS_KEY

    stored = (sample.store or {}).get(ATTEMPTS_KEY)
    if stored is None:
        usage = sample.output.usage if sample.output is not None else None
        text = sample.output.completion if sample.output is not None else ""
        return [(None, Completion(text, usage.input_tokens if usage else 0,
                                  usage.output_tokens if usage else 0))]
    try:
        return [(GenParams(**a["params"]),
                 Completion(str(a["text"]), int(a.get("tokens_in") or 0),
                            int(a.get("tokens_out") or 0)))
                for a in stored]
    except (TypeError, KeyError, ValueError):
        raise IndieValueError(f"{where}: the attempts in its store are damaged") from None


def read_inspect_log(path: str | Path) -> Recorded:
    """The answers of an Inspect eval log of the indievalue task."""
    require("inspect_ai", purpose="importing an Inspect eval log",
            install="'indievalue[inspect]'")
    from inspect_ai.log import read_eval_log

    from indievalue.lm.inspect_task import PLAN_KEY

    p = Path(path)
    if not p.is_file():
        raise IndieValueError(f"{p}: no such file")
    try:
        log = read_eval_log(str(p), resolve_attachments=True)
    except Exception as exc:  # a damaged file raises whatever its reader meets first
        raise IndieValueError(f"{p}: not a readable Inspect eval log "
                              f"({_first_line(exc)})") from None
    spec = log.eval
    if spec.task != TASK_NAME:
        raise IndieValueError(f"{p}: a log of the task {spec.task!r}, not {TASK_NAME!r}")
    plan_file = parse_plan_file((spec.metadata or {}).get(PLAN_KEY), f"{p}: task metadata")
    epochs = spec.config.epochs or 1
    if epochs != 1:
        raise IndieValueError(f"{p}: run over {epochs} epochs; a run records one answer per "
                              "episode (run with --epochs 1)")
    if not log.samples:
        raise IndieValueError(f"{p}: holds no samples (log status {log.status})")
    answers: dict[EpisodeKey, list[tuple[GenParams | None, Completion]]] = {}
    prompts: dict[EpisodeKey, Messages] = {}
    unused: dict[str, int] = {}
    for sample in log.samples:
        key = EpisodeKey.parse(str(sample.id))
        where = f"{p}: sample {sample.id}"
        if key is None:
            raise IndieValueError(f"{where}: its id is not an episode key (p<person>-s<setup>-"
                                  "e<episode>)")
        if key in prompts:
            raise IndieValueError(f"{where}: appears twice")
        prompts[key] = _messages(sample)
        if sample.error is not None:
            unused["sample_error"] = unused.get("sample_error", 0) + 1
            continue
        answers[key] = _attempts(sample, where)
    details = {"inspect": {
        "task": spec.task, "eval_id": spec.eval_id, "run_id": spec.run_id,
        "created": spec.created, "status": log.status,
        "inspect_ai": (spec.packages or {}).get("inspect_ai"),
        "model_base_url": spec.model_base_url, "samples": len(log.samples)}}
    return Recorded(plan_file=plan_file, route="inspect", source=p, model=spec.model,
                    answers=answers, prompts=prompts, unused=unused, unknown="refuse",
                    details=details, item="sample")
