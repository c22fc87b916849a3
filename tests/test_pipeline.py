"""The thin end-to-end slice, run by Airflow itself (dag.test): simulator → lake → raw → dbt → gold."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import psycopg
import pytest

from liftoff import settings
from liftoff.dag_support import TIMEZONE
from liftoff.simulator import SimulatorConfig, sales_for_day

DAYS = (date(2026, 6, 1), date(2026, 6, 2))


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


def test_ingest_then_transform_fills_every_layer(dags, warehouse, lake):
    for day in DAYS:
        run(dags["ingest_crm"], day, sales_per_day=60)
    run(dags["ingest_crm"], DAYS[0], sales_per_day=60)  # a rerun must not duplicate
    run(dags["transform_warehouse"], DAYS[-1])

    expected = {day: sales_for_day(day, SimulatorConfig(sales_per_day=60)) for day in DAYS}
    with psycopg.connect(warehouse) as conn:
        raw = conn.execute("select count(*) from raw.sales").fetchone()[0]
        gold = dict(conn.execute("select sale_date, sales_count from gold.daily_sales").fetchall())
        revenue = conn.execute("select sum(revenue) from gold.daily_sales").fetchone()[0]
    assert raw == sum(table.num_rows for table in expected.values())
    assert gold == {day: table.num_rows for day, table in expected.items()}
    expected_revenue = sum(sum(table.column("price").to_pylist()) for table in expected.values())
    assert float(revenue) == pytest.approx(expected_revenue, abs=0.05)
