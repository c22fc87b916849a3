"""The production ingest path: the real Airbyte provider (trigger + deferrable sensor) against a
local double of Airbyte's API, then the contract check of what the "sync" wrote into raw."""

from __future__ import annotations

import io
import json
from datetime import date, datetime
from zoneinfo import ZoneInfo

import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from liftoff import settings
from liftoff.ingest import loader
from liftoff.ingest.simulator import SimulatorConfig, activity, defects_of, snapshot
from liftoff.orchestration import ENTITIES, TIMEZONE
from tests.services.airbyte_api import AirbyteDouble, airbyte_api

DAY = date(2026, 6, 10)
CONFIG = SimulatorConfig(sales_per_day=80, dirty_rate=0.05, seed=9)


def write_like_airbyte(dsn: str, entity: str, table: pa.Table) -> None:
    """What Airbyte's Postgres destination leaves: typed columns and _airbyte_* metadata."""
    rows = loader._with_airbyte_columns(table, DAY).drop_columns(
        ["_liftoff_logical_date", "_airbyte_extracted_at"]
    )
    columns = ", ".join(f'"{name}"' for name in rows.column_names)
    buffer = io.BytesIO()
    pacsv.write_csv(rows, buffer, write_options=pacsv.WriteOptions(include_header=False))
    statement = f"copy raw.{entity} ({columns}) from stdin with (format csv)"
    with psycopg.connect(dsn) as conn, conn.cursor() as cursor, cursor.copy(statement) as copy:
        copy.write(buffer.getvalue())


@pytest.fixture(scope="module")
def ingest_dag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(settings.DAGS_FOLDER)).dags["ingest_crm"]


def test_airbyte_path_syncs_waits_and_quarantines_what_breaks_the_contracts(
    ingest_dag, warehouse, monkeypatch
):
    loader.ensure_raw_tables(warehouse)
    synced: dict[str, pa.Table] = {}

    def sync(connection_id: str) -> None:
        # The CRM connection syncs every stream; its first sync is a full refresh of the dimensions.
        for entity in ENTITIES:
            table = snapshot(entity, DAY, CONFIG) if entity != "sales" else activity(entity, DAY, CONFIG)
            write_like_airbyte(warehouse, entity, table)
            synced[entity] = table

    with airbyte_api(AirbyteDouble(on_sync=sync, running_polls=1)) as double:
        monkeypatch.setenv("AIRFLOW_CONN_AIRBYTE", json.dumps({"conn_type": "airbyte", "host": double.url}))
        dag_run = ingest_dag.test(
            logical_date=datetime(DAY.year, DAY.month, DAY.day, 1, tzinfo=ZoneInfo(TIMEZONE)),
            run_conf={"ingest_mode": "airbyte", "airbyte_connection_ids": ["crm-postgres"]},
        )
    assert "success" in str(dag_run.state)
    states = {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}
    assert all("skipped" in state for task, state in states.items() if task.startswith("embedded."))
    assert ("POST", "/api/public/v1/jobs") in double.requests
    assert len([r for r in double.requests if r[0] == "GET"]) >= 2, "the sensor waited for the job"

    with psycopg.connect(warehouse) as conn:
        for entity in ("suppliers", "customers"):
            kept = conn.execute(f"select count(*) from raw.{entity}").fetchone()[0]
            quarantined = conn.execute(
                "select count(*) from raw.quarantine where entity = %s and source_file = 'airbyte'", (entity,)
            ).fetchone()[0]
            assert kept + quarantined == synced[entity].num_rows, entity
            assert quarantined == sum(defects_of(synced[entity]).values()), entity
        bad_left = conn.execute("select count(*) from raw.customers where email not like '%@%'").fetchone()[0]
    assert bad_left == 0, "invalid synced rows no longer sit in raw"


def test_airbyte_mode_without_connections_says_what_to_set():
    from liftoff.ingest.daily import airbyte_connection_ids

    with pytest.raises(
        ValueError, match="airbyte_connection_ids Param or the liftoff_airbyte_connections Variable"
    ):
        airbyte_connection_ids({}, variable="[]")
