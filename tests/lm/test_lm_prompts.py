"""Prompt rendering of the LM predictors: protocol A's NSG JSON block, protocol B's option
lines, known statements (``# `` + capitalised, demographics first), template files."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from _lm_support import LMWorld, lm_catalog

from indievalue.benchmark.episodes import Episodes, build_episodes
from indievalue.benchmark.setups import probe_setups
from indievalue.catalog.store import Catalog
from indievalue.errors import IndieValueError
from indievalue.lm.prompts import PromptTemplates, nsg_block, option_lines
from indievalue.predictors import make_predictor

D = 5


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> LMWorld:
    return lm_catalog(tmp_path_factory)


def episodes(world: LMWorld, protocol: str, demographics: str = "off") -> Episodes:
    cat = Catalog.load(world.catalog)
    ids = np.array([int(x) for x in world.ids_2.read_text().split()])
    setup = probe_setups(cat.spec)[1]
    return build_episodes(cat, ids, setup, protocol=protocol,  # type: ignore[arg-type]
                          demos=D, demographics=demographics, seed=3).episodes  # type: ignore[arg-type]


def user_text(eps: Episodes, e: int = 0, **options: str) -> str:
    pred = make_predictor("hf", {"model": "unused", **options})
    msgs = pred.messages(eps, e)  # type: ignore[attr-defined]
    assert msgs[-1]["role"] == "user"
    return str(msgs[-1]["content"])


def expected_known(eps: Episodes, e: int, with_demographics: bool = False) -> list[str]:
    lines = []
    if with_demographics:
        assert eps.demographics is not None
        lines += ["# " + s[0].upper() + s[1:] for s in eps.demographics[e]]
    for q, a in zip(eps.demo_qidx[e], eps.demo_answers[e], strict=True):
        text = eps.spec.questions[q].options(eps.demo_form)[a].text
        lines.append("# " + text[0].upper() + text[1:])
    return lines


def test_protocol_b_layout(world: LMWorld) -> None:
    eps = episodes(world, "B")
    text = user_text(eps, 2)
    known = expected_known(eps, 2)
    options = eps.option_texts(2, 0)
    tail = ("[Known statements]:\n```\n" + "".join(k + "\n" for k in known) + "```\n\n"
            "[New statements options]:\n"
            + "".join(f"Option {j}: {o}\n" for j, o in enumerate(options, 1))
            + "\n[Person A most likely agrees with]:")
    assert text.endswith(tail)
    assert text.startswith("Here are statements that Person A has made")
    assert len(known) == D
    # options are the raw statements (not capitalised); known statements are capitalised
    assert any(o[0].islower() for o in options)
    assert all(re.match(r"# [^a-z]", k) for k in known)


def test_protocol_a_json_block(world: LMWorld) -> None:
    eps = episodes(world, "A")
    text = user_text(eps, 1)
    known = expected_known(eps, 1)
    assert "[Known Statements of Person A]:\n```\n" + "\n".join(known) + "\n```" in text
    block = text.split("[New Groups of Statements]:\n```\n")[-1].split("\n```")[0]
    obj = json.loads(block)
    m = eps.probe_qidx.shape[1]
    assert list(obj) == [f"new statement group {i} (NSG{i})" for i in range(1, m + 1)]
    for i, (key, items) in enumerate(obj.items(), 1):
        opts = eps.option_texts(1, i - 1)
        assert items == [{f"NSG{i}_s{j}": o} for j, o in enumerate(opts, 1)], key
    # 4-space indentation, exactly what json.dumps(indent=4) writes
    assert block == json.dumps(obj, indent=4)
    assert '\n    "new statement group 1 (NSG1)": [\n        {\n            "NSG1_s1": ' in block
    assert text.rstrip().endswith("[Your Response]:")


def test_demographics_come_first(world: LMWorld) -> None:
    eps = episodes(world, "B", demographics="on")
    assert eps.demographics is not None and len(eps.demographics[0]) > 5
    text = user_text(eps, 0)
    body = text.split("[Known statements]:\n```\n")[1].split("```")[0]
    lines = body.splitlines()
    assert lines == expected_known(eps, 0, with_demographics=True)
    n_demo = len(eps.demographics[0])
    assert lines[n_demo:] == expected_known(eps, 0)  # the demonstrations follow


def test_system_prompt_is_its_own_message(world: LMWorld) -> None:
    eps = episodes(world, "B")
    pred = make_predictor("hf", {"model": "unused", "system_prompt": "Be brief."})
    msgs = pred.messages(eps, 0)  # type: ignore[attr-defined]
    assert [m["role"] for m in msgs] == ["system", "user"]
    assert msgs[0]["content"] == "Be brief."
    plain = make_predictor("hf", {"model": "unused"}).messages(eps, 0)  # type: ignore[attr-defined]
    assert [m["role"] for m in plain] == ["user"]


def test_template_file_placeholders(world: LMWorld, tmp_path: Path) -> None:
    tpl = tmp_path / "tpl.txt"
    tpl.write_text('KNOWN<{known_statements}>\n{"keep": {braces}} {other}\n'
                   "PROBES<{probe_statements}>", encoding="utf-8")
    eps_b = episodes(world, "B")
    text = user_text(eps_b, 0, prompt_template=str(tpl))
    known = "".join(k + "\n" for k in expected_known(eps_b, 0))
    assert text == (f"KNOWN<{known}>\n" + '{"keep": {braces}} {other}\n'
                    f"PROBES<{option_lines(eps_b.option_texts(0, 0))}>")
    eps_a = episodes(world, "A")
    text_a = user_text(eps_a, 0, prompt_template=str(tpl))
    groups = [eps_a.option_texts(0, j) for j in range(eps_a.probe_qidx.shape[1])]
    assert text_a == ("KNOWN<" + "\n".join(expected_known(eps_a, 0)) + ">\n"
                      + '{"keep": {braces}} {other}\n' + f"PROBES<{nsg_block(groups)}>")


def test_template_missing_placeholder(tmp_path: Path, world: LMWorld) -> None:
    tpl = tmp_path / "bad.txt"
    tpl.write_text("only {known_statements} here", encoding="utf-8")
    with pytest.raises(IndieValueError, match=r"lacks \{probe_statements\}"):
        PromptTemplates.from_file(tpl)
    # and through the predictor, on first use
    with pytest.raises(IndieValueError, match="probe_statements"):
        user_text(episodes(world, "B"), 0, prompt_template=str(tpl))
    with pytest.raises(IndieValueError, match="cannot read"):
        PromptTemplates.from_file(tmp_path / "absent.txt")
