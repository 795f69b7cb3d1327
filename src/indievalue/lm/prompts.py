"""Prompts for language-model predictors, in our own wording with the protocol's structure.

Protocol A (PROTOCOL §3.5): one user message with instructions, the known statements of
"Person A", the 39 probe groups as a JSON object keyed ``new statement group i (NSGi)``, and a
request for a JSON answer ``{"NSGi": {"rationale": ..., "choice": "NSGi_sj"}``.

Protocol B (§3.6 / §6.4): one user message with a short instruction, the known statements, the
options as ``Option j: <statement>`` lines and a final header; the answer is ``Option k: <text>``.

A user may supply an exact template file instead (``prompt_template=FILE``). Placeholders:

- ``{known_statements}`` — the rendered known statements (``# Statement`` lines; demographics
  first when enabled), joined with newlines;
- ``{probe_statements}`` — protocol A: the NSG JSON block; protocol B: the ``Option j: ...``
  lines, each ending in a newline.

Only these two names are substituted (plain text replacement, so braces elsewhere are kept).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from indievalue.errors import IndieValueError

PLACEHOLDERS = ("{known_statements}", "{probe_statements}")

PROTOCOL_A_TEMPLATE = """\
You are helping researchers understand the value system of one individual. Below you will find \
statements that this person, Person A, has made about their values and preferences. Work out the \
values behind them and use that understanding to predict how Person A would respond to further \
statements.

Instructions:

Step 1. Read the known statements. They are listed one per line, each starting with "# ", for \
example:
# I think hard work usually pays off
# I rarely trust people I meet for the first time
# Religion matters a great deal to me
# I would not mind having immigrants as neighbors
They appear in this format:
[Known Statements of Person A]:
```
# known statement 1
# known statement 2
...
```

Step 2. Study each group of new statements and predict. Every group lists alternative \
statements; pick exactly one per group: the statement Person A would most likely agree with or \
express. The groups appear in this format:
[New Groups of Statements]:
```
{"new statement group 1 (NSG1)": [{"NSG1_s1": "..."}, {"NSG1_s2": "..."}], ...}
```

Step 3. Give your answer as a JSON object with one entry per group, in this format:
[Your Response]:
```
{"NSG1": {"rationale": "...", "choice": "NSG1_s2"}, "NSG2": {"rationale": "...", \
"choice": "NSG2_s1"}, ...}
```

Now begin. Keep to the format: reply with the JSON object only, no other text, and use double \
quotes for every string.

[Known Statements of Person A]:
```
{known_statements}
```

[New Groups of Statements]:
```
{probe_statements}
```

[Your Response]:
"""

PROTOCOL_B_TEMPLATE = """\
Here are statements that Person A has made about their values and preferences. After them comes \
a set of new statements. Choose the one new statement that Person A would most likely agree \
with or express.

[Known statements]:
```
{known_statements}```

[New statements options]:
{probe_statements}
[Person A most likely agrees with]:"""


@dataclass(frozen=True)
class PromptTemplates:
    """The protocol A and B templates in use (built-in unless the user supplied a file)."""

    a: str = PROTOCOL_A_TEMPLATE
    b: str = PROTOCOL_B_TEMPLATE

    @classmethod
    def from_file(cls, path: str | Path | None) -> PromptTemplates:
        if path is None:
            return cls()
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as exc:
            raise IndieValueError(f"prompt_template: cannot read {p} ({exc})") from None
        missing = [ph for ph in PLACEHOLDERS if ph not in text]
        if missing:
            raise IndieValueError(f"prompt_template {p} lacks {', '.join(missing)}")
        return cls(text, text)


def fill(template: str, known: str, probes: str) -> str:
    return template.replace("{known_statements}", known).replace("{probe_statements}", probes)


def known_block(lines: list[str], protocol: str) -> str:
    """Protocol A joins the lines (no trailing newline); protocol B ends each with one."""
    return "\n".join(lines) if protocol == "A" else "".join(line + "\n" for line in lines)


def nsg_block(groups: list[list[str]]) -> str:
    """Protocol A probe block: JSON with 4-space indentation, keys ``new statement group i
    (NSGi)``, values lists of ``{"NSGi_sj": option}``."""
    obj = {
        f"new statement group {i} (NSG{i})": [{f"NSG{i}_s{j}": text}
                                             for j, text in enumerate(options, 1)]
        for i, options in enumerate(groups, 1)
    }
    return json.dumps(obj, indent=4)


def option_lines(options: list[str]) -> str:
    """Protocol B options: ``Option j: statement`` lines, each ending in a newline."""
    return "".join(f"Option {j}: {text}\n" for j, text in enumerate(options, 1))


def protocol_b_answer(k: int, options: list[str]) -> str:
    """The canonical protocol-B answer for option index ``k`` (0-based)."""
    return f"Option {k + 1}: {options[k]}"
