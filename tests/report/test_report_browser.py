"""Open report.html in headless Chromium: no console messages, every embedded image decodes.

The report itself has no scripts; the test adds one small probe that, after the page has
loaded, logs a console error for any image that failed to decode and records how many did
decode, so a broken data URI fails the test. A control page with a broken image first shows
that console messages are observed at all (so a silent pass cannot hide a broken check).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from _report_runs import report_runs

from indievalue.report.build import build_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PROBE = """<script>window.addEventListener("load", function () {
  var ok = 0;
  for (const img of document.images) {
    if (img.complete && img.naturalWidth > 0) { ok++; }
    else { console.error("image did not decode: " + img.alt); }
  }
  document.body.setAttribute("data-images-ok", String(ok));
});</script>"""
CONSOLE = re.compile(r":CONSOLE[:(\]]")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="chromium is not on PATH "
                       "(Debian: apt-get install chromium)"),
]


def open_in_chromium(page: Path, profile: Path) -> tuple[str, list[str]]:
    """The DOM after load and the console lines Chromium logged."""
    assert CHROMIUM is not None
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
           "--no-first-run", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
           "--dump-dom", page.resolve().as_uri()]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout, [ln for ln in done.stderr.splitlines() if CONSOLE.search(ln)]


def with_probe(html: str) -> str:
    assert html.count("</body>") == 1
    return html.replace("</body>", PROBE + "</body>")


def test_report_opens_without_console_errors(tmp_path: Path) -> None:
    control = tmp_path / "control.html"
    control.write_text(with_probe('<!DOCTYPE html><html><head><meta charset="utf-8">'
                                  '<title>c</title></head><body><img alt="bad" '
                                  'src="data:image/png;base64,AAAA"></body></html>'),
                       encoding="utf-8")
    _, messages = open_in_chromium(control, tmp_path / "profile-control")
    assert any("image did not decode: bad" in m for m in messages), \
        "console messages are not observable; the check below would be vacuous"

    files = build_report(report_runs(tmp_path / "runs"), tmp_path / "report")
    html = files.html.read_text(encoding="utf-8")
    assert "<script" not in html
    page = tmp_path / "probed.html"
    page.write_text(with_probe(html), encoding="utf-8")
    dom, messages = open_in_chromium(page, tmp_path / "profile")
    assert messages == []
    assert f'data-images-ok="{len(files.figures)}"' in dom
    for anchor in ("comparison", "categories", "fairness", "lm", "calibration", "sweep", "runs"):
        assert f'<section id="{anchor}">' in dom
