"""End to end in a real browser: `streamlit run` serves the app on the test warehouse, Debian's
headless Chromium (driven by Playwright, never `playwright install`) opens it, the seven charts
render (Plotly's own DOM) next to the birthdays table, the assistant answers a question, and
screenshots are saved under test-results/dashboard/ for a human to look at."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from liftoff import settings

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
    "--disable-component-update", "--disable-sync", "--disable-quic",
]  # fmt: skip
SCREENSHOTS = settings.PROJECT_ROOT / "test-results" / "dashboard"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("chromium") is None, reason="needs Debian's chromium (apt-get install chromium)"
    ),
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def streamlit_app(gold_warehouse, tmp_path) -> Iterator[str]:
    """`streamlit run streamlit/app.py` as `make up` starts it, reading the test warehouse."""
    port = free_port()
    env = {
        **os.environ,
        "LIFTOFF_DASHBOARD_URL": gold_warehouse.dashboard_dsn,
        "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
        "PYTHONPATH": str(settings.PROJECT_ROOT),
    }
    for key in ("LIFTOFF_LLM_BASE_URL", "LIFTOFF_LLM_API_KEY"):
        env.pop(key, None)
    log = (tmp_path / "streamlit.log").open("wb")
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "streamlit"), "run",
            str(settings.PROJECT_ROOT / "streamlit" / "app.py"),
            "--server.port", str(port), "--server.address", "127.0.0.1", "--server.headless", "true",
        ],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=settings.PROJECT_ROOT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:  # noqa: S310
                    if response.status == 200:
                        break
            except OSError:
                pass
            assert process.poll() is None, (tmp_path / "streamlit.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "streamlit did not start within 60 s"
            time.sleep(0.3)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


@pytest.fixture
def browser_page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser.new_page(viewport={"width": 1400, "height": 2400})
        finally:
            browser.close()


def test_the_dashboard_renders_its_charts_in_a_real_browser(streamlit_app, browser_page):
    page = browser_page
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.goto(streamlit_app)
    # Seven Plotly charts drawn by plotly.js (an SVG each), plus the birthdays table or its note.
    page.wait_for_function(
        "document.querySelectorAll('[data-testid=\"stPlotlyChart\"] .js-plotly-plot .main-svg').length >= 7",
        timeout=90_000,
    )
    assert page.locator('[data-testid="stMetric"]').count() == 5
    assert page.get_by_text("Receita").first.is_visible()
    assert page.locator('[data-testid="stException"]').count() == 0
    page.screenshot(path=str(SCREENSHOTS / "dashboard.png"), full_page=True)
    assert page.get_by_text("Aniversariantes do mês").is_visible()
    assert (SCREENSHOTS / "dashboard.png").stat().st_size > 10_000

    page.goto(f"{streamlit_app}/pipeline_status")
    page.get_by_text("Última data de venda no gold").wait_for(timeout=60_000)
    assert page.get_by_text("06/06/2026").first.is_visible()
    page.screenshot(path=str(SCREENSHOTS / "pipeline_status.png"), full_page=True)

    page.goto(f"{streamlit_app}/assistant")
    box = page.locator('[data-testid="stChatInputTextArea"]')
    box.wait_for(timeout=60_000)
    box.fill("Qual o ticket médio deste mês?")
    box.press("Enter")
    page.get_by_text("O ticket médio neste mês").wait_for(timeout=60_000)
    page.wait_for_selector('[data-testid="stPlotlyChart"] .js-plotly-plot .main-svg', timeout=60_000)
    page.screenshot(path=str(SCREENSHOTS / "assistant.png"), full_page=True)
