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
from psycopg import sql

from liftoff import settings
from liftoff.ingest.simulator import SimulatorConfig
from liftoff.orchestration import TIMEZONE
from tests.warehouses import dbt_build, simulate_days

DAY = date(2026, 7, 7)
PER_LOAD_COLUMNS = {
    "_airbyte_raw_id",
    "quarantine_id",
    "run_id",
    "checked_at",
    "quarantined_at",
    "finished_at",
    # The load ledger's times and the transform run that covered a load (raw.loads).
    "loaded_at",
    "transformed_at",
    "transform_run_id",
}
SCHEMAS = ("raw", "silver", "gold", "quality", "campaign")


def snapshot(dsn: str) -> dict[str, tuple[int, str]]:
    """(rows, md5 of the rows in a canonical order) of every table in the pipeline's schemas."""
    result = {}
    with psycopg.connect(dsn) as conn:
        tables = conn.execute(
            "select table_schema, table_name from information_schema.tables"
            " where table_schema = any(%s) and table_type = 'BASE TABLE' order by 1, 2",
            (list(SCHEMAS),),
        ).fetchall()
        for schema, table in tables:
            columns = [
                name
                for (name,) in conn.execute(
                    "select column_name from information_schema.columns"
                    " where table_schema = %s and table_name = %s order by ordinal_position",
                    (schema, table),
                ).fetchall()
                if name not in PER_LOAD_COLUMNS
            ]
            row = sql.SQL("row({})::text").format(sql.SQL(", ").join(map(sql.Identifier, columns)))
            query = sql.SQL(
                "select count(*), md5(coalesce(string_agg(r, '|' order by r), ''))"
                " from (select {} as r from {}) as t"
            )
            count, digest = conn.execute(query.format(row, sql.Identifier(schema, table))).fetchone()
            result[f"{schema}.{table}"] = (count, digest)
    return result


@pytest.fixture
def dags(airflow_db):
    # Parsed per test: the DAG objects cache their Airflow connections (Cosmos's profile mapping
    # does), and each test points the `warehouse` connection at a database of its own.
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(settings.DAGS_FOLDER))
    assert bag.import_errors == {}
    return bag.dags


def run_pipeline(dags, day: date) -> None:
    logical = datetime(day.year, day.month, day.day, 1, tzinfo=ZoneInfo(TIMEZONE))
    conf = {"sales_per_day": 80, "dirty_rate": 0.02, "full_refresh": True}
    runs = (
        ("ingest_crm", conf),
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
        monkeypatch.setenv("LIFTOFF_UNSUBSCRIBE_SECRET", "idempotency-test-secret")
        yield inbox, bot


def test_running_every_dag_twice_for_a_day_changes_no_table(
    dags, warehouse, lake, channels, tmp_path, monkeypatch
):
    inbox, bot = channels
    monkeypatch.setenv("LIFTOFF_GX_DIR", str(tmp_path / "gx"))
    # The day before, loaded and built directly: the campaign's best sellers come from the days
    # before its logical date, so a first day alone has no audience.
    day_before = DAY - timedelta(days=1)
    simulate_days(warehouse, lake, day_before, day_before, SimulatorConfig(sales_per_day=80, dirty_rate=0.02))
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
