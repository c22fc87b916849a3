"""Reliability: every DAG run twice for the same logical date leaves every table as it was, and
the campaign messages no customer twice (real SMTP server; Telegram and chat-completions doubles).

Compared per table: the row count and a checksum of the content. Left out of the checksum are the
columns that identify a load rather than the data: surrogate keys drawn per load (`_airbyte_raw_id`,
a fresh UUID per row as Airbyte writes it; `quarantine_id`, a sequence) and the run id and time of
a quarantine, a load, a transform's coverage of it, a quality check or a campaign run.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest

from liftoff.ingest.simulator import SimulatorConfig
from liftoff.ingest.sources import SIMULATOR_ENV, simulator_variable
from liftoff.orchestration import TIMEZONE
from tests.snapshots import snapshot
from tests.warehouses import dbt_build, simulate_days

DAY = date(2026, 7, 7)


SIMULATOR = {"sales_per_day": 80, "dirty_rate": 0.02}


def run_pipeline(dags, day: date) -> None:
    logical = datetime(day.year, day.month, day.day, 1, tzinfo=ZoneInfo(TIMEZONE))
    runs = (
        ("ingest_crm", {"full_refresh": True}),
        ("transform_warehouse", None),
        ("quality_gate", None),
        ("cross_sell_campaign", {"dry_run": False, "send_stale_day": True}),
    )
    for dag_id, run_conf in runs:
        dag_run = dags[dag_id].test(logical_date=logical, run_conf=run_conf)
        assert "success" in str(dag_run.state), f"{dag_id} ended {dag_run.state}"


@pytest.fixture
def channels(monkeypatch):
    """The campaign's channels and copywriter: a real SMTP server, Bot API and LLM doubles."""
    from tests.services.openai_api import openai_api
    from tests.services.smtp_server import smtp_server
    from tests.services.telegram_api import telegram_api

    with smtp_server() as inbox, telegram_api() as bot, openai_api() as llm:
        monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", inbox.connection_json())
        monkeypatch.setenv("AIRFLOW_CONN_TELEGRAM_DEFAULT", bot.connection_json())
        monkeypatch.setenv("AIRFLOW_CONN_LLM", llm.connection_json(budget_usd=5))
        monkeypatch.setenv("LIFTOFF_UNSUBSCRIBE_SECRET", "idempotency-test-secret-of-at-least-32-bytes")
        yield inbox, bot


def test_running_every_dag_twice_for_a_day_changes_no_table(
    dags, warehouse, lake, channels, tmp_path, monkeypatch
):
    inbox, bot = channels
    monkeypatch.setenv("LIFTOFF_GX_DIR", str(tmp_path / "gx"))
    # The day before, loaded and built directly: the campaign's best sellers come from the days
    # before its logical date, so a first day alone has no audience.
    day_before = DAY - timedelta(days=1)
    simulate_days(warehouse, lake, day_before, day_before, SimulatorConfig(**SIMULATOR))
    monkeypatch.setenv(SIMULATOR_ENV, simulator_variable(**SIMULATOR))  # the DAG's, the same
    dbt_build(warehouse, day_before, day_before)
    run_pipeline(dags, DAY)
    first = snapshot(warehouse)
    emailed = sorted(to for _, [to] in inbox.envelopes)
    messaged = sorted(message["chat_id"] for message in bot.messages)
    run_pipeline(dags, DAY)
    second = snapshot(warehouse)

    # The campaign reached its audience once, and the second run reached no one again.
    with psycopg.connect(warehouse) as conn:
        sent = conn.execute(
            "select channel, count(*) from campaign.send_log where status = 'sent' group by 1 order by 1"
        ).fetchall()
    assert emailed
    assert len(set(emailed)) == len(emailed)
    assert sorted(to for _, [to] in inbox.envelopes) == emailed
    assert sorted(message["chat_id"] for message in bot.messages) == messaged
    assert dict(sent).get("email") == len(emailed)

    assert {"raw.sales", "silver.sales", "gold.daily_sales", "quality.results"} <= set(first)
    assert first["raw.sales"][0] > 0
    changed = {
        table: (first[table], second.get(table)) for table in first if first[table] != second.get(table)
    }
    assert changed == {}
    assert set(second) == set(first)
