"""The one exception type a user mistake raises, and the check for optional dependencies.

The CLI turns it into a single ``error: ...`` line and exit code 2; anything else is a bug and
keeps its traceback.
"""

from __future__ import annotations

from typing import Any


class IndieValueError(Exception):
    """A problem with the user's input or environment, explained in one line."""


class SpecError(IndieValueError):
    """The statement spec is inconsistent."""


class WVSFormatError(IndieValueError):
    """The survey file is not a usable WVS-7 file."""


def require(*modules: str, purpose: str, install: str) -> tuple[Any, ...]:
    """Import optional dependencies and return them, or raise a one-line error saying what
    needs them and how to install them (``install``: the pip arguments)."""
    import importlib

    try:
        return tuple(importlib.import_module(m) for m in modules)
    except ImportError:
        raise IndieValueError(f"{purpose} needs {' and '.join(modules)}: "
                              f"pip install {install}") from None
