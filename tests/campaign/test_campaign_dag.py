"""The campaign DAG end to end under dag.test, on a warehouse built by the real loader and dbt:
real SMTP server, Telegram Bot API double, chat-completions double."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest

from liftoff import settings
from liftoff.ingest.daily import land_simulated_day, load_landed_day
from liftoff.ingest.simulator import SimulatorConfig
from liftoff.orchestration import TIMEZONE
from tests.services.openai_api import openai_api
from tests.services.smtp_server import smtp_server
from tests.services.telegram_api import telegram_api
from tests.transform.test_dbt_project import dbt

DAY = date(2026, 6, 3)
ENTITIES = ("suppliers", "products", "employees", "customers", "sales")
SALES_CHAT = -4242


@pytest.fixture
def built(warehouse, lake) -> str:
    """Two simulated days through the loader and `dbt build` (silver and gold as in production)."""
    config = SimulatorConfig(sales_per_day=60, dirty_rate=0.0)
    first = DAY - timedelta(days=1)
    for day in (first, DAY):
        for entity in ENTITIES:
            land_simulated_day(lake, entity, day, config, full_refresh=day == first)
            load_landed_day(warehouse, lake, entity, day, run_id=f"run-{day}")
    variables = f'{{"since_date": "{first}", "logical_date": "{DAY}"}}'
    result = dbt(warehouse, "build", "--exclude-resource-type", "unit_test", "--vars", variables)
    assert result.returncode == 0, result.stdout[-3000:]
    return warehouse


@pytest.fixture
def campaign_dag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(settings.DAGS_FOLDER))
    assert bag.import_errors == {}
    return bag.dags["cross_sell_campaign"]


@pytest.fixture
def services(monkeypatch, crm_database):
    with smtp_server() as inbox, telegram_api() as bot, openai_api() as llm:
        monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", inbox.connection_json())
        monkeypatch.setenv("AIRFLOW_CONN_TELEGRAM_DEFAULT", bot.connection_json(sales_chat=SALES_CHAT))
        monkeypatch.setenv("AIRFLOW_CONN_LLM", llm.connection_json(budget_usd=5))
        monkeypatch.setenv("LIFTOFF_UNSUBSCRIBE_SECRET", "dag-test-secret-of-at-least-32-bytes")
        yield inbox, bot, llm


def run(dag, hour: int = 4, **conf):
    """A run for DAY; distinct hours make distinct runs (dag.test reuses a run of the same instant).

    DAY lies months before the day the test runs, so it is a stale day: these runs force the send
    (send_stale_day) unless a test says otherwise."""
    logical = datetime(DAY.year, DAY.month, DAY.day, hour, tzinfo=ZoneInfo(TIMEZONE))
    # dag.test keeps a previous run's conf in the DAG's params: always say every flag explicitly.
    dag_run = dag.test(logical_date=logical, run_conf={"dry_run": False, "send_stale_day": True, **conf})
    assert "success" in str(dag_run.state), f"campaign ended {dag_run.state}"
    return dag_run


def opt_out_in_the_crm(crm_database: str, email: str) -> None:
    """POST /opt-outs on the CRM API, as a CRM user would."""
    from fastapi.testclient import TestClient

    from liftoff.apps.crm_api.app import create_app
    from liftoff.apps.crm_api.auth import mint_key

    app = create_app(crm_database)
    with TestClient(app) as api:
        api.headers["X-API-Key"] = mint_key(app.state.engine, "tests").key
        response = api.post("/opt-outs", json={"email": email, "channel": "all", "reason": "chega"})
        assert response.status_code == 201, response.text
    app.state.engine.dispose()


def test_the_campaign_dag_sends_once_per_customer_and_channel(built, campaign_dag, services, crm_database):
    inbox, bot, llm = services
    run(campaign_dag, hour=3, dry_run=True, batch_size=7)
    assert inbox.messages() == []
    assert [m["chat_id"] for m in bot.messages] == [SALES_CHAT]  # only the (dry-run) summary
    with psycopg.connect(built) as conn:
        assert conn.execute("select count(*) from campaign.send_log").fetchone()[0] == 0
        # A customer of the day's audience opts out through the CRM API, after the transform.
        opted_out_email = conn.execute(
            "select c.customer_email from gold.cross_sell_audience as a"
            " join silver.customers as c using (customer_id)"
            " where a.email_reachable order by a.customer_id limit 1"
        ).fetchone()[0]
    opt_out_in_the_crm(crm_database, opted_out_email)

    run(campaign_dag, batch_size=7)
    with psycopg.connect(built) as conn:
        recipients = conn.execute(
            "select customer_id, customer_email, telegram_chat_id, last_category, recommended_product_id"
            " from campaign.recipients where campaign_id = 'cross-sell-2026-06-03'"
        ).fetchall()
        segments = conn.execute("select count(distinct segment_key) from campaign.recipients").fetchone()[0]
        batches = conn.execute("select count(distinct batch_number) from campaign.recipients").fetchone()[0]
        summary = conn.execute(
            "select channel, audience_size, sent, skipped_opted_out, failed, pending"
            " from gold.campaign_summaries order by 1"
        ).fetchall()
        opted_out_chats = conn.execute(
            "select telegram_chat_id from campaign.recipients"
            " where customer_email = %s and telegram_chat_id is not null",
            (opted_out_email,),
        ).fetchall()
        # Every recommendation is gold's best seller of the category that the customer never bought.
        mismatches = conn.execute(
            """
            select r.customer_id from campaign.recipients as r
            where r.recommended_product_id <> (
                select b.product_id from gold.category_best_sellers as b
                where b.category = r.last_category and not exists (
                    select 1 from silver.sales as s
                    where s.customer_id = r.customer_id and s.product_id = b.product_id
                )
                order by b.category_rank limit 1
            )
            """
        ).fetchall()
    emails = [r for r in recipients if r[1] and r[1] != opted_out_email]
    chats = [r for r in recipients if r[2] and r[1] != opted_out_email]
    opted_out_chat = len(opted_out_chats)  # 1 when that customer also has a Telegram chat
    assert batches > 1  # really fanned out over mapped tasks
    assert emails
    assert mismatches == []
    # The customer who opted out in the CRM got nothing, on any channel.
    assert opted_out_email not in [to for _, [to] in inbox.envelopes]
    assert sorted(to for _, [to] in inbox.envelopes) == sorted(r[1] for r in emails)
    assert len(llm.requests) == segments  # one LLM call per segment, not per customer
    customer_chats = [m["chat_id"] for m in bot.messages if m["chat_id"] != SALES_CHAT]
    assert sorted(customer_chats) == sorted(r[2] for r in chats)
    assert summary == [
        ("email", len(emails) + 1, len(emails), 1, 0, 0),
        ("telegram", len(chats) + opted_out_chat, len(chats), opted_out_chat, 0, 0),
    ]

    run(campaign_dag, hour=5, batch_size=7)  # another run for the same day: nothing is sent again
    assert len(inbox.envelopes) == len(emails)
    assert len([m for m in bot.messages if m["chat_id"] != SALES_CHAT]) == len(chats)
    assert len(llm.requests) == segments  # copy came from the cache


def test_a_stale_day_sends_nothing_unless_forced(built, campaign_dag, services):
    inbox, bot, _ = services
    run(campaign_dag, hour=6, send_stale_day=False, batch_size=7)  # DAY is months old
    assert inbox.envelopes == []
    assert [m["chat_id"] for m in bot.messages] == [SALES_CHAT]
    assert "dia antigo, nada enviado" in bot.messages[-1]["text"]
    with psycopg.connect(built) as conn:
        rows = conn.execute(
            "select campaign_status, audience_size, sent, skipped_stale_day from gold.campaign_summaries"
        ).fetchall()
    assert {row[0] for row in rows} == {"skipped: stale day"}
    assert all(sent == 0 and skipped == audience for _, audience, sent, skipped in rows)
    assert sum(row[1] for row in rows) > 0


def test_the_campaign_runs_on_the_certified_gold_asset_only(campaign_dag):
    from liftoff.orchestration import CERTIFIED_GOLD_ASSET

    condition = campaign_dag.timetable.asset_condition
    assert [asset.uri for asset in condition.objects] == [CERTIFIED_GOLD_ASSET.uri]


def test_without_a_bot_the_telegram_messages_are_recorded_and_the_run_is_green(
    built, campaign_dag, services, monkeypatch
):
    inbox, bot, _ = services
    monkeypatch.delenv("AIRFLOW_CONN_TELEGRAM_DEFAULT")
    run(campaign_dag, hour=7, batch_size=7)
    assert bot.messages == []  # no bot: nothing reaches Telegram, not even the sales team's summary
    with psycopg.connect(built) as conn:
        chats = conn.execute(
            "select count(*) from campaign.recipients where telegram_chat_id is not null"
        ).fetchone()[0]
        statuses = dict(
            conn.execute(
                "select status, count(*) from campaign.send_log where channel = 'telegram' group by 1"
            ).fetchall()
        )
        summary = conn.execute(
            "select audience_size, sent, recorded, skipped_no_channel from gold.campaign_summaries"
            " where channel = 'telegram'"
        ).fetchone()
    assert chats
    assert statuses == {"recorded": chats}
    assert summary == (chats, 0, chats, 0)
    assert inbox.envelopes  # e-mail went out as usual
