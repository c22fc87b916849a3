"""The Campanhas page through AppTest, on a real campaign: the campaign's own steps ran on a copy of
the dashboard's gold warehouse and delivered its e-mails over SMTP into a Maildir (campaign_data).

Checked against the campaign schema (below what the page may read): the counts per channel, each
segment's copy and who wrote it, the preview of the messages as the outbox holds them, and the
Telegram messages recorded (no bot configured) with their text, never shown as sent. Also:
what the dashboard role can and cannot read, the outbox reader on its own, and the empty states."""

from __future__ import annotations

import html
import mailbox
from email import message_from_bytes, policy
from pathlib import Path

import psycopg
import pytest
from psycopg import errors
from streamlit.testing.v1 import AppTest

import streamlit as st
from liftoff import settings
from liftoff.apps.dashboard import campaigns
from liftoff.apps.dashboard import formatting as fmt
from tests.apps.dashboard.campaign_data import CampaignWarehouse, campaign_warehouse

pytestmark = pytest.mark.services

APP = str(settings.PROJECT_ROOT / "streamlit" / "app.py")
PAGE = "views/campaigns.py"


@pytest.fixture(scope="module")
def campaign(gold_warehouse, tmp_path_factory) -> CampaignWarehouse:
    outbox = tmp_path_factory.mktemp("campaign") / "outbox"
    with campaign_warehouse(gold_warehouse.name, outbox, "http://127.0.0.1:9/unsubscribe") as built:
        yield built


@pytest.fixture(autouse=True)
def fresh_cache():
    st.cache_data.clear()
    yield
    st.cache_data.clear()


def open_campaigns(monkeypatch, dsn: str, outbox: Path) -> AppTest:
    monkeypatch.setenv("LIFTOFF_DASHBOARD_URL", dsn)
    monkeypatch.setenv("LIFTOFF_OUTBOX_DIR", str(outbox))
    app = AppTest.from_file(APP, default_timeout=60)
    app.run()
    app.switch_page(PAGE)
    app.run()
    assert not app.exception, app.exception
    return app


def metric(app: AppTest, label: str) -> str:
    [value] = [m.value for m in app.metric if m.label == label]
    return value


def query(dsn: str, statement: str, *params) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(statement, params).fetchall()


def stored_message(outbox: Path, message_id: str):
    """The outbox's message with this send-log id, found without the page's reader."""
    matches = [
        message_from_bytes(box_message.as_bytes(), policy=policy.default)
        for box_message in mailbox.Maildir(outbox, create=False)
        if box_message["Message-ID"].strip("<>").startswith(f"{message_id}@")
    ]
    assert len(matches) == 1, f"{message_id}: {len(matches)} messages in the outbox"
    return matches[0]


def preview_srcdoc(app: AppTest) -> str:
    [frame] = [element for element in app.main if getattr(element, "type", "") == "iframe"] or [None]
    assert frame is not None, "no HTML preview on the page"
    return frame.proto.srcdoc


def test_the_page_shows_the_counts_per_channel_and_state(monkeypatch, campaign):
    app = open_campaigns(monkeypatch, campaign.dashboard_dsn, campaign.outbox)
    counts = dict(
        query(
            campaign.admin_dsn,
            "select channel || ':' || status, count(*) from campaign.send_log where campaign_id = %s"
            " group by 1",
            campaign.campaign_id,
        )
    )
    [(audience,)] = query(
        campaign.admin_dsn,
        "select count(*) from campaign.recipients where campaign_id = %s and customer_email is not null",
        campaign.campaign_id,
    )
    assert counts["email:sent"] > 0
    assert metric(app, "E-mail · enviadas") == fmt.integer(counts["email:sent"])
    assert metric(app, "E-mail · público") == fmt.integer(audience)
    assert metric(app, "E-mail · falhas") == "0"
    # No Telegram connection: nothing sent on Telegram; its messages are recorded, not delivered.
    assert metric(app, "Telegram · enviadas") == "0"
    assert metric(app, "Telegram · ignoradas") == fmt.integer(counts.get("telegram:skipped", 0))
    assert any(f"Campanha {campaign.campaign_id}" in c.value and "concluída" in c.value for c in app.caption)
    [overview] = [frame.value for frame in app.dataframe if "Canal" in frame.value.columns]
    assert set(overview["Campanha"]) == {campaign.campaign_id}
    assert set(overview["Estado"]) == {"concluída"}


def test_recorded_telegram_messages_are_counted_and_listed_never_as_sent(monkeypatch, campaign):
    app = open_campaigns(monkeypatch, campaign.dashboard_dsn, campaign.outbox)
    [(recorded,)] = query(
        campaign.admin_dsn,
        "select count(*) from campaign.send_log"
        " where campaign_id = %s and channel = 'telegram' and status = 'recorded'",
        campaign.campaign_id,
    )
    [(sent,)] = query(
        campaign.admin_dsn,
        "select count(*) from campaign.send_log"
        " where campaign_id = %s and channel = 'telegram' and status = 'sent'",
        campaign.campaign_id,
    )
    assert recorded > 0, "the campaign recorded no Telegram message: nothing to check"
    assert sent == 0
    assert metric(app, "Telegram · registradas, não enviadas") == fmt.integer(recorded)
    assert metric(app, "Telegram · enviadas") == "0"
    assert metric(app, "E-mail · registradas, não enviadas") == "0"
    [overview] = [frame.value for frame in app.dataframe if "Canal" in frame.value.columns]
    telegram = overview[overview["Canal"] == "Telegram"].iloc[0]
    assert telegram["Registradas, não enviadas"] == recorded
    assert telegram["Enviadas"] == 0
    # Listed with the text exactly as the send log holds it, said to be recorded, not sent.
    bodies = query(
        campaign.admin_dsn,
        "select send_log.customer_id, recipients.segment_key, send_log.body from campaign.send_log"
        " join campaign.recipients using (campaign_id, customer_id)"
        " where campaign_id = %s and channel = 'telegram' and status = 'recorded'",
        campaign.campaign_id,
    )
    [listed] = [frame.value for frame in app.dataframe if "Texto (não enviado)" in frame.value.columns]
    shown = sorted(zip(listed["Cliente"], listed["Segmento"], listed["Texto (não enviado)"], strict=True))
    assert shown == sorted(bodies)
    assert all(body for _, _, body in bodies)
    assert any(
        "Nenhum bot do Telegram configurado" in c.value
        and "registradas, não enviadas" in c.value
        and "telegram_default" in c.value
        and "docs/campaign.md" in c.value
        for c in app.caption
    )
    # The view gives the text of recorded messages only.
    with as_dashboard(campaign.dashboard_dsn) as conn:
        others = conn.execute(
            "select count(*) from gold.campaign_messages"
            " where campaign_id = %s and status <> 'recorded' and recorded_text is not null",
            (campaign.campaign_id,),
        ).fetchone()[0]
    assert others == 0


def test_the_page_shows_each_segments_copy_and_who_wrote_it(monkeypatch, campaign):
    app = open_campaigns(monkeypatch, campaign.dashboard_dsn, campaign.outbox)
    stored = query(
        campaign.admin_dsn,
        "select subject, copy_source, fallback_reason from campaign.segment_copy where campaign_id = %s",
        campaign.campaign_id,
    )
    [copy] = [frame.value for frame in app.dataframe if "Escrito por" in frame.value.columns]
    reasons = copy["Por que o modelo (template)"]
    shown = sorted(zip(copy["Assunto"], copy["Escrito por"], reasons, strict=True))
    expected = sorted(
        (subject, campaigns.copy_source_label(source), reason) for subject, source, reason in stored
    )
    assert [row[:2] for row in shown] == [row[:2] for row in expected]
    assert [row[2] or None for row in shown] == [row[2] for row in expected]
    # The double wrote half the segments; the template stood in for the rest, with the reason.
    assert {"LLM", "Modelo (template)"} <= set(copy["Escrito por"])
    assert all(copy.loc[copy["Escrito por"] == "Modelo (template)", "Por que o modelo (template)"])


def test_the_page_previews_the_sent_emails_from_the_outbox(monkeypatch, campaign):
    app = open_campaigns(monkeypatch, campaign.dashboard_dsn, campaign.outbox)
    sent = query(
        campaign.admin_dsn,
        "select customer_id, message_id from campaign.send_log"
        " where campaign_id = %s and channel = 'email' and status = 'sent' order by sent_at, customer_id",
        campaign.campaign_id,
    )
    first_customer, first_id = sent[0]
    assert any(f"Cliente {first_customer} · Message-ID" in c.value for c in app.caption)
    message = stored_message(campaign.outbox, first_id)
    # The text part as sent, and the HTML part inside a sandboxed iframe, escaped into srcdoc.
    [text] = app.code
    assert text.value == message.get_body(("plain",)).get_content().rstrip("\n")
    srcdoc = preview_srcdoc(app)
    assert 'sandbox="allow-popups allow-popups-to-escape-sandbox"' in srcdoc
    assert "allow-scripts" not in srcdoc
    assert "allow-same-origin" not in srcdoc
    body = message.get_body(("html",)).get_content()
    unsubscribe = message["List-Unsubscribe"].strip().strip("<>")
    assert html.escape(html.escape(unsubscribe)) in srcdoc  # the link, escaped twice (html, srcdoc)
    assert html.escape(body.split("<h2", 1)[1][:60], quote=True) in srcdoc
    [headers] = [frame.value for frame in app.dataframe if "Cabeçalho" in frame.value.columns]
    shown_headers = dict(zip(headers["Cabeçalho"], headers["Valor"], strict=True))
    assert shown_headers["Assunto"] == message["Subject"].strip()
    assert shown_headers["Para"] == message["To"].strip()

    # Another message: the preview follows the selection.
    other_customer, other_id = sent[-1]
    app.selectbox(key="message").set_value(other_id).run()
    assert not app.exception
    other = stored_message(campaign.outbox, other_id)
    assert app.code[0].value == other.get_body(("plain",)).get_content().rstrip("\n") != text.value
    assert any(f"Cliente {other_customer} · Message-ID" in c.value for c in app.caption)


def test_a_message_not_in_the_outbox_is_explained(monkeypatch, campaign, tmp_path):
    app = open_campaigns(monkeypatch, campaign.dashboard_dsn, tmp_path / "nowhere")
    assert any("Não há outbox local" in info.value for info in app.info)
    empty = tmp_path / "empty"
    mailbox.Maildir(empty, create=True)
    app = open_campaigns(monkeypatch, campaign.dashboard_dsn, empty)
    assert any("não está no outbox local" in warning.value for warning in app.warning)
    assert not app.error


def test_no_campaign_yet_says_how_to_run_one(monkeypatch, gold_warehouse, no_gold_warehouse, tmp_path):
    for warehouse in (gold_warehouse, no_gold_warehouse):
        app = open_campaigns(monkeypatch, warehouse.dashboard_dsn, tmp_path)
        [info] = app.info
        assert "make demo" in info.value
        assert "cross_sell_campaign" in info.value
        assert not app.error
        assert not app.metric


def as_dashboard(dsn: str) -> psycopg.Connection:
    conn = psycopg.connect(dsn, autocommit=True)
    conn.execute("set default_transaction_read_only = off")  # the grants alone are tested
    return conn


def test_the_role_reads_the_campaign_views_and_not_the_campaign_schema(campaign):
    with as_dashboard(campaign.dashboard_dsn) as conn:
        for view in ("campaign_copy", "campaign_messages", "campaign_summaries"):
            assert conn.execute(f"select count(*) from gold.{view}").fetchone()[0] > 0
        columns = {
            name
            for (name,) in conn.execute(
                "select column_name from information_schema.columns"
                " where table_schema = 'gold' and table_name in ('campaign_copy', 'campaign_messages')"
            ).fetchall()
        }
        assert not columns & {
            "customer_email", "telegram_chat_id", "first_name", "detail", "email", "body"
        }  # fmt: skip
        assert "recorded_text" in columns
        for table in ("send_log", "recipients", "segment_copy", "opt_outs", "campaigns"):
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute(f"select * from campaign.{table} limit 1")


def test_the_outbox_reader_matches_by_message_id_and_leaves_the_maildir_as_it_was(campaign):
    before = sorted(p.relative_to(campaign.outbox) for p in campaign.outbox.rglob("*"))
    index = campaigns.outbox_index(campaign.outbox)
    [(sent,)] = query(
        campaign.admin_dsn,
        "select count(*) from campaign.send_log where campaign_id = %s and status = 'sent'",
        campaign.campaign_id,
    )
    assert len(index) == sent
    message_id = next(iter(index))
    found = campaigns.find_message(campaign.outbox, message_id)
    assert found is not None
    assert found.campaign_id == campaign.campaign_id
    assert found.message_id == f"<{message_id}@liftoff.example>"
    assert found.html
    assert found.text
    assert campaigns.find_message(campaign.outbox, "cross-sell-1999-01-01.1.email") is None
    assert sorted(p.relative_to(campaign.outbox) for p in campaign.outbox.rglob("*")) == before


def test_a_message_stored_twice_is_read_from_its_later_delivery(tmp_path):
    box = mailbox.Maildir(tmp_path / "box", create=True)
    for body in ("primeira", "segunda"):
        message = mailbox.MaildirMessage()
        message["Message-ID"] = "<cross-sell-2026-06-06.7.email@liftoff.example>"
        message.set_payload(body)
        key = box.add(message)
    assert campaigns.outbox_index(tmp_path / "box") == {"cross-sell-2026-06-06.7.email": key}
    assert campaigns.outbox_index(tmp_path / "missing") == {}
    assert campaigns.outbox_signature(tmp_path / "missing") == ()


def test_the_preview_is_sandboxed_and_opens_links_in_a_new_tab():
    body = '<body><a href="x?a=1&b=2">"oi"</a></body></html>'
    document = campaigns.preview_document(f'<html lang="pt-BR">{body}')
    assert 'sandbox="allow-popups allow-popups-to-escape-sandbox"' in document
    srcdoc = html.unescape(document.split('srcdoc="', 1)[1].rsplit('"', 1)[0])
    assert srcdoc == f'<html lang="pt-BR"><base target="_blank">{body}'
    assert '"oi"' not in document  # quotes cannot end the attribute early


def test_the_summarise_step_builds_the_pages_views_where_no_transform_has(campaign):
    """A warehouse whose last transform predates the views: the campaign's summarise step builds
    them with gold.campaign_summaries, so the page can read them after the next campaign."""
    from liftoff.campaign import runner

    with psycopg.connect(campaign.admin_dsn, autocommit=True) as conn:
        conn.execute("drop view gold.campaign_copy")
        conn.execute("drop view gold.campaign_messages")
    runner.summarise(campaign.admin_dsn, campaign.campaign_id)
    with as_dashboard(campaign.dashboard_dsn) as conn:
        for view in ("campaign_copy", "campaign_messages"):
            assert conn.execute(f"select count(*) from gold.{view}").fetchone()[0] > 0
