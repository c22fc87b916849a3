"""The pipeline run by Airflow itself (dag.test): simulator → lake → contracts → raw → dbt → gold."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import psycopg
import pytest

from liftoff import settings
from liftoff.dag_support import ENTITIES, TIMEZONE
from liftoff.simulator import SimulatorConfig, activity

DAYS = (date(2026, 6, 1), date(2026, 6, 2))
CONF = {"sales_per_day": 60, "dirty_rate": 0.0}


@pytest.fixture(scope="module")
def dags(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(settings.DAGS_FOLDER))
    assert bag.import_errors == {}
    return bag.dags


def run(dag, day: date, **conf):
    logical = datetime(day.year, day.month, day.day, 1, tzinfo=ZoneInfo(TIMEZONE))
    dag_run = dag.test(logical_date=logical, run_conf=conf or None)
    assert "success" in str(dag_run.state), f"{dag.dag_id} {day} ended {dag_run.state}"
    return dag_run


def test_ingest_then_transform_fills_every_layer(dags, warehouse, lake):
    run(dags["ingest_crm"], DAYS[0], **CONF, full_refresh=True)
    run(dags["ingest_crm"], DAYS[1], **CONF)
    run(dags["ingest_crm"], DAYS[1], **CONF)  # a rerun must not duplicate
    run(dags["transform_warehouse"], DAYS[-1])

    expected = {day: activity("sales", day, SimulatorConfig(sales_per_day=60)) for day in DAYS}
    with psycopg.connect(warehouse) as conn:
        raw = conn.execute("select count(*) from raw.sales").fetchone()[0]
        gold = dict(conn.execute("select sale_date, sales_count from gold.daily_sales").fetchall())
        revenue = conn.execute("select sum(revenue) from gold.daily_sales").fetchone()[0]
        quarantined = conn.execute("select count(*) from raw.quarantine").fetchone()[0]
        loaded = {e: conn.execute(f"select count(*) from raw.{e}").fetchone()[0] for e in ENTITIES}
    assert quarantined == 0
    assert all(loaded.values()), loaded
    assert raw == sum(table.num_rows for table in expected.values())
    assert gold == {day: table.num_rows for day, table in expected.items()}
    expected_revenue = sum(sum(table.column("price").to_pylist()) for table in expected.values())
    assert float(revenue) == pytest.approx(expected_revenue, abs=0.05)


def test_ingest_reports_the_day_and_emits_the_raw_assets(dags, warehouse, lake):
    dag_run = run(dags["ingest_crm"], DAYS[0], sales_per_day=60, dirty_rate=0.05, full_refresh=True)
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        events = (
            session.query(AssetModel.name, AssetEvent.extra)
            .join(AssetEvent, AssetEvent.asset_id == AssetModel.id)
            .filter(AssetEvent.source_run_id == dag_run.run_id)
            .all()
        )
        summary = next(
            ti for ti in dag_run.get_task_instances(session=session) if ti.task_id == "embedded.reconcile"
        )
        totals = summary.xcom_pull(task_ids="embedded.reconcile", session=session)
    assert {name for name, _ in events} == {f"raw.{e}" for e in ENTITIES}
    assert all(extra == {"logical_date": DAYS[0].isoformat()} for _, extra in events)
    assert totals["records_in"] == totals["records_loaded"] + totals["records_quarantined"]
    assert totals["records_quarantined"] > 0


def test_a_missing_file_fails_or_skips_by_configuration(dags, warehouse, lake):
    only_load = dags["ingest_crm"].partial_subset(
        task_ids=["embedded.load_suppliers"], include_upstream=False
    )
    only_load.tasks[0].retries = 0  # a late file is worth retries in production, not in this test
    logical = datetime(2026, 6, 5, 1, tzinfo=ZoneInfo(TIMEZONE))
    failed = only_load.test(logical_date=logical, run_conf={"on_missing_file": "fail"})
    assert "failed" in str(failed.state)
    skipped = only_load.test(logical_date=logical, run_conf={"on_missing_file": "skip"})
    states = {ti.task_id: str(ti.state) for ti in skipped.get_task_instances()}
    assert "skipped" in states["embedded.load_suppliers"]
