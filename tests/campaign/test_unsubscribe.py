"""Unsubscribing for real: the command and the HTTP endpoint record opt-outs the next campaign honours."""

from __future__ import annotations

import subprocess
import sys
import threading
import urllib.error
import urllib.request
from datetime import date

import psycopg
import pytest

from liftoff.campaign.audience import build_audience
from liftoff.campaign.config import campaign_id_for
from liftoff.campaign.consent import unsubscribe_token
from liftoff.campaign.telegram_links import link_chat
from liftoff.campaign.unsubscribe import make_server
from tests.campaign.shop import Shop, build_campaign_gold, days_before

DAY = date(2026, 6, 10)
SECRET = "unsubscribe-test-secret-of-at-least-32-bytes"


@pytest.fixture
def shop(warehouse, monkeypatch) -> Shop:
    monkeypatch.setenv("LIFTOFF_UNSUBSCRIBE_SECRET", SECRET)
    shop = Shop(warehouse)
    shop.product(11, "Livros")
    shop.product(12, "Livros")
    shop.fans(11, 2, days_before(DAY, 20), 900)
    for customer in (1, 2):
        shop.customer(customer)
        shop.sale(customer, 12, days_before(DAY, 1))
    return shop


def audience_ids(dsn: str) -> set[int]:
    campaign = campaign_id_for(DAY)
    build_campaign_gold(dsn, DAY)
    build_audience(dsn, campaign, DAY)
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("select customer_id from campaign.recipients where campaign_id = %s", (campaign,))
        return {row[0] for row in rows.fetchall()}


def command(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "liftoff.campaign.unsubscribe", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_command_records_a_signed_unsubscribe_and_refuses_a_forged_one(shop, warehouse):
    assert audience_ids(warehouse) == {1, 2}
    token = unsubscribe_token(1, "email", "cross-sell-2026-06-09", SECRET.encode())
    done = command(token, "--dsn", warehouse)
    assert done.returncode == 0, done.stderr
    assert "customer 1, channel email" in done.stdout
    assert audience_ids(warehouse) == {2}  # the next campaign honours it

    forged = unsubscribe_token(2, "email", "cross-sell-2026-06-09", b"not-our-secret-of-at-least-32-bytes")
    refused = command(forged, "--dsn", warehouse)
    assert refused.returncode == 2
    assert "does not verify" in refused.stderr
    assert audience_ids(warehouse) == {2}


def http(url: str, data: bytes | None = None):
    """GET, or POST when there is data, to the local endpoint (http only: the URL is ours)."""
    method = "POST" if data is not None else "GET"
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - http, built here
    return urllib.request.urlopen(request, timeout=10)  # noqa: S310 - a local http URL built by the test


def test_the_endpoint_records_on_post_only(shop, warehouse):
    server = make_server(warehouse, SECRET.encode(), port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/unsubscribe?token="
    try:
        token = unsubscribe_token(2, "all", "cross-sell-2026-06-09", SECRET.encode())
        assert "Confirmar descadastro" in http(base + token).read().decode()
        assert audience_ids(warehouse) == {1, 2}  # a prefetching scanner unsubscribes nobody
        assert http(base + token, b"List-Unsubscribe=One-Click").status == 200
        assert audience_ids(warehouse) == {1}
        with pytest.raises(urllib.error.HTTPError, match="400"):
            http(base + token[:-2] + "xx", b"")
    finally:
        server.shutdown()
        server.server_close()


def test_a_chat_linked_outside_the_crm_wins(shop, warehouse):
    link_chat(warehouse, 2, 99)
    audience_ids(warehouse)
    with psycopg.connect(warehouse) as conn:
        chats = dict(conn.execute("select customer_id, telegram_chat_id from campaign.recipients").fetchall())
    assert chats == {1: None, 2: 99}


def test_the_command_without_a_configured_secret_says_what_to_set(monkeypatch, capsys):
    from liftoff.campaign.unsubscribe import main

    monkeypatch.delenv("LIFTOFF_UNSUBSCRIBE_SECRET", raising=False)
    assert main(["some.token", "--dsn", "postgresql://unused"]) == 2
    assert "LIFTOFF_UNSUBSCRIBE_SECRET" in capsys.readouterr().err
