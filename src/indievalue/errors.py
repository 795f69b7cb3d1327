"""The one exception type a user mistake raises.

The CLI turns it into a single ``error: ...`` line and exit code 2; anything else is a bug and
keeps its traceback.
"""


class IndieValueError(Exception):
    """A problem with the user's input or environment, explained in one line."""


class SpecError(IndieValueError):
    """The statement spec is inconsistent."""


class WVSFormatError(IndieValueError):
    """The survey file is not a usable WVS-7 file."""
