"""Turning model text into option choices; anything unrecoverable is a parse failure.

Reasoning traces (``<think>…</think>`` and similar) are removed before parsing; the raw text is
kept in the records by the caller.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

_TRACE = re.compile(r"<(think|thinking|reasoning|scratchpad)>.*?</\1>", re.S | re.I)
_OPEN_TRACE = re.compile(r"^.*?</(think|thinking|reasoning|scratchpad)>", re.S | re.I)
_FENCE = re.compile(r"```(?:json)?", re.I)
_NSG_KEY = re.compile(r"NSG\s*(\d+)", re.I)
_CHOICE = re.compile(r"NSG\s*(\d+)\s*_\s*s\s*(\d+)", re.I)
_OPTION = re.compile(r"option\s*(\d+)", re.I)


def strip_reasoning(text: str) -> str:
    """Drop reasoning traces, including an unclosed leading one that ends with its close tag."""
    text = _TRACE.sub("", text)
    return _OPEN_TRACE.sub("", text).strip()


@dataclass(frozen=True)
class ParsedA:
    """Choices of a protocol-A answer: ``choices[i]`` for group i (0-based), -1 if missing."""

    choices: list[int]

    @property
    def complete(self) -> bool:
        return all(c >= 0 for c in self.choices)


def _json_object(text: str) -> dict | None:
    cleaned = _FENCE.sub("", text)
    for marker in ("[Your Response]:", "Response:"):
        cleaned = cleaned.replace(marker, "")
    cleaned = cleaned.strip()
    start, end = cleaned.find("{"), cleaned.rfind("}")
    if start < 0 or end <= start:
        return None
    try:
        obj = json.loads(cleaned[start : end + 1])
    except json.JSONDecodeError:
        return None
    return obj if isinstance(obj, dict) else None


def parse_protocol_a(text: str, n_options: list[int]) -> ParsedA:
    """Map answers to groups by the NSG number in each key (not by position).

    A group's answer counts only if its key names that group, its ``choice`` names the same
    group and an option within range. Duplicated or unknown keys are ignored.
    """
    choices = [-1] * len(n_options)
    obj = _json_object(strip_reasoning(text))
    if obj is None:
        return ParsedA(choices)
    seen: set[int] = set()
    for key, value in obj.items():
        m = _NSG_KEY.search(str(key))
        if not m:
            continue
        group = int(m.group(1)) - 1
        raw = value.get("choice") if isinstance(value, dict) else value
        c = _CHOICE.search(str(raw)) if raw is not None else None
        if not (0 <= group < len(n_options)) or c is None or group in seen:
            continue
        seen.add(group)
        if int(c.group(1)) - 1 != group:
            continue
        opt = int(c.group(2)) - 1
        if 0 <= opt < n_options[group]:
            choices[group] = opt
    return ParsedA(choices)


def parse_protocol_b(text: str, options: list[str]) -> int:
    """Option index named by an ``Option k`` answer (0-based), or -1.

    Falls back to an exact (case-insensitive) statement match when no option number is given.
    """
    body = strip_reasoning(text)
    m = _OPTION.search(body)
    if m:
        k = int(m.group(1)) - 1
        return k if 0 <= k < len(options) else -1
    norm = body.strip().strip(".").lower()
    for k, opt in enumerate(options):
        if norm == opt.lower():
            return k
    return -1
