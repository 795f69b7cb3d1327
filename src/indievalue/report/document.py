"""A small document model rendered twice: Markdown (figures as files) and self-contained HTML
(figures as base64 PNG, inline CSS, no scripts, no external resources).

Text blocks support one inline markup, ``code`` in backticks; everything else is escaped.
"""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass, field
from typing import Union

CODE = re.compile(r"`([^`]+)`")


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Table:
    header: list[str]
    rows: list[list[str]]
    numeric: list[bool] | None = None  # right-align these columns
    caption: str = ""
    csv: str | None = None  # relative path of the table's CSV, linked below it


@dataclass(frozen=True)
class Image:
    stem: str  # file name without .png
    png: bytes
    caption: str


@dataclass(frozen=True)
class Details:
    """A collapsible block in HTML; a sub-heading in Markdown."""

    summary: str
    blocks: list[Block]


Block = Union[Text, Table, Image, Details]  # noqa: UP007 - a runtime alias, py3.10 safe


@dataclass
class Section:
    anchor: str
    title: str
    blocks: list[Block] = field(default_factory=list)


@dataclass
class Document:
    title: str
    banner: str | None  # the SYNTHETIC note (or a real survey's source: label REAL), first
    intro: list[Block]
    sections: list[Section]
    warnings: list[str] = field(default_factory=list)  # shown under the banner, as loudly
    label: str = "SYNTHETIC"  # the banner's label

    def images(self) -> list[Image]:
        found: list[Image] = []

        def walk(blocks: list[Block]) -> None:
            for b in blocks:
                if isinstance(b, Image):
                    found.append(b)
                elif isinstance(b, Details):
                    walk(b.blocks)

        walk(self.intro)
        for s in self.sections:
            walk(s.blocks)
        return found


# -- Markdown -------------------------------------------------------------------------------

def _md_text(text: str) -> str:
    """Escape Markdown emphasis outside `code` spans (captions say "* p<0.05")."""
    parts = CODE.split(text)  # odd items are the insides of code spans
    return "".join(f"`{p}`" if i % 2 else p.replace("*", "\\*")
                   for i, p in enumerate(parts))


def _md_cell(text: str) -> str:
    return _md_text(text).replace("|", "\\|").replace("\n", " ")


def _md_blocks(blocks: list[Block], figure_dir: str, level: int) -> list[str]:
    out: list[str] = []
    for b in blocks:
        if isinstance(b, Text):
            out += [_md_text(b.text), ""]
        elif isinstance(b, Table):
            if b.caption:
                out += [f"*{_md_text(b.caption)}*", ""]
            align = ["---:" if b.numeric and b.numeric[i] else "---"
                     for i in range(len(b.header))]
            out.append("| " + " | ".join(_md_cell(h) for h in b.header) + " |")
            out.append("|" + "|".join(align) + "|")
            out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in b.rows]
            out.append("")
            if b.csv:
                out += [f"CSV: [{b.csv}]({b.csv})", ""]
        elif isinstance(b, Image):
            out += [f"![{_md_cell(b.caption)}]({figure_dir}/{b.stem}.png)", "",
                    f"*{_md_text(b.caption)}*", ""]
        else:
            out += [f"{'#' * (level + 1)} {_md_text(b.summary)}", ""]
            out += _md_blocks(b.blocks, figure_dir, level + 1)
    return out


def to_markdown(doc: Document, figure_dir: str = "figures") -> str:
    lines = [f"# {doc.title}", ""]
    if doc.banner:
        lines += [f"> **{doc.label}** — {doc.banner}", ""]
    for warning in doc.warnings:
        lines += [f"> **{_md_text(warning)}**", ""]
    lines += _md_blocks(doc.intro, figure_dir, 2)
    if doc.sections:
        lines += ["Contents: " + " · ".join(f"[{s.title}](#{s.anchor})" for s in doc.sections),
                  ""]
    for s in doc.sections:
        lines += [f'<a id="{s.anchor}"></a>', "", f"## {s.title}", ""]
        lines += _md_blocks(s.blocks, figure_dir, 2)
    return "\n".join(lines).rstrip() + "\n"


# -- HTML -----------------------------------------------------------------------------------

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
color:#222;max-width:72rem;margin:2rem auto;padding:0 1.5rem;line-height:1.45}
h1{font-size:1.6rem;margin-bottom:.3rem}h2{font-size:1.25rem;margin-top:2.2rem;
border-bottom:1px solid #ddd;padding-bottom:.2rem}
.banner{background:#fff4d6;border:2px solid #E69F00;padding:.6rem 1rem;font-weight:600;
border-radius:4px;margin:.5rem 0}.warning{background:#fde8e4;border-color:#D55E00}
nav{font-size:.92rem;margin:1rem 0}nav a{margin-right:.9rem;color:#0072B2}
.table-wrap{overflow-x:auto;margin:.6rem 0 1rem}
table{border-collapse:collapse;font-size:.85rem}
th,td{padding:.25rem .55rem;border-bottom:1px solid #e4e4e4;vertical-align:top;text-align:left}
th{background:#f3f6f9;border-bottom:2px solid #ccd}td.num,th.num{text-align:right;
font-variant-numeric:tabular-nums}td.num{white-space:nowrap}td:first-child{min-width:10rem}
caption{caption-side:top;text-align:left;font-style:italic;padding-bottom:.3rem;color:#444}
figure{margin:1rem 0 1.6rem}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.88rem;color:#444;margin-top:.3rem}
details{margin:.4rem 0;border:1px solid #e4e4e4;border-radius:4px;padding:.3rem .7rem}
summary{cursor:pointer;font-weight:600}code{background:#f3f3f3;padding:0 .2rem;border-radius:3px}
.csv{font-size:.82rem}
"""


def _inline(text: str) -> str:
    return CODE.sub(r"<code>\1</code>", html.escape(text))


def _html_blocks(blocks: list[Block]) -> list[str]:
    out: list[str] = []
    for b in blocks:
        if isinstance(b, Text):
            out.append(f"<p>{_inline(b.text)}</p>")
        elif isinstance(b, Table):
            def cls(i: int, bb: Table = b) -> str:
                return ' class="num"' if bb.numeric and bb.numeric[i] else ""

            out.append('<div class="table-wrap"><table>')
            if b.caption:
                out.append(f"<caption>{_inline(b.caption)}</caption>")
            out.append("<thead><tr>" + "".join(f"<th{cls(i)}>{html.escape(h)}</th>"
                                               for i, h in enumerate(b.header)) + "</tr></thead>")
            out.append("<tbody>")
            for row in b.rows:
                out.append("<tr>" + "".join(f"<td{cls(i)}>{_inline(c)}</td>"
                                            for i, c in enumerate(row)) + "</tr>")
            out.append("</tbody></table></div>")
            if b.csv:
                out.append(f'<p class="csv">CSV: <code>{html.escape(b.csv)}</code></p>')
        elif isinstance(b, Image):
            data = base64.b64encode(b.png).decode("ascii")
            out.append(f'<figure id="fig-{html.escape(b.stem)}"><img alt="{html.escape(b.caption)}"'
                       f' src="data:image/png;base64,{data}">'
                       f"<figcaption>{_inline(b.caption)}</figcaption></figure>")
        else:
            out.append(f"<details><summary>{_inline(b.summary)}</summary>")
            out += _html_blocks(b.blocks)
            out.append("</details>")
    return out


def to_html(doc: Document) -> str:
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(doc.title)}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>{html.escape(doc.title)}</h1>",
    ]
    if doc.banner:
        parts.append(f'<p class="banner" id="{doc.label.lower()}-banner">{doc.label} — '
                     f"{html.escape(doc.banner)}</p>")
    parts += [f'<p class="banner warning">{_inline(w)}</p>' for w in doc.warnings]
    parts += _html_blocks(doc.intro)
    if doc.sections:
        parts.append("<nav>" + "".join(f'<a href="#{s.anchor}">{html.escape(s.title)}</a>'
                                       for s in doc.sections) + "</nav>")
    for s in doc.sections:
        parts.append(f'<section id="{html.escape(s.anchor)}"><h2>{html.escape(s.title)}</h2>')
        parts += _html_blocks(s.blocks)
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
