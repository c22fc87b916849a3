"""`make demo` end to end in the test stack: every DAG through Airflow (dag.test) for two days,
then the cross-sell campaign for the newest day, e-mailing a real SMTP server that writes the
outbox Maildir; Telegram without a bot is recorded, not sent. A short window of small days keeps
this to a couple of minutes."""

from __future__ import annotations

import mailbox
import re
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from aiosmtpd.controller import Controller

from liftoff import settings
from liftoff.devstack import demo
from liftoff.devstack.loopback import free_port
from liftoff.ingest.sources import SIMULATOR_ENV, simulator_variable

pytestmark = [pytest.mark.slow, pytest.mark.services]


@pytest.fixture
def outbox(tmp_path, monkeypatch):
    """The stack's local outbox (liftoff.devstack.outbox: a real SMTP server keeping every message
    in a Maildir at settings.outbox_dir()), on a port and folder of this test's own, with
    `smtp_default` pointing at it as the stack points it."""
    from liftoff.devstack.outbox import HOST, MaildirHandler
    from liftoff.devstack.stack import outbox_connection

    folder = tmp_path / "outbox"
    monkeypatch.setenv("LIFTOFF_OUTBOX_DIR", str(folder))
    port = free_port()
    controller = Controller(MaildirHandler(folder), hostname=HOST, port=port)
    controller.start()
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", outbox_connection(port))
    monkeypatch.delenv("AIRFLOW_CONN_TELEGRAM_DEFAULT", raising=False)
    monkeypatch.delenv("AIRFLOW_CONN_LLM", raising=False)
    try:
        yield folder
    finally:
        controller.stop()


def test_the_demo_runs_the_campaign_and_prints_what_it_did(
    airflow_db, warehouse, lake, crm_database, crm_api_served, outbox, monkeypatch, capfd
):
    monkeypatch.setenv(SIMULATOR_ENV, simulator_variable(sales_per_day=40, dirty_rate=0.02))
    # A customer entered through the CRM API on the newest demo day: the connector reads it.
    from liftoff.ingest.airbyte_extract import day_window
    from tests.crm_samples import customer

    entered = crm_api_served.client().post("/customers", json=customer(email="demo@example.com"))
    assert entered.status_code == 201, entered.text
    with psycopg.connect(crm_database) as conn:
        moment = day_window(demo.demo_days(2)[-1])[0] + timedelta(hours=9)
        conn.execute(
            "update crm.customers set created_at = %s, updated_at = %s where customer_id = %s",
            (moment, moment, entered.json()["customer_id"]),
        )
    began = datetime.now(UTC)
    assert demo.main(["--days", "2"]) == 0
    printed, logged = capfd.readouterr()
    output = printed + logged
    assert (
        "CRM API: extracted by the Airbyte connector (PyAirbyte, include/airbyte/crm/manifest.yaml)"
        " on 2 of 2 days, 1 changed records read"
    ) in printed

    # A successful run prints no error (Cosmos's watcher once logged "[error] XCom not found").
    errors = [line for line in output.splitlines() if "[error" in line]
    assert errors == [], "\n".join(errors)
    assert "XCom not found" not in output

    day = demo.demo_days(2)[-1]
    campaign = f"cross-sell-{day}"
    assert "Rows per layer" in printed  # the existing summary stays
    assert "gold.daily_sales" in printed
    assert f"Cross-sell campaign {campaign} (finished)" in printed
    with psycopg.connect(warehouse) as conn:
        summary = {
            row[0]: row[1:]
            for row in conn.execute(
                "select channel, audience_size, sent, recorded from gold.campaign_summaries"
                " where campaign_id = %s",
                (campaign,),
            ).fetchall()
        }
        sources = dict(
            conn.execute(
                "select copy_source, count(*) from campaign.segment_copy where campaign_id = %s group by 1",
                (campaign,),
            ).fetchall()
        )
    (email_audience, emails_sent, _), (chat_audience, chats_sent, chats_recorded) = (
        summary["email"],
        summary["telegram"],
    )
    assert emails_sent >= 1
    assert chat_audience >= 1
    assert (chats_sent, chats_recorded) == (0, chat_audience)  # no bot: every message recorded
    assert re.search(rf"email +audience +{email_audience:,}: sent {emails_sent:,}", printed)
    assert re.search(
        rf"telegram +audience +{chat_audience:,}: recorded, not sent {chats_recorded:,}", printed
    )
    assert "no Telegram bot configured" in printed
    assert sources == {"template": sum(sources.values())}  # no llm connection: the template wrote all
    assert re.search(rf"segments +{sources['template']} \(copy by template {sources['template']}\)", printed)
    assert re.search(r"sample subject: \S", printed)
    messages = len(mailbox.Maildir(outbox, create=False))
    assert messages == emails_sent
    assert f"outbox: {settings.outbox_dir()} (Maildir, {messages:,} messages)" in printed

    # Runs made by the demo start when they ran, not at their logical date (a day earlier).
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    from liftoff.orchestration import logical_date_of

    with create_session() as session:  # dag.test replaced any earlier run of the same logical date
        runs = session.query(DagRun).filter(DagRun.logical_date == logical_date_of(day)).all()
        starts = {run.dag_id: (run.start_date, run.end_date) for run in runs}
    for dag_id in ("ingest_crm", "transform_warehouse", "quality_gate", "cross_sell_campaign"):
        start, end = starts[dag_id]
        assert began - timedelta(seconds=5) <= start <= end <= datetime.now(UTC), dag_id

    # Nothing is left queued for the next `make up` to run again (the demo ran those DAGs itself).
    from airflow.models.asset import AssetDagRunQueue

    with create_session() as session:
        assert session.query(AssetDagRunQueue).count() == 0

    # Again for the same day: the send log sends nothing twice and records nothing twice.
    dags = demo_dags()
    demo.run_dag(dags["cross_sell_campaign"], day, **demo.CAMPAIGN_CONF)
    assert len(mailbox.Maildir(outbox, create=False)) == messages
    with psycopg.connect(warehouse) as conn:
        assert conn.execute(
            "select count(*) filter (where status = 'sent'), count(*) filter (where status = 'recorded')"
            " from campaign.send_log where campaign_id = %s",
            (campaign,),
        ).fetchone() == (emails_sent, chats_recorded)


def test_the_demo_says_when_the_crm_was_not_extracted(tmp_path):
    summary = demo.crm_extraction_summary(tmp_path.as_uri(), demo.demo_days(2), datetime.now(UTC))
    assert summary.startswith("CRM API: not extracted (no `crm_api` connection")


def demo_dags() -> dict:
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(settings.DAGS_FOLDER)).dags
