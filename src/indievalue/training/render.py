"""Turning sampled units into chat examples, chunk by chunk.

The prompt is the protocol-B evaluation prompt, built with the same functions the LM predictors
use (``fill(template.b, known_block(lines, "B"), option_lines(options))``), and the target is
``protocol_b_answer(gold, options)``: a model trained here sees at evaluation exactly the layout
it was trained on.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from indievalue.catalog.spec import FORMS, Form
from indievalue.catalog.store import Catalog, render_demonstration
from indievalue.lm.prompts import (
    PromptTemplates,
    fill,
    known_block,
    option_lines,
    protocol_b_answer,
)
from indievalue.training.sampling import UnitSample, draw_demos

CHUNK = 2048  # examples rendered at a time (bounds memory; fixed so the random stream is too)


@dataclass(frozen=True)
class _Tables:
    """Everything rendered once per catalog: demonstration lines, option blocks, answers."""

    qids: list[str]
    demo_lines: dict[Form, list[list[str]]]  # form -> question -> option -> "# Statement"
    options: dict[Form, list[list[str]]]  # form -> question -> raw statements
    option_block: dict[Form, list[str]]  # form -> question -> "Option j: ..." lines


def _tables(cat: Catalog) -> _Tables:
    spec = cat.spec
    demo_lines: dict[Form, list[list[str]]] = {}
    options: dict[Form, list[list[str]]] = {}
    blocks: dict[Form, list[str]] = {}
    for form in FORMS:
        texts = [[o.text for o in q.options(form)] for q in spec.questions]
        options[form] = texts
        demo_lines[form] = [[render_demonstration(t) for t in opts] for opts in texts]
        blocks[form] = [option_lines(opts) for opts in texts]
    return _Tables(spec.qids, demo_lines, options, blocks)


class _Demographics:
    """Demographic statements (ids and rendered lines) of the persons a unit uses."""

    def __init__(self, cat: Catalog, rows: np.ndarray):
        unique = np.unique(rows)
        frame = cat.demographics.iloc[unique]
        entries = [e.did for e in cat.spec.demographics]
        columns = [frame[did].to_numpy(dtype=object) for did in entries]
        self.by_row: dict[int, tuple[list[str], list[str]]] = {}
        for i, row in enumerate(unique.tolist()):
            values = [(did, col[i]) for did, col in zip(entries, columns, strict=True)
                      if isinstance(col[i], str)]
            self.by_row[row] = ([d for d, _ in values],
                                [render_demonstration(s) for _, s in values])


def iter_examples(cat: Catalog, samples: list[UnitSample], rngs: list[np.random.Generator],
                  templates: PromptTemplates | None = None) -> Iterator[list[dict[str, Any]]]:
    """Chunks of example records, unit by unit in the given order."""
    template = (templates or PromptTemplates()).b
    tables = _tables(cat)
    person_ids = cat.person_ids
    for sample, rng in zip(samples, rngs, strict=True):
        unit = sample.unit
        demo_form: Form = unit.demo_form
        probe_form: Form = unit.probe_form
        demo_mat = cat.matrix(demo_form)
        demogr = _Demographics(cat, sample.rows) if unit.kind == "demographics" else None
        lines_of = tables.demo_lines[demo_form]
        opts_of = tables.options[probe_form]
        block_of = tables.option_block[probe_form]
        qids = tables.qids
        for start in range(0, len(sample), CHUNK):
            stop = min(start + CHUNK, len(sample))
            rows = sample.rows[start:stop]
            probe_q = sample.probe_qidx[start:stop]
            counts = sample.counts[start:stop]
            gold = sample.gold[start:stop].tolist()
            answers = demo_mat[rows]
            dq = draw_demos(answers, probe_q, counts, rng)
            da = np.take_along_axis(answers, np.maximum(dq, 0).astype(np.int64), axis=1)
            dq_list, da_list = dq.tolist(), da.tolist()
            out = []
            for e, (row, qi, c) in enumerate(zip(rows.tolist(), probe_q.tolist(),
                                                 counts.tolist(), strict=True)):
                if demogr is not None:
                    demo_ids, lines = demogr.by_row[row]
                else:
                    picked = dq_list[e][:c]
                    demo_ids = [qids[q] for q in picked]
                    lines = [lines_of[q][a] for q, a in zip(picked, da_list[e][:c], strict=True)]
                prompt = fill(template, known_block(lines, "B"), block_of[qi])
                answer = protocol_b_answer(gold[e], opts_of[qi])
                out.append({
                    "messages": [{"role": "user", "content": prompt},
                                 {"role": "assistant", "content": answer}],
                    "person_id": int(person_ids[row]),
                    "probe_qid": qids[qi],
                    "demo_qids": demo_ids,
                    "gold": gold[e],
                    "unit": unit.name,
                    "demo_form": "demographics" if demogr is not None else demo_form,
                    "probe_form": probe_form,
                    "n_demos": len(lines),
                    "n_tokens": -1,
                })
            yield out
