"""The pipeline run by Airflow itself (dag.test): simulator → lake → contracts → raw → dbt → gold."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote, urlparse
from zoneinfo import ZoneInfo

import psycopg
import pytest

from liftoff.ingest.simulator import SimulatorConfig, activity
from liftoff.ingest.sources import SIMULATOR_ENV, simulator_variable
from liftoff.orchestration import ENTITIES, TIMEZONE
from liftoff.transform import dbt_docs

DAYS = (date(2026, 6, 1), date(2026, 6, 2))
SIMULATOR = {"sales_per_day": 60, "dirty_rate": 0.0}


@pytest.fixture(autouse=True)
def small_clean_simulator(monkeypatch):
    """What the ingest DAG's simulator generates here (the liftoff_simulator Variable)."""
    monkeypatch.setenv(SIMULATOR_ENV, simulator_variable(**SIMULATOR))


def run(dag, day: date, **conf):
    logical = datetime(day.year, day.month, day.day, 1, tzinfo=ZoneInfo(TIMEZONE))
    dag_run = dag.test(logical_date=logical, run_conf=conf or None)
    assert "success" in str(dag_run.state), f"{dag.dag_id} {day} ended {dag_run.state}"
    return dag_run


def test_ingest_then_transform_fills_every_layer(dags, warehouse, lake):
    run(dags["ingest_crm"], DAYS[0], full_refresh=True)
    run(dags["ingest_crm"], DAYS[1])
    run(dags["ingest_crm"], DAYS[1])  # a rerun must not duplicate
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


def test_the_transform_publishes_dbt_docs_that_the_airflow_ui_serves(dags, warehouse, lake, monkeypatch):
    day = date(2026, 6, 9)  # each test its own logical date: dag runs of one date share XComs
    run(dags["ingest_crm"], day, full_refresh=True)
    run(dags["transform_warehouse"], day)

    published = Path(unquote(urlparse(lake).path)) / "dbt-docs"
    assert sorted(path.name for path in published.iterdir()) == sorted(dbt_docs.PUBLISHED_FILES)
    from cosmos.plugin.airflow3 import create_cosmos_fastapi_app
    from fastapi.testclient import TestClient

    monkeypatch.setenv("AIRFLOW__COSMOS__DBT_DOCS_PROJECTS", dbt_docs.docs_projects_setting(lake))
    page = TestClient(create_cosmos_fastapi_app()).get("/liftoff/dbt_docs_index.html")
    assert page.status_code == 200
    assert "gold_daily_sales" in page.text


def test_ingest_reports_the_day_and_emits_the_raw_assets(dags, warehouse, lake, monkeypatch):
    monkeypatch.setenv(SIMULATOR_ENV, simulator_variable(sales_per_day=60, dirty_rate=0.05))
    dag_run = run(dags["ingest_crm"], DAYS[0], full_refresh=True)
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


def test_a_failing_dbt_test_fails_its_model_task_and_its_retry_and_gold_is_not_published(
    dags, warehouse, lake
):
    """No task of its own runs a dbt test: the producer's `dbt build` runs them, and a model's task
    fails when a test of its model failed; its retry builds the model again with its tests (`dbt
    build`, not `dbt run`), so the retry cannot go green past the failing test either."""
    run(dags["ingest_crm"], DAYS[0], full_refresh=True)
    # A product that bypassed the contracts (written straight into raw) with an unknown category.
    with psycopg.connect(warehouse) as conn:
        conn.execute(
            "insert into raw.products (product_id, supplier_id, name, description, categoria, price,"
            " email_fornecedor, created_at, updated_at)"
            " values (999999, 1, 'Pião', 'Um brinquedo', 'Brinquedos', 9.9, 'x@y.com', now(), now())"
        )
    transform = dags["transform_warehouse"]
    for task in transform.tasks:
        task.retries = 0  # production retries a failed model; this test wants the first verdict
    retried = transform.get_task("dbt.bronze_products_run")  # ... but for the model under test
    retried.retries, retried.retry_delay = 1, timedelta(seconds=1)

    logical = datetime(DAYS[0].year, DAYS[0].month, DAYS[0].day, 1, tzinfo=ZoneInfo(TIMEZONE))
    dag_run = transform.test(logical_date=logical)

    instances = {ti.task_id: ti for ti in dag_run.get_task_instances()}
    states = {task_id: str(ti.state).rsplit(".", 1)[-1].lower() for task_id, ti in instances.items()}
    assert "failed" in str(dag_run.state)
    # The model built: the producer reported it, then its tests' verdict, which failed its task...
    producer = instances["dbt.dbt_producer_watcher"]
    verdict = lambda model: producer.xcom_pull(  # noqa: E731
        task_ids=producer.task_id, key=f"model__liftoff__{model}_tests_status"
    )
    assert producer.xcom_pull(task_ids=producer.task_id, key="model__liftoff__bronze_products_status") == {
        "status": "success",
        "outlet_uris": [],
    }
    assert verdict("bronze_products") == "fail"
    # ... and its retry too: it ran the model's tests again, which failed again (Cosmos's own
    # retry, `dbt run`, would have gone green).
    assert (states["dbt.bronze_products_run"], instances["dbt.bronze_products_run"].try_number) == (
        "failed",
        2,
    )
    # Everything built on products waits; what neither depends on them nor shares a relationship
    # test with them is built and tested (see "Transform" in the README for the watcher's rule).
    for dependant in (
        "dbt.silver_products_run",
        "dbt.gold_supplier_product_mix_run",
        "dbt.gold_daily_product_sales_run",
    ):
        assert states[dependant] == "upstream_failed", dependant
    for independent in ("silver_employees", "gold_employees_by_gender", "gold_monthly_payroll"):
        assert states[f"dbt.{independent}_run"] == "success", independent
        assert verdict(independent) == "pass", independent
    assert states["publish_gold"] == "upstream_failed"  # no `gold` Asset event: nothing downstream runs
    # The failing rows are kept in the audit schema, where the failed test's log points.
    with psycopg.connect(warehouse) as conn:
        [(table,)] = conn.execute(
            "select table_name from information_schema.tables where table_schema = 'audit'"
            " and table_name like 'accepted_values_bronze_produc%'"
        ).fetchall()
        failing = conn.execute(f'select * from audit."{table}"').fetchall()
    assert ("Brinquedos", 1) in [tuple(row) for row in failing]


def test_the_next_transform_reuses_dbt_s_parse_and_tests_its_own_days(dags, warehouse, lake):
    """The window reaches dbt in the producer's environment, not as `--vars` (part of dbt's
    partial-parse state): the second run reuses the parse Cosmos kept from the first (the saved
    parse is the same file, byte for byte: dbt skipped parsing and did not rewrite it), and its
    tests check its own day: a sale of an unknown customer on day 2 fails silver_sales's tests,
    which a kept parse testing day 1 (the `where` configs dbt renders while parsing) would miss.
    Issue 18; tests/transform/test_partial_parse.py shows the same at dbt's level."""
    transform = dags["transform_warehouse"]
    for task in transform.tasks:
        task.retries = 0
    producer = transform.get_task("dbt.dbt_producer_watcher")
    kept_parse = Path(producer.cache_dir) / "target" / "partial_parse.msgpack"

    run(dags["ingest_crm"], DAYS[0], full_refresh=True)
    run(transform, DAYS[0])
    parsed = kept_parse.read_bytes()  # this database's profile: a new parse, kept by Cosmos

    run(dags["ingest_crm"], DAYS[1])
    with psycopg.connect(warehouse) as conn:
        conn.execute(
            "create temporary table orphan as select * from raw.sales"
            " where (date::timestamptz at time zone %s)::date = %s limit 1",
            (TIMEZONE, DAYS[1]),
        )
        conn.execute(
            "update orphan set sale_id = 900000777, customer_id = 999999999,"
            " _airbyte_raw_id = gen_random_uuid()"
        )
        assert conn.execute("insert into raw.sales select * from orphan").rowcount == 1
    logical = datetime(DAYS[1].year, DAYS[1].month, DAYS[1].day, 1, tzinfo=ZoneInfo(TIMEZONE))
    dag_run = transform.test(logical_date=logical)

    assert kept_parse.read_bytes() == parsed
    assert "failed" in str(dag_run.state)
    instances = {ti.task_id: ti for ti in dag_run.get_task_instances()}
    ran = instances["dbt.dbt_producer_watcher"]
    verdict = ran.xcom_pull(task_ids=ran.task_id, key="model__liftoff__silver_sales_tests_status")
    assert verdict == "fail"
    assert str(instances["dbt.silver_sales_run"].state).endswith("failed")
