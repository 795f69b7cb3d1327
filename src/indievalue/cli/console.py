"""Shared rich consoles: results go to stdout, progress and notes to stderr."""

from rich.console import Console

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False)
