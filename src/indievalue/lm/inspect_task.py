"""The IndieValue protocol as an Inspect task: ``inspect eval indievalue/indievalue
-T catalog=DIR --model PROVIDER/MODEL``.

Registered with Inspect through the ``inspect_ai`` entry point of the ``indievalue``
distribution (``pip install 'indievalue[inspect]'``). The pieces follow Inspect's conventions:

- dataset: one :class:`~inspect_ai.dataset.Sample` per episode of :func:`make_plan` — the eval
  set, setups, demonstrations and prompts of ``indievalue evaluate`` for the same settings and
  seed. The sample id is the episode key (``p<person>-s<setup>-e<episode>``); the metadata
  holds the person, setup, episode, probe question ids and option texts; the target holds the
  gold answers (``NSGi_sj`` per probe for protocol A, ``Option k`` for B).
- solver :func:`answer`: generates with indievalue's decoding parameters and resamples an
  answer the parser cannot read completely (``retries`` times, at ``retry_temperature``,
  seeded per attempt), keeping the most complete one — as the ``openai`` predictor does. Every
  attempt's text and parameters go into the sample's store, for ``indievalue import inspect``.
- scorer :func:`probe_accuracy`: indievalue's own parser (protocol A by NSG key, B by
  ``Option k``); the value is the episode's fraction of probes answered right; metrics are
  accuracy (with its standard error) and the count of probes whose answer could not be parsed.

The task's metadata (``indievalue``) holds the :class:`~indievalue.lm.plan.PlanFile`, so the
log alone says which evaluation it is.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from inspect_ai import Task, task
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.model import ChatMessageSystem, ChatMessageUser
from inspect_ai.scorer import (
    Metric,
    SampleScore,
    Score,
    Scorer,
    Target,
    accuracy,
    metric,
    scorer,
    stderr,
)
from inspect_ai.solver import Generate, Solver, TaskState, solver
from pydantic import ValidationError

from indievalue.catalog.store import Catalog
from indievalue.errors import IndieValueError
from indievalue.lm.parsing import parse_protocol_a, parse_protocol_b
from indievalue.lm.plan import PlannedEpisode, make_plan
from indievalue.lm.replay import ReplayPredictor
from indievalue.runs.config import EvalConfig

#: Key of the sample store entry holding every attempt: {"params": GenParams.key(), "text",
#: "tokens_in", "tokens_out"}.
ATTEMPTS_KEY = "indievalue:attempts"
#: Key of the task metadata entry holding the plan file.
PLAN_KEY = "indievalue"
_GOLD = re.compile(r"(?:_s|Option )(\d+)$")


def parse_choices(protocol: str, text: str, options: list[list[str]]) -> list[int]:
    """The option chosen for each probe (-1: not readable), as the LM predictors parse."""
    if protocol == "A":
        return parse_protocol_a(text, [len(o) for o in options]).choices
    return [parse_protocol_b(text, options[0])]


def gold_targets(ep: PlannedEpisode) -> list[str]:
    """The gold answers in the form a model is asked to give them ('none' where the person
    gave none)."""
    if ep.protocol == "A":
        return [f"NSG{j}_s{g + 1}" if g >= 0 else "none" for j, g in enumerate(ep.gold, 1)]
    return [f"Option {ep.gold[0] + 1}" if ep.gold[0] >= 0 else "none"]


def _sample(ep: PlannedEpisode) -> Sample:
    messages = [ChatMessageSystem(content=m["content"]) if m["role"] == "system"
                else ChatMessageUser(content=m["content"]) for m in ep.messages]
    return Sample(
        id=ep.key.text, input=messages, target=gold_targets(ep),  # type: ignore[arg-type]
        metadata={"person_id": ep.key.person_id, "setup": ep.key.setup,
                  "episode": ep.key.episode, "protocol": ep.protocol,
                  "questions": ep.questions, "options": ep.options})


@solver
def answer(attempts: list[dict[str, Any]]) -> Solver:
    """Generate; while the answer is not completely readable and attempts are left, resample
    from the same prompt. ``attempts``: the decoding parameters of each attempt."""

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        prompt = list(state.messages)
        meta = state.metadata
        n_probes = len(meta["options"])
        best: tuple[int, Any, list[Any]] | None = None
        done: list[dict[str, Any]] = []
        for params in attempts:
            state.messages = list(prompt)
            state = await generate(state, temperature=params["temperature"],
                                   top_p=params["top_p"], max_tokens=params["max_new_tokens"],
                                   seed=params["seed"])
            text = state.output.completion
            usage = state.output.usage
            done.append({"params": params, "text": text,
                         "tokens_in": usage.input_tokens if usage else 0,
                         "tokens_out": usage.output_tokens if usage else 0})
            n_ok = sum(c >= 0 for c in parse_choices(meta["protocol"], text, meta["options"]))
            if best is None or n_ok > best[0]:  # keep the most complete answer seen
                best = (n_ok, state.output, list(state.messages))
            if n_ok == n_probes:
                break
        assert best is not None
        _, state.output, state.messages = best
        state.store.set(ATTEMPTS_KEY, done)
        return state

    return solve


@metric
def parse_failures() -> Metric:
    """Probes whose answer could not be parsed (scored wrong)."""

    def compute(scores: list[SampleScore]) -> float:
        return float(sum((s.score.metadata or {}).get("parse_failures", 0) for s in scores))

    return compute


@scorer(metrics=[accuracy(), stderr(), parse_failures()])
def probe_accuracy() -> Scorer:
    """The fraction of the episode's probes answered right, by indievalue's parser."""

    async def score(state: TaskState, target: Target) -> Score:
        meta = state.metadata
        choices = parse_choices(meta["protocol"], state.output.completion, meta["options"])
        gold = [int(m.group(1)) - 1 if (m := _GOLD.search(t)) else -1 for t in target.target]
        right = [c >= 0 and c == g for c, g in zip(choices, gold, strict=True)]
        shown = [f"{c + 1}" if c >= 0 else "-" for c in choices]
        return Score(value=sum(right) / len(right), answer=",".join(shown),
                     metadata={"choices": choices, "gold": gold,
                               "parse_failures": sum(c < 0 for c in choices)})

    return score


def _text(value: Any) -> Any:
    """A text argument that Inspect split at its commas, joined again."""
    return ",".join(map(str, value)) if isinstance(value, list) else value


@task
def indievalue(
    catalog: str,
    protocol: str = "A",
    form: str = "polar",
    demo_form: str | None = None,
    probe_form: str | None = None,
    demos: int = 200,
    demographics: str = "off",
    demo_category: str | None = None,
    seed: int = 0,
    eval_size: int | None = None,
    eval_ids: str | None = None,
    prompt_template: str | None = None,
    system_prompt: str | None = None,
    temperature: float = 0.0,
    top_p: float = 1.0,
    max_new_tokens: int | None = None,
    retries: int = 3,
    retry_temperature: float = 0.6,
) -> Task:
    """The IndieValue protocol on the catalog directory ``catalog``.

    Args:
        catalog: Catalog directory (from ``indievalue catalog build``).
        protocol: A (all probes of a setup in one episode) or B (one probe per episode).
        form: Statement form of demonstrations and probes (polar or refined).
        demo_form: Form of the demonstrations, overriding ``form``.
        probe_form: Form of the probes, overriding ``form``.
        demos: Demonstrations per episode (0-200).
        demographics: off, on (before the demonstrations) or only (instead of them).
        demo_category: Category key restricting the demonstrations.
        seed: Seed of the eval set, demonstrations and decoding.
        eval_size: Size of the drawn eval set (default: the catalog spec's, 800 for WVS-7;
            ignored with ``eval_ids``).
        eval_ids: File of eval person ids, one per line.
        prompt_template: File with an exact prompt template.
        system_prompt: Optional system message.
        temperature: Temperature of the first answer.
        top_p: Nucleus sampling threshold.
        max_new_tokens: Generation limit (default 4096 for protocol A, 64 for B).
        retries: Resamples of an answer the parser cannot read completely.
        retry_temperature: Temperature of the resamples.
    """
    # Inspect reads -T values as YAML and splits text at commas: undo both for our text
    # arguments (on/off arrive as booleans, a system prompt with commas as a list).
    if isinstance(demographics, bool):
        demographics = "on" if demographics else "off"
    catalog, eval_ids, prompt_template, system_prompt = (
        _text(v) for v in (catalog, eval_ids, prompt_template, system_prompt))
    lm = {"prompt_template": prompt_template, "system_prompt": system_prompt,
          "temperature": temperature, "top_p": top_p, "max_new_tokens": max_new_tokens,
          "retries": retries, "retry_temperature": retry_temperature}
    try:
        config = EvalConfig.model_validate({
            "predictor": ReplayPredictor.name, "predictor_options": lm, "protocol": protocol,
            "demo_form": demo_form or form, "probe_form": probe_form or form, "demos": demos,
            "demographics": demographics, "demo_category": demo_category, "seed": seed,
            "eval_size": eval_size, "eval_ids_file": Path(eval_ids) if eval_ids else None})
    except ValidationError as exc:
        first = exc.errors()[0]
        raise IndieValueError(f"indievalue task: {'.'.join(map(str, first['loc']))}: "
                              f"{first['msg']}") from None
    plan = make_plan(Catalog.load(catalog), config)
    samples = [_sample(ep) for ep in plan.episodes()]
    attempts = [plan.params(k).key() for k in range(plan.n_attempts)]
    return Task(
        dataset=MemoryDataset(samples, name=f"indievalue-{protocol}-{plan.catalog.content_hash}"),
        solver=answer(attempts),
        scorer=probe_accuracy(),
        metadata={PLAN_KEY: plan.file().model_dump(mode="json")},
    )
