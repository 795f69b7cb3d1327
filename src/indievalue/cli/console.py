"""Shared rich consoles (results go to stdout, progress and notes to stderr) and the one shape
of progress bar every long job shows (defined in :mod:`indievalue.progress`)."""

from typing import Any

from rich.console import Console

from indievalue.progress import new_progress, stderr

out = Console(highlight=False, soft_wrap=True)
err = stderr

__all__ = ["err", "new_progress", "out", "print_table"]


def print_table(table: Any, title: str = "", synthetic: bool = False) -> None:
    """Print a :class:`indievalue.report.document.Table` (built once, also written as
    Markdown and HTML) as a rich table on stdout; its caption goes below it."""
    from rich.table import Table

    shown = Table(title=title or None, title_style="bold yellow" if synthetic else "bold",
                  caption=table.caption or None)
    for i, head in enumerate(table.header):
        numeric = bool(table.numeric and table.numeric[i])
        shown.add_column(head, justify="right" if numeric else "left", no_wrap=i == 0)
    for row in table.rows:
        shown.add_row(*row)
    out.print(shown)
