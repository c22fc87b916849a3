"""Telegram delivery through the provider's hook against a Bot API double (tests/services/telegram_api.py)."""

from __future__ import annotations

from datetime import date

import psycopg
import pytest

from liftoff.campaign.audience import build_audience, plan_send_log, segments
from liftoff.campaign.config import Links, campaign_id_for
from liftoff.campaign.consent import verify_token
from liftoff.campaign.copywriter import TemplateCopywriter, store_segment_copy
from liftoff.campaign.runner import finish_campaign
from liftoff.campaign.telegram import NO_BOT, send_telegram_batch
from tests.campaign.shop import Shop, days_before
from tests.services.telegram_api import telegram_api

DAY = date(2026, 6, 10)
CAMPAIGN = campaign_id_for(DAY)
SECRET = b"test-secret-of-at-least-32-bytes"
LINKS = Links(shop_url="https://loja.test", unsubscribe_url="https://loja.test/unsubscribe")
SALES_CHAT = -100500


@pytest.fixture
def campaign(warehouse) -> str:
    shop = Shop(warehouse)
    shop.product(11, "Livros", "59.90", name="Atlas")
    shop.product(12, "Livros", "20.00")
    shop.fans(11, 2, days_before(DAY, 20), 900)
    shop.customer(1, chat_id=7001, first_name="Bia")
    shop.customer(2, chat_id=7002)
    shop.customer(3, chat_id=None)  # e-mail only
    shop.customer(4, chat_id=7004)  # blocked the bot
    for customer in (1, 2, 3, 4):
        shop.sale(customer, 12, days_before(DAY, 1))
    with psycopg.connect(warehouse) as conn:  # linked outside the CRM: wins over the CRM's chat
        conn.execute("insert into campaign.telegram_links (customer_id, chat_id) values (2, 8002)")
    shop.build_gold(DAY)
    build_audience(warehouse, CAMPAIGN, DAY)
    plan_send_log(warehouse, CAMPAIGN, DAY, active_channels=["telegram"])  # e-mail is off this run
    store_segment_copy(warehouse, CAMPAIGN, segments(warehouse, CAMPAIGN), TemplateCopywriter())
    return CAMPAIGN


@pytest.fixture
def bot_api(monkeypatch):
    with telegram_api() as double:
        monkeypatch.setenv("AIRFLOW_CONN_TELEGRAM_DEFAULT", double.connection_json(sales_chat=SALES_CHAT))
        yield double


def test_linked_customers_get_one_message_and_429_retry_after_is_honoured(campaign, bot_api, warehouse):
    bot_api.blocked_chats.add(7004)
    bot_api.rate_limit_first = 1
    bot_api.retry_after = 1
    result = send_telegram_batch(warehouse, campaign, 0, LINKS, SECRET)
    assert (result.sent, result.failed) == (2, 1)
    assert [m["chat_id"] for m in bot_api.messages] == [7001, 8002]
    assert bot_api.messages[0]["at"] - bot_api.limited_at[0] >= 1.0  # waited as told, then sent once
    first = bot_api.messages[0]["text"]
    assert first.startswith("Olá, Bia!")
    assert "R$ 59,90" in first
    assert "https://loja.test/produtos/11" in first
    token = first.rsplit("token=", 1)[1]
    assert verify_token(token, SECRET).channel == "telegram"

    again = send_telegram_batch(warehouse, campaign, 0, LINKS, SECRET)
    assert again.sent == 0
    assert len(bot_api.messages) == 2

    summaries = {s["channel"]: s for s in finish_campaign(warehouse, campaign)}
    assert summaries["telegram"]["audience_size"] == 3
    assert (summaries["telegram"]["sent"], summaries["telegram"]["failed"]) == (2, 1)
    assert bot_api.messages[-1]["chat_id"] == SALES_CHAT
    assert "telegram: público 3, enviados 2" in bot_api.messages[-1]["text"]
    with psycopg.connect(warehouse) as conn:
        stored = conn.execute(
            "select channel, audience_size, sent, skipped, failed from gold.campaign_summaries"
            " where campaign_id = %s order by channel",
            (campaign,),
        ).fetchall()
    # Every reachable customer is accounted for on each channel: e-mail was off ("no channel").
    assert stored == [("email", 4, 0, 4, 0), ("telegram", 3, 2, 0, 1)]
    assert "sem canal 4" in bot_api.messages[-1]["text"]


def test_without_a_bot_the_messages_are_recorded_not_sent_and_stay_final(campaign, warehouse, monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_TELEGRAM_DEFAULT", raising=False)
    result = send_telegram_batch(warehouse, campaign, 0, LINKS, SECRET)
    assert (result.sent, result.recorded, result.failed) == (0, 3, 0)
    with psycopg.connect(warehouse) as conn:
        rows = conn.execute(
            "select customer_id, status, detail, body, sent_at from campaign.send_log"
            " where channel = 'telegram' order by customer_id"
        ).fetchall()
    assert [(customer, status) for customer, status, *_ in rows] == [(c, "recorded") for c in (1, 2, 4)]
    assert {detail for _, _, detail, _, _ in rows} == {NO_BOT}
    assert all(sent_at is None for *_, sent_at in rows)  # never delivered, so not a contact either
    first = rows[0][3]  # the message exactly as it would have gone out
    assert first.startswith("Olá, Bia!")
    assert "https://loja.test/produtos/11" in first
    assert verify_token(first.rsplit("token=", 1)[1], SECRET).channel == "telegram"

    # Recorded is final: a bot configured later does not send that campaign's messages.
    with telegram_api() as bot:
        monkeypatch.setenv("AIRFLOW_CONN_TELEGRAM_DEFAULT", bot.connection_json(sales_chat=SALES_CHAT))
        again = send_telegram_batch(warehouse, campaign, 0, LINKS, SECRET)
        assert (again.sent, again.recorded, again.already_final) == (0, 0, 3)
        assert bot.messages == []
        summaries = {s["channel"]: s for s in finish_campaign(warehouse, campaign)}
        assert "registrados sem envio 3" in bot.messages[-1]["text"]
    telegram = summaries["telegram"]
    assert (telegram["audience_size"], telegram["sent"], telegram["recorded"]) == (3, 0, 3)
    with psycopg.connect(warehouse) as conn:
        stored = conn.execute(
            "select sent, recorded, skipped, failed, pending from gold.campaign_summaries"
            " where campaign_id = %s and channel = 'telegram'",
            (campaign,),
        ).fetchone()
    assert stored == (0, 3, 0, 0, 0)


def test_without_a_bot_a_selected_telegram_channel_is_planned_to_be_recorded(monkeypatch):
    from liftoff.campaign.runner import active_channels

    monkeypatch.delenv("AIRFLOW_CONN_TELEGRAM_DEFAULT", raising=False)
    assert "telegram" in active_channels(["email", "telegram"])  # recorded, not 'no channel'
    assert "telegram" not in active_channels(["email"])


def test_gold_campaign_summaries_has_the_dashboards_shape(warehouse):
    from liftoff.campaign.audience import ensure_campaign_tables
    from liftoff.campaign.summaries import build_summaries

    ensure_campaign_tables(warehouse)
    ensure_campaign_tables(warehouse)  # idempotent
    build_summaries(warehouse)  # the dbt model, as the campaign's summarise step builds it
    with psycopg.connect(warehouse) as conn:
        columns = conn.execute(
            "select column_name, data_type from information_schema.columns"
            " where table_schema = 'gold' and table_name = 'campaign_summaries' order by ordinal_position"
        ).fetchall()
    assert columns == [
        ("campaign_id", "text"),
        ("logical_date", "date"),
        ("channel", "text"),
        ("campaign_status", "text"),
        ("audience_size", "integer"),
        ("sent", "integer"),
        ("recorded", "integer"),
        ("skipped", "integer"),
        ("skipped_opted_out", "integer"),
        ("skipped_contact_cap", "integer"),
        ("skipped_already_bought", "integer"),
        ("skipped_no_channel", "integer"),
        ("skipped_stale_day", "integer"),
        ("skipped_not_in_audience", "integer"),
        ("failed", "integer"),
        ("pending", "integer"),
        ("finished_at", "timestamp with time zone"),
    ]
