"""The gate's reconciliation on a real warehouse (simulator → loader → raw → dbt): a clean build
reconciles, and a late record the transform did not rebuild, a silver row deleted by hand, a key
kept twice, a sale silver made up and a gold figure that no longer adds up each fail the gate,
naming the key (or the day) — what the expectation suites alone let through."""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, date, datetime, time, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import psycopg
import pytest

from liftoff import settings
from liftoff.devstack import stack
from liftoff.ingest.simulator import SimulatorConfig
from liftoff.orchestration import TIMEZONE, days_to_check
from liftoff.quality.gate import alert_payload, check_days, run_gate
from liftoff.quality.reconcile import airbyte_ranges, reconcile
from tests.warehouses import create_database, dbt_build_in_process, drop_database, simulate_days

# Needs simulated days built by dbt on the embedded Postgres: not in `make test-fast`.
pytestmark = pytest.mark.services

DAYS = [date(2026, 8, 3), date(2026, 8, 4), date(2026, 8, 5)]
FIRST, MIDDLE, LAST = DAYS
CONFIG = SimulatorConfig(sales_per_day=60, dirty_rate=0.02)  # some records quarantined, too


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Three simulated days loaded and built by dbt once; tests get copies (template databases)."""
    name = f"wh_reconcile_{uuid.uuid4().hex[:10]}"
    dsn = create_database(name)
    try:
        simulate_days(dsn, tmp_path_factory.mktemp("lake").as_uri(), FIRST, LAST, CONFIG)
        dbt_build_in_process(dsn, FIRST, LAST)
        yield name
    finally:
        drop_database(name)


@pytest.fixture
def warehouse_copy(built, tmp_path, monkeypatch):
    """A private copy of the built warehouse, the `warehouse` connection pointing at it."""
    name = f"wh_reconcile_copy_{uuid.uuid4().hex[:10]}"
    dsn = create_database(name, template=built)
    conn = json.loads(os.environ[stack.WAREHOUSE_CONN_ENV]) | {"schema": name}
    monkeypatch.setenv(stack.WAREHOUSE_CONN_ENV, json.dumps(conn))
    monkeypatch.setenv("LIFTOFF_GX_DIR", str(tmp_path / "gx"))
    try:
        yield dsn
    finally:
        drop_database(name)


def failures(findings) -> dict[tuple[str, str], list]:
    """(suite, expectation) → the keys each failing reconciliation finding names."""
    return {
        (f.suite, f.expectation): f.observed_value.get("keys")
        for f in findings
        if not f.success and f.suite.startswith("reconcile_")
    }


def scalar(dsn: str, query: str, *params):
    with psycopg.connect(dsn) as conn:
        return conn.execute(query, params).fetchone()[0]


def execute(dsn: str, *statements: str) -> None:
    with psycopg.connect(dsn) as conn:
        for statement in statements:
            conn.execute(statement)


def test_a_clean_build_reconciles_every_day(warehouse_copy):
    for day in DAYS:
        findings = reconcile(warehouse_copy, day)
        assert failures(findings) == {}, day
        checked = {(f.suite, f.expectation): f.observed_value for f in findings}
        assert checked[("reconcile_sales", "raw_keys_in_silver")]["checked_keys"] > 0
    # The first day was a full load: every dimension's keys were checked.
    first = {(f.suite, f.expectation): f.observed_value for f in reconcile(warehouse_copy, FIRST)}
    for entity in ("suppliers", "products", "employees", "customers"):
        assert first[(f"reconcile_{entity}", "raw_keys_in_silver")]["checked_keys"] > 0, entity
    # The whole gate (expectation suites and reconciliation) passes too.
    report = run_gate(warehouse_copy, LAST, "clean", None)
    assert report.passed, report.summary()
    assert {"reconcile_sales", "reconcile_customers", "reconcile_gold"} <= {f.suite for f in report.findings}


def insert_late_sale(dsn: str, dated: date, loaded_on: date, airbyte: bool = False) -> int:
    """A sale dated `dated` (noon, Brasília) that a load of `loaded_on` delivers, stored as the
    loader stores it (stamped with its load date) or as Airbyte does (unstamped, extracted at
    the sync's time, in the morning after the day). Its customer, product and seller exist."""
    sold_at = datetime.combine(dated, time(12), tzinfo=ZoneInfo(TIMEZONE))
    if airbyte:
        extracted_at, stamp = datetime.combine(loaded_on + timedelta(days=1), time(4), tzinfo=UTC), None
    else:
        extracted_at, stamp = datetime.combine(loaded_on, time(), tzinfo=UTC), loaded_on
    with psycopg.connect(dsn) as conn:
        sale_id = conn.execute("select max(sale_id) + 1000 from raw.sales").fetchone()[0]
        conn.execute(
            """
            insert into raw.sales (
                _airbyte_extracted_at, _liftoff_logical_date, sale_id, customer_id, product_id,
                seller_id, email_employee, email_customer, first_name, last_name, phone_number,
                name_product, unit_price, quantity, price, date, created_at)
            select %(extracted_at)s, %(stamp)s, %(sale_id)s, customer_id, product_id, seller_id,
                email_employee, email_customer, first_name, last_name, phone_number, name_product,
                unit_price, 2, unit_price * 2, %(sold_at)s, %(sold_at)s
            from raw.sales where _liftoff_logical_date = %(dated)s order by sale_id limit 1
            """,
            {"extracted_at": extracted_at, "stamp": stamp, "sale_id": sale_id, "sold_at": sold_at,
             "dated": dated},
        )  # fmt: skip
    return sale_id


@pytest.mark.parametrize("airbyte", [False, True], ids=["loader", "airbyte"])
def test_a_late_record_the_transform_did_not_rebuild_fails_the_gate(warehouse_copy, airbyte):
    # Loaded with the last day, dated two days before: the transform of the last day alone
    # (what the daily run passes dbt today) rebuilds the last day's sales, not the first day's.
    late = insert_late_sale(warehouse_copy, FIRST, LAST, airbyte=airbyte)
    dbt_build_in_process(warehouse_copy, LAST, LAST)
    # What the window-by-sale-date transform leaves: the sale is not in silver. (A transform that
    # follows what was loaded brings it through; taking it out again keeps this test about the gate.)
    execute(warehouse_copy, f"delete from silver.sales where sale_id = {int(late)}")

    report = run_gate(warehouse_copy, LAST, "late", None)

    assert not report.passed
    # The expectation suites see an ordinary day; only the reconciliation sees the lost sale.
    assert report.failed_suites == ["reconcile_sales"]
    assert failures(report.findings) == {("reconcile_sales", "raw_keys_in_silver"): [late]}
    [missing] = report.failures
    assert missing.failing_samples == [
        {"sale_id": late, "sale_date": FIRST.isoformat(), "loaded_on": None if airbyte else LAST.isoformat()}
    ]
    assert str(late) in report.summary()
    assert str(LAST) in report.summary()
    assert str(late) in alert_payload([report])["summary"]
    with psycopg.connect(warehouse_copy) as conn:
        stored = conn.execute(
            "select suite, expectation, unexpected_count, failing_samples from quality.results"
            " where logical_date = %s and not success",
            (LAST,),
        ).fetchall()
    assert stored == [("reconcile_sales", "raw_keys_in_silver", 1, missing.failing_samples)]

    # A transform that rebuilds the late record's day with the last one brings it through.
    dbt_build_in_process(warehouse_copy, FIRST, LAST)
    assert all(report.passed for report in check_days(warehouse_copy, [FIRST, LAST], "rebuilt"))


def test_a_silver_sale_deleted_by_hand_fails_the_gate_naming_it(warehouse_copy):
    sale_id = scalar(warehouse_copy, "select min(sale_id) from silver.sales where sale_date = %s", MIDDLE)
    execute(warehouse_copy, f"delete from silver.sales where sale_id = {int(sale_id)}")

    report = run_gate(warehouse_copy, MIDDLE, "deleted", None)

    found = failures(report.findings)
    assert found[("reconcile_sales", "raw_keys_in_silver")] == [sale_id]
    # gold still counts the sale silver lost: the day's totals no longer add up.
    assert found[("reconcile_gold", "daily_sales_equals_silver")] == [MIDDLE.isoformat()]
    assert f"[{sale_id}]" in report.summary()
    # The other days are untouched.
    assert failures(reconcile(warehouse_copy, LAST)) == {}


def test_a_silver_customer_deleted_by_hand_fails_the_gate_naming_it(warehouse_copy):
    day = scalar(
        warehouse_copy,
        "select max(_liftoff_logical_date) from raw.customers where _liftoff_logical_date > %s",
        FIRST,
    )
    assert day is not None, "the simulator delivered no customer after the first day"
    customer_id = scalar(
        warehouse_copy, "select min(customer_id) from raw.customers where _liftoff_logical_date = %s", day
    )
    execute(warehouse_copy, f"delete from silver.customers where customer_id = {int(customer_id)}")

    found = failures(reconcile(warehouse_copy, day))

    assert found[("reconcile_customers", "raw_keys_in_silver")] == [customer_id]


def test_a_key_kept_twice_in_silver_fails_the_gate_naming_it(warehouse_copy):
    sale_id = scalar(warehouse_copy, "select max(sale_id) from silver.sales where sale_date = %s", LAST)
    product_id = scalar(
        warehouse_copy, "select min(product_id) from raw.products where _liftoff_logical_date = %s", FIRST
    )
    with psycopg.connect(warehouse_copy) as conn:
        # silver.sales guards sale_id with a unique index: the duplicate must get past it.
        [index] = conn.execute(
            "select indexname from pg_indexes where schemaname = 'silver' and tablename = 'sales'"
            " and indexdef like 'CREATE UNIQUE INDEX%%(sale_id)'"
        ).fetchone()
        conn.execute(f'drop index silver."{index}"')
        copy = "insert into silver.{0} select * from silver.{0} where {1} = %s"
        conn.execute(copy.format("sales", "sale_id"), (sale_id,))
        conn.execute(copy.format("products", "product_id"), (product_id,))

    last = failures(reconcile(warehouse_copy, LAST))
    first = failures(reconcile(warehouse_copy, FIRST))

    assert last[("reconcile_sales", "silver_keys_unique")] == [sale_id]
    assert first[("reconcile_products", "silver_keys_unique")] == [product_id]


def test_a_sale_silver_holds_without_a_raw_record_fails_the_gate(warehouse_copy):
    made_up = scalar(warehouse_copy, "select max(sale_id) + 5000 from silver.sales")
    execute(
        warehouse_copy,
        f"insert into silver.sales select {int(made_up)}, customer_id, product_id, seller_id,"
        " seller_email, customer_email, product_name, unit_price, quantity, sale_value,"
        " is_value_outlier, sale_date, sold_at"
        f" from silver.sales where sale_date = '{MIDDLE}' order by sale_id limit 1",
    )

    found = failures(reconcile(warehouse_copy, MIDDLE))

    assert found[("reconcile_sales", "silver_keys_in_raw")] == [made_up]


def test_silver_at_an_old_version_fails_the_gate(warehouse_copy):
    sale_id = scalar(warehouse_copy, "select min(sale_id) from silver.sales where sale_date = %s", LAST)
    execute(warehouse_copy, f"update silver.sales set quantity = quantity + 1 where sale_id = {int(sale_id)}")

    found = failures(reconcile(warehouse_copy, LAST))

    assert found[("reconcile_sales", "silver_at_latest_raw_version")] == [sale_id]


def test_gold_disagreeing_with_silver_fails_the_gate_naming_the_day(warehouse_copy):
    execute(warehouse_copy, f"update gold.daily_sales set revenue = revenue + 1 where sale_date = '{MIDDLE}'")
    product_id, seller_id = (
        scalar(warehouse_copy, f"select min({column}) from gold.{mart} where sale_date = %s", MIDDLE)
        for column, mart in (("product_id", "daily_product_sales"), ("seller_id", "daily_seller_sales"))
    )
    execute(
        warehouse_copy,
        f"update gold.daily_product_sales set sales_count = sales_count + 1"
        f" where sale_date = '{MIDDLE}' and product_id = {int(product_id)}",
        f"delete from gold.daily_seller_sales where sale_date = '{MIDDLE}' and seller_id = {int(seller_id)}",
    )

    report = run_gate(warehouse_copy, MIDDLE, "gold", None)

    assert failures(report.findings) == {
        ("reconcile_gold", "daily_sales_equals_silver"): [MIDDLE.isoformat()],
        ("reconcile_gold", "daily_product_sales_equals_silver"): [product_id],
        ("reconcile_gold", "daily_seller_sales_equals_silver"): [seller_id],
    }
    assert "reconcile_gold" in alert_payload([report])["failed_suites"]
    assert str(MIDDLE) in alert_payload([report])["logical_date"]


def test_the_gate_dag_blocks_on_a_late_record(warehouse_copy, airflow_db):
    """Under Airflow: the validate task fails on the lost sale and nothing is certified."""
    from airflow.dag_processing.dagbag import DagBag

    late = insert_late_sale(warehouse_copy, FIRST, LAST)
    dbt_build_in_process(warehouse_copy, LAST, LAST)
    gate = DagBag(dag_folder=str(settings.DAGS_FOLDER / "quality_gate.py")).dags["quality_gate"]

    run = gate.test(logical_date=datetime(LAST.year, LAST.month, LAST.day, 1, tzinfo=ZoneInfo(TIMEZONE)))

    assert "failed" in str(run.state)
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    assert "failed" in states["validate_gold"]
    assert "upstream_failed" in states["certify"]
    report = gate_report(run.run_id)
    assert report["failed_suites"] == ["reconcile_sales"]
    assert str(late) in report["summary"]


def gate_report(run_id: str) -> dict:
    """The report the validate task left in XCom for the alert."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        [(value,)] = (
            session.query(XComModel.value)
            .filter(
                XComModel.run_id == run_id,
                XComModel.task_id == "validate_gold",
                XComModel.key == "gate_report",
            )
            .all()
        )
    return value if isinstance(value, dict) else json.loads(value)


def test_airbyte_rows_belong_to_the_checked_day_they_were_extracted_in_or_after():
    ranges = airbyte_ranges([LAST, FIRST])
    midnight = {day: datetime.combine(day, time(), tzinfo=UTC) for day in DAYS}
    assert ranges == {FIRST: (midnight[FIRST], midnight[LAST]), LAST: (midnight[LAST], None)}


def event(**extra):
    return SimpleNamespace(extra=extra)


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        # The transform names the days it rebuilt: a late day and today, not the days between.
        ([event(since_date="2026-08-03", logical_date="2026-08-05", run_days=["2026-08-05", "2026-08-03"])],
         [FIRST, LAST]),
        # Without run_days: every day of the window.
        ([event(since_date="2026-08-03", logical_date="2026-08-05")], DAYS),
        ([event(logical_date="2026-08-04"), event(logical_date="2026-08-05")], [MIDDLE, LAST]),
        # No event (a manual run): its logical date.
        ([], [MIDDLE]),
    ],
    ids=["run_days", "since_to_logical", "several_events", "manual"],
)  # fmt: skip
def test_the_gate_checks_the_days_the_transform_rebuilt(events, expected):
    manual = datetime(MIDDLE.year, MIDDLE.month, MIDDLE.day, 1, tzinfo=ZoneInfo(TIMEZONE))
    context = {
        "dag_run": SimpleNamespace(logical_date=None if events else manual, run_after=manual),
        "triggering_asset_events": {"gold": events} if events else {},
        "params": {},
    }
    assert days_to_check(context) == expected
