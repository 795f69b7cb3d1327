"""Batch API files: every episode as an OpenAI Batch API request line, and the provider's
result file read back as recorded answers.

``indievalue export batch --out requests.jsonl`` writes one line per episode::

    {"custom_id": "iv-<plan digest>-p<person>-s<setup>-e<episode>", "method": "POST",
     "url": "/v1/chat/completions",
     "body": {"model", "messages", "temperature", "top_p", "max_tokens", "seed"}}

— the body the ``openai`` predictor sends for the episode's first attempt (the prompt and
parameters come from :mod:`indievalue.lm.plan`), and beside it ``requests.plan.json``, the
:class:`~indievalue.lm.plan.PlanFile`. A batch asks once: there are no retries, and an answer
the parser cannot read is a parse failure.

``indievalue import batch results.jsonl --plan requests.plan.json`` reads the result lines
(``{"custom_id", "response": {"status_code", "body": <chat completion>}, "error"}``). A line
that is not a result (``malformed``), belongs to another export (``foreign``: another plan
digest or an episode the plan lacks), repeats an episode (``duplicate``) or reports a failed
request (``failed``) is counted by kind with its line numbers, never silently dropped; its
episode, like one with no line at all, is recorded with status error.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from indievalue.catalog.store import Catalog
from indievalue.errors import IndieValueError
from indievalue.fsutil import atomic_open, read_json, write_json
from indievalue.lm.backends.base import Completion, GenParams
from indievalue.lm.plan import EpisodeKey, PlanFile, Recorded, make_plan, parse_plan_file
from indievalue.runs.config import EvalConfig

ENDPOINT = "/v1/chat/completions"
#: What a line of a result file can be besides a usable answer.
UNUSED_KINDS = ("malformed", "foreign", "duplicate", "failed")
#: LM options a batch request carries (a batch asks once: no retries).
BATCH_OPTIONS = ("prompt_template", "system_prompt", "temperature", "top_p", "max_new_tokens")
_SHOWN_LINES = 5


def plan_path_for(requests: Path) -> Path:
    """``requests.jsonl`` → ``requests.plan.json``."""
    return requests.with_suffix(".plan.json")


def custom_id(digest: str, key: EpisodeKey) -> str:
    return f"iv-{digest}-{key.text}"


def request_body(model: str, messages: list[dict[str, str]], params: GenParams) -> dict[str, Any]:
    """A chat completion request with the fields and values the openai backend sends."""
    return {"model": model, "messages": messages, "temperature": params.temperature,
            "top_p": params.top_p, "max_tokens": params.max_new_tokens, "seed": params.seed}


@dataclass(frozen=True)
class BatchExport:
    requests: Path
    plan: Path
    n_requests: int
    plan_file: PlanFile


def export_batch(catalog: Catalog, config: EvalConfig, out: str | Path,
                 model: str) -> BatchExport:
    """Write the request lines of ``config`` on ``catalog`` to ``out`` and the plan beside it.

    ``config.predictor_options`` may hold the options of :data:`BATCH_OPTIONS` only."""
    extra = sorted(set(config.predictor_options) - set(BATCH_OPTIONS))
    if extra:
        raise IndieValueError(f"export batch: option {extra[0]} does not apply to batch "
                              f"requests (they take {', '.join(BATCH_OPTIONS)})")
    if not model:
        raise IndieValueError("export batch: give --model (the model named in each request)")
    config = config.replace(predictor="replay",
                            predictor_options={**config.predictor_options, "retries": 0})
    plan = make_plan(catalog, config)
    plan_file = plan.file(model=model)
    params = plan.params(0)
    out = Path(out)
    n = 0
    with atomic_open(out) as fh:
        for ep in plan.episodes():
            line = {"custom_id": custom_id(plan_file.digest, ep.key), "method": "POST",
                    "url": ENDPOINT, "body": request_body(model, ep.messages, params)}
            fh.write((json.dumps(line, ensure_ascii=False) + "\n").encode("utf-8"))
            n += 1
    plan_out = plan_path_for(out)
    write_json(plan_out, plan_file.model_dump(mode="json"))
    return BatchExport(out, plan_out, n, plan_file)


def read_plan(path: str | Path) -> PlanFile:
    return parse_plan_file(read_json(path), str(path))


def _completion(body: Any) -> Completion | None:
    """The text and token counts of a chat completion body, or None if it has no text."""
    try:
        text = body["choices"][0]["message"]["content"]
    except (TypeError, KeyError, IndexError):
        return None
    if not isinstance(text, str):
        return None
    usage = body.get("usage") if isinstance(body.get("usage"), dict) else {}
    return Completion(text, int(usage.get("prompt_tokens") or 0),
                      int(usage.get("completion_tokens") or 0))


def _classify(line: str, prefix: str, seen: set[EpisodeKey]
              ) -> tuple[str, EpisodeKey | None, Completion | None, str | None]:
    """(kind, key, completion, model) of one result line; kind 'ok' or an unused kind."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError:
        return "malformed", None, None, None
    if not isinstance(obj, dict) or not isinstance(obj.get("custom_id"), str) \
            or ("response" not in obj and "error" not in obj):
        return "malformed", None, None, None
    cid = obj["custom_id"]
    key = EpisodeKey.parse(cid[len(prefix):]) if cid.startswith(prefix) else None
    if key is None:
        return "foreign", None, None, None
    if key in seen:
        return "duplicate", key, None, None
    response = obj.get("response")
    if obj.get("error") or not isinstance(response, dict) \
            or response.get("status_code") != 200:
        return "failed", key, None, None
    body = response.get("body")
    comp = _completion(body)
    if comp is None or not isinstance(body, dict):
        return "malformed", key, None, None
    model = body.get("model") if isinstance(body.get("model"), str) else None
    return "ok", key, comp, model


def read_batch_results(results: str | Path, plan: str | Path) -> Recorded:
    """The answers of a Batch API result file for the export whose plan is ``plan``.

    Refused with one line when the file is unreadable or holds no answer of this export."""
    p = Path(results)
    plan_file = read_plan(plan)
    prefix = f"iv-{plan_file.digest}-"
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise IndieValueError(f"{p}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise IndieValueError(f"{p}: cannot read ({exc})") from None
    answers: dict[EpisodeKey, list[tuple[GenParams | None, Completion]]] = {}
    unused: dict[str, int] = {}
    lines_of: dict[str, list[int]] = {}
    models: set[str] = set()
    seen: set[EpisodeKey] = set()
    n_lines = 0
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        n_lines += 1
        kind, key, comp, model = _classify(line, prefix, seen)
        if key is not None:
            seen.add(key)
        if kind != "ok" or key is None or comp is None:
            unused[kind] = unused.get(kind, 0) + 1
            lines_of.setdefault(kind, []).append(n)
            continue
        answers[key] = [(None, comp)]
        if model:
            models.add(model)
    if not answers:
        counts = ", ".join(f"{k} {v}" for k, v in sorted(unused.items())) or "empty"
        raise IndieValueError(f"{p}: no result of the export {plan} ({n_lines} lines: "
                              f"{counts})")
    details = {"batch": {"plan": str(Path(plan).resolve()), "lines": n_lines,
                         "unused_lines": {k: v[:_SHOWN_LINES] for k, v in lines_of.items()},
                         "response_models": sorted(models)}}
    return Recorded(plan_file=plan_file, route="batch", source=p, model=plan_file.model,
                    answers=answers, unused=unused, unknown="count", details=details,
                    item="result")
