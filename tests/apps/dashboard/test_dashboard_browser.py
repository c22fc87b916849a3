"""End to end in a real browser: `streamlit run` serves the app on the test warehouse, Debian's
headless Chromium (driven by Playwright, never `playwright install`) opens it, the seven charts
render (Plotly's own DOM) next to the birthdays table, the assistant answers a question, a sent
campaign e-mail is previewed and its unsubscribe link works against the real endpoint, and
screenshots are saved under test-results/dashboard/ for a human to look at."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from liftoff import settings
from liftoff.campaign import runner
from liftoff.campaign.config import campaign_id_for
from liftoff.campaign.unsubscribe import make_server
from liftoff.devstack.loopback import free_port
from tests.apps.dashboard.campaign_data import SECRET, campaign_warehouse
from tests.apps.dashboard.conftest import LAST_DAY

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


@contextmanager
def serve_streamlit(dashboard_dsn: str, tmp_path: Path, **extra_env: str) -> Iterator[str]:
    """`streamlit run streamlit/app.py` as `make up` starts it, reading `dashboard_dsn`."""
    port = free_port()
    env = {
        **os.environ,
        "LIFTOFF_DASHBOARD_URL": dashboard_dsn,
        "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
        "PYTHONPATH": str(settings.PROJECT_ROOT),
        **extra_env,
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
def streamlit_app(gold_warehouse, tmp_path) -> Iterator[str]:
    """The app on the test warehouse."""
    with serve_streamlit(gold_warehouse.dashboard_dsn, tmp_path) as url:
        yield url


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


def test_a_sent_email_is_previewed_and_its_unsubscribe_link_opts_the_customer_out(
    gold_warehouse, tmp_path, browser_page
):
    """The Campanhas page shows a message the campaign really sent (SMTP into the outbox); its
    unsubscribe link, followed in the browser, reaches the endpoint (`make_server`), the
    confirmation records the opt-out, and the next campaign's plan skips that customer."""
    page = browser_page
    endpoint_port = free_port()
    unsubscribe_url = f"http://127.0.0.1:{endpoint_port}/unsubscribe"
    with campaign_warehouse(gold_warehouse.name, tmp_path / "outbox", unsubscribe_url) as campaign:
        server = make_server(campaign.admin_dsn, SECRET.encode(), port=endpoint_port)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            with serve_streamlit(
                campaign.dashboard_dsn, tmp_path, LIFTOFF_OUTBOX_DIR=str(campaign.outbox)
            ) as app_url:
                page.goto(f"{app_url}/campaigns")
                caption = page.get_by_text(re.compile(r"Cliente \d+ · Message-ID"))
                caption.wait_for(timeout=90_000)
                customer = int(re.search(r"Cliente (\d+) · Message-ID", caption.inner_text()).group(1))
                assert page.get_by_text("Textos por segmento").is_visible()
                message = page.frame_locator('iframe[srcdoc*="email-preview"]').frame_locator(
                    "#email-preview"
                )
                link = message.get_by_role("link", name="Descadastrar-se")
                link.wait_for(timeout=60_000)
                assert message.get_by_text("Quero conhecer").is_visible()
                SCREENSHOTS.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(SCREENSHOTS / "campaigns.png"), full_page=True)
                with page.context.expect_page() as opened:
                    link.click()
                unsubscribe_page = opened.value
                unsubscribe_page.wait_for_load_state()
                assert unsubscribe_page.url.startswith(unsubscribe_url)
                with psycopg.connect(campaign.admin_dsn) as conn:  # GET only shows a button
                    assert conn.execute("select count(*) from campaign.opt_outs").fetchone()[0] == 0
                unsubscribe_page.get_by_role("button", name="Confirmar descadastro").click()
                unsubscribe_page.get_by_text("Pronto").wait_for(timeout=30_000)
        finally:
            server.shutdown()
            server.server_close()
        with psycopg.connect(campaign.admin_dsn) as conn:
            opt_outs = conn.execute("select customer_id, channel, source from campaign.opt_outs").fetchall()
        assert opt_outs == [(customer, "email", "unsubscribe endpoint")]

        # The next day's campaign, with this customer in its audience again: planned, skipped.
        next_day = LAST_DAY + timedelta(days=1)
        columns = (
            "customer_id, last_sale_id, last_sale_date, last_product_id, last_product_name, last_category,"
            " recommended_product_id, recommended_product_name, recommended_sales_count,"
            " recommended_revenue, email_reachable, telegram_reachable"
        )
        with psycopg.connect(campaign.admin_dsn) as conn:
            conn.execute(
                f"insert into gold.cross_sell_audience (audience_date, {columns})"
                f" select %s, {columns} from gold.cross_sell_audience where audience_date = %s",
                (next_day, LAST_DAY),
            )
        runner.plan_campaign(campaign.admin_dsn, next_day, active_channels=("email",))
        with psycopg.connect(campaign.admin_dsn) as conn:
            planned = dict(
                conn.execute(
                    "select customer_id, coalesce(skip_reason, status) from campaign.send_log"
                    " where campaign_id = %s and channel = 'email'",
                    (campaign_id_for(next_day),),
                ).fetchall()
            )
        assert planned[customer] == "opted out"
        assert "opted out" not in {reason for other, reason in planned.items() if other != customer}
