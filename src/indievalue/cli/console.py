"""Shared rich consoles (results go to stdout, progress and notes to stderr) and the one shape
of progress bar every long job shows."""

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False)


def new_progress(*fields: str, remaining: bool = True, console: Console | None = None
                 ) -> Progress:
    """A progress bar (not started): description, bar, done / total, then one text column per
    ``fields`` template (e.g. ``"acc {task.fields[acc]}"``), elapsed and, with ``remaining``,
    estimated remaining time; on stderr unless ``console`` is given."""
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               *(TextColumn(f) for f in fields), TimeElapsedColumn()]
    if remaining:
        columns.append(TimeRemainingColumn())
    return Progress(*columns, console=console or err, transient=False)
