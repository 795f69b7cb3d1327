"""The page in a real browser (slow): headless Chromium answers ten questions by clicking and
the predictions and the expected accuracy change. Needs Debian's ``chromium`` and
``chromium-driver`` and the ``selenium`` package; skipped without them.

Set ``INDIEVALUE_SCREENSHOT=FILE.png`` to keep a screenshot of the page after the answers.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")
pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
pytest.importorskip("selenium")

import uvicorn
from _elicit_data import ElicitData, elicit_data
from selenium import webdriver

from indievalue.web.app import create_app

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
CHROME_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run",
                "--window-size=1400,1100")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve_in_thread(app: Any) -> Iterator[str]:
    """Run ``app`` with uvicorn on a free loopback port; yield its URL, stop afterwards."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def browser(profile: Path) -> Any:
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for flag in (*CHROME_FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(DRIVER), options=options)


def answer_by_clicking(driver: Any, url: str, n: int, choose: Any = None,
                       screenshot: Path | None = None) -> list[tuple[str, str]]:
    """Open the page and answer ``n`` questions by clicking (option ``choose(qid, k)``, the
    first by default); returns (expected accuracy, top predictions) seen before each answer
    and after the last."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(driver, 120)
    driver.get(url)
    seen = []
    for i in range(n + 1):
        wait.until(lambda d, i=i: d.find_element(By.ID, "answered").text == str(i)
                   and d.find_elements(By.CSS_SELECTOR, "#options .option")
                   and d.find_elements(By.CSS_SELECTOR, "#predictions li")
                   and d.find_element(By.ID, "skip").is_enabled())
        seen.append((driver.find_element(By.ID, "expected-accuracy").text,
                     driver.find_element(By.ID, "predictions").text))
        if i == n:
            break
        options = driver.find_elements(By.CSS_SELECTOR, "#options .option")
        qid = driver.find_element(By.ID, "qnumber").text.rsplit(" ", 1)[-1]
        k = 0 if choose is None else choose(qid, len(options))
        options[k].click()
    if screenshot is not None:
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(screenshot))
    return seen


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> ElicitData:
    return elicit_data(tmp_path_factory)


def test_ten_answers_by_clicking(data: ElicitData, tmp_path: Path) -> None:
    if not (Path(CHROMIUM).exists() and Path(DRIVER).exists()):
        pytest.skip("chromium and chromium-driver are not installed")
    person = data.cat.row(int(data.eval_ids[2]))

    def truth(qid: str, n: int) -> int:
        return min(int(data.cat.refined[person, data.cat.spec.index(qid)]), n - 1)

    shot = Path(os.environ.get("INDIEVALUE_SCREENSHOT", tmp_path / "page.png"))
    for url in serve_in_thread(create_app(data.catalog, data.model_dir)):
        driver = browser(tmp_path / "profile")
        try:
            seen = answer_by_clicking(driver, url, 10, truth, shot)
            from selenium.webdriver.common.by import By

            assert driver.find_element(By.ID, "you").is_displayed()
            assert "Traditional" in driver.find_element(By.ID, "map").text
        finally:
            driver.quit()
    accuracies = [float(a.split()[0]) for a, _ in seen]
    assert len(seen) == 11
    assert len(set(accuracies)) > 5  # it moves with the answers
    assert accuracies[-1] > accuracies[0]
    changed = sum(seen[i][1] != seen[i + 1][1] for i in range(10))
    assert changed >= 8
    assert shot.is_file() and shot.stat().st_size > 20_000
