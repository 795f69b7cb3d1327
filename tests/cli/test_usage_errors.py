"""A malformed command line is a user mistake like any other: one ``error:`` line naming what
is wrong and where to look, exit 2, nothing on stdout, no usage box."""

from __future__ import annotations

import subprocess
import sys

import pytest

CASES = [
    (["evaluate", "--demos", "abc"], "--demos"),
    (["no-such-command"], "no-such-command"),
    (["catalog", "info"], "Missing argument"),
    (["evaluate", "--protocol", "C", "--catalog", "x", "--out", "y"], "--protocol"),
]


@pytest.mark.parametrize(("argv", "needle"), CASES)
def test_usage_errors_are_one_line(argv: list[str], needle: str) -> None:
    res = subprocess.run([sys.executable, "-c", "from indievalue.cli.main import main; main()",
                          *argv], capture_output=True, text=True, timeout=120, check=False)
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    assert needle in lines[0] and "--help" in lines[0]
    assert res.stdout == ""


def test_help_still_exits_zero() -> None:
    res = subprocess.run([sys.executable, "-c", "from indievalue.cli.main import main; main()",
                          "--help"], capture_output=True, text=True, timeout=120, check=False)
    assert res.returncode == 0 and "evaluate" in res.stdout
