"""The one shape of progress bar every long job shows, and the stderr console it draws on.

Library code that draws progress itself (value-model training) and the command line share
these, so no library module needs to import ``indievalue.cli``.
"""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

#: Progress, notes and errors go to stderr; results go to stdout (see ``indievalue.cli``).
stderr = Console(stderr=True, highlight=False)


def new_progress(*fields: str, remaining: bool = True, console: Console | None = None
                 ) -> Progress:
    """A progress bar (not started): description, bar, done / total, then one text column per
    ``fields`` template (e.g. ``"acc {task.fields[acc]}"``), elapsed and, with ``remaining``,
    estimated remaining time; on stderr unless ``console`` is given."""
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               *(TextColumn(f) for f in fields), TimeElapsedColumn()]
    if remaining:
        columns.append(TimeRemainingColumn())
    return Progress(*columns, console=console or stderr, transient=False)
