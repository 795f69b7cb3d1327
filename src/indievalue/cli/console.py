"""Shared rich consoles (results go to stdout, progress and notes to stderr) and the one shape
of progress bar every long job shows (defined in :mod:`indievalue.progress`)."""

from rich.console import Console

from indievalue.progress import new_progress, stderr

out = Console(highlight=False, soft_wrap=True)
err = stderr

__all__ = ["err", "new_progress", "out"]

