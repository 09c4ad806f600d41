"""The interactive page in a real browser: ``ptce viz`` serves it on a free loopback port,
headless Chromium (Debian's /usr/bin/chromium, driven by Playwright; no browser download)
opens it, checks that the controls and the charts render, presses Step and watches the
step counter and a chart change, and collects every JavaScript error.

Skipped only when Chromium is absent on a developer's machine; in CI (CI=true) it runs.
A screenshot is saved under results/test-artifacts/ (gitignored) for a person to look at.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
IN_CI = os.environ.get("CI", "").lower() in ("true", "1", "yes")
ARTIFACTS = ROOT / "results" / "test-artifacts"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists() and not IN_CI,
    reason="Debian's chromium is not installed (.ci/run installs it; apt-get install chromium)",
)

# Generous limits: a slow shared machine must not fail the test (not a timing test).
SERVER_START_S = 180
UI_TIMEOUT_MS = 90_000

def _screenshot(locator) -> bytes:  # noqa: ANN001 (a Playwright Locator, imported lazily)
    """PNG of the element the locator finds now: Solara may replace a chart's <img> between
    finding it and taking its picture ("Element is not attached to the DOM"), so find it
    again until the time limit (a slow machine must not fail the test)."""
    from playwright.sync_api import Error as PlaywrightError

    deadline = time.monotonic() + UI_TIMEOUT_MS / 1000
    while True:
        try:
            return locator.screenshot(timeout=UI_TIMEOUT_MS)
        except PlaywrightError as exc:
            if "not attached" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


# Chromium's own background services would try the closed network at every start.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def page_url(tmp_path_factory):
    """`ptce viz scenarios/smoke.toml` on a free loopback port, for the whole module."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("viz") / "server.log"
    log = log_path.open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulation", "viz", str(ROOT / "scenarios" / "smoke.toml"), "--port", str(port)],
        cwd=tmp_path_factory.mktemp("cwd"), stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"ptce viz exited with {proc.returncode}:\n{log_path.read_text()}")
            try:
                with urllib.request.urlopen(url, timeout=5) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"ptce viz did not answer on {url} within {SERVER_START_S} s:\n{log_path.read_text()}")
            time.sleep(0.5)
        yield url
    finally:
        # The server is `python -m simulation viz` and its `solara run` child: end the group we started.
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()


def test_page_renders_steps_and_has_no_javascript_errors(page_url, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1100})
            page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
            page.on("console", lambda msg: errors.append(f"console.error: {msg.text}") if msg.type == "error" else None)
            page.on("requestfailed", lambda req: errors.append(f"request failed: {req.url} {req.failure}"))
            page.goto(page_url, timeout=UI_TIMEOUT_MS)

            # Mesa's step counter, our headline panel, the controls generated from the schema.
            counter = page.get_by_text("Time:", exact=False).first
            expect(counter).to_have_text("Time: 0.0", timeout=UI_TIMEOUT_MS)
            expect(page.get_by_text("smoke: cooperative regime", exact=False)).to_be_visible(timeout=UI_TIMEOUT_MS)
            for label in ("coordination regime", "strategy of organisations", "ESS organisations at start", "public budget", "seed"):
                expect(page.get_by_text(label, exact=False).first).to_be_visible(timeout=UI_TIMEOUT_MS)
            step_button = page.get_by_role("button", name="Step")
            expect(step_button).to_be_enabled(timeout=UI_TIMEOUT_MS)

            # Four matplotlib charts (employment, personalisation, resource mix, network): PNG images
            # that Solara hands to the browser as blob: URLs.
            charts = page.locator("img[src^='blob:']")
            expect(charts).to_have_count(4, timeout=UI_TIMEOUT_MS)
            for i in range(4):
                expect(charts.nth(i)).to_be_visible(timeout=UI_TIMEOUT_MS)
            employment_before = _screenshot(charts.nth(0))

            for quarter in (1, 2, 3):
                step_button.click()
                expect(counter).to_have_text(f"Time: {quarter}.0", timeout=UI_TIMEOUT_MS)
            expect(page.get_by_text("Quarter 3 of 12", exact=False)).to_be_visible(timeout=UI_TIMEOUT_MS)
            expect(charts).to_have_count(4, timeout=UI_TIMEOUT_MS)
            # The employment chart now draws three quarters: its pixels must have changed.
            deadline = time.monotonic() + UI_TIMEOUT_MS / 1000
            while _screenshot(charts.nth(0)) == employment_before:
                assert time.monotonic() < deadline, "the employment chart did not change after three steps"
                time.sleep(0.5)

            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            shot = tmp_path / "ptce-viz.png"
            page.screenshot(path=str(shot), full_page=True)
            (ARTIFACTS / "ptce-viz.png").write_bytes(shot.read_bytes())
        finally:
            browser.close()
    assert errors == [], "JavaScript errors on the page:\n" + "\n".join(errors)
