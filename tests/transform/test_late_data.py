"""Late data and duplicate keys (issue 14, observations 1 and 2), on a real warehouse and dbt.

- A sale landed days after its date (a back-dated CRM API entry, extracted on the day it was
  entered) reaches silver and gold in the transform that follows its load, and the warehouse then
  equals a full refresh of the same raw data.
- A key in two files of one day loads once, by the documented precedence, whatever the files'
  order; the other record is quarantined naming the winner.
- A failed transform's loads are rebuilt by the next run (the load ledger's pending rows).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from liftoff.ingest import landing
from liftoff.ingest.daily import land_simulated_day, load_landed_day
from liftoff.ingest.key_precedence import FileRecords, keep_one_per_key
from liftoff.ingest.landing import EXTRACT_PART
from liftoff.ingest.simulator import SimulatorConfig, activity
from liftoff.ingest.sources import SIMULATOR_ENV, simulator_variable
from liftoff.orchestration import ENTITIES, TIMEZONE
from liftoff.transform.window import days_from_event_extra, mark_transformed, resolve
from tests import crm_samples as sample
from tests.crm_samples import created
from tests.snapshots import snapshot
from tests.warehouses import dbt_build_in_process, transform_like_the_dag

CONFIG = SimulatorConfig(sales_per_day=30, dirty_rate=0.0)
FIRST = date(2026, 6, 1)
DAYS = tuple(FIRST + timedelta(days=n) for n in range(4))
LATE_SALE_ID = 900_000_001


def ingest(dsn: str, lake: str, day: date, extra_sales: pa.Table | None = None) -> None:
    """Land and load one day as the ingest DAG does; `extra_sales` lands as the CRM extraction's
    file of that day's sales (records entered through the CRM API that day)."""
    for entity in ENTITIES:
        land_simulated_day(lake, entity, day, CONFIG, full_refresh=day == FIRST)
        if entity == "sales" and extra_sales is not None:
            landing.write_partition(landing.lake_root(lake), "sales", day, extra_sales, EXTRACT_PART)
        load_landed_day(dsn, lake, entity, day, run_id=f"ingest-{day}")


def back_dated_sale(lake: str, sold_on: date, entered_on: date) -> pa.Table:
    """A sale dated `sold_on`, entered in the CRM on `entered_on`: a copy of one of `sold_on`'s
    sales (so its customer, product and seller exist) under a new id."""
    landed = landing.read_partition(landing.lake_root(lake), "sales", sold_on).slice(0, 1)
    sold_at = datetime.combine(sold_on, time(15), ZoneInfo(TIMEZONE))
    entered_at = datetime.combine(entered_on, time(10), ZoneInfo(TIMEZONE))
    columns = {name: landed.column(name) for name in landed.column_names}
    columns["sale_id"] = pa.array([LATE_SALE_ID], landed.schema.field("sale_id").type)
    columns["date"] = pa.array([sold_at], landed.schema.field("date").type)
    columns["created_at"] = pa.array([entered_at], landed.schema.field("created_at").type)
    return pa.table(columns, schema=landed.schema)


def warehouse_tables(dsn: str) -> dict:
    """Every silver and gold table's digest; the audience by its newest day only (it is kept per
    data day: a day-by-day transform keeps each day's, a full refresh builds the last day's)."""
    tables = {
        table: digest
        for table, digest in snapshot(dsn).items()
        if table.split(".")[0] in ("silver", "gold") and table != "gold.cross_sell_audience"
    }
    with psycopg.connect(dsn) as conn:
        tables["gold.cross_sell_audience (newest day)"] = conn.execute(
            "select * from gold.cross_sell_audience"
            " where audience_date = (select max(audience_date) from gold.cross_sell_audience)"
            " order by customer_id"
        ).fetchall()
    return tables


def test_a_late_sale_reaches_silver_and_gold_in_the_run_that_loads_it(warehouse, lake):
    for day in DAYS[:3]:  # the schedule: ingest a day, transform it
        ingest(warehouse, lake, day)
        transform_like_the_dag(warehouse, day)
    # On day 4 two sales dated day 1 are entered through the CRM API and extracted with day 4's
    # changes: one a customer bought after (not their latest purchase), one the only purchase of a
    # customer who had bought nothing (their latest purchase now).
    buying_on_day_four = activity("sales", DAYS[3], CONFIG).column("customer_id").to_pylist()
    with psycopg.connect(warehouse) as conn:
        [(first_buyer,)] = conn.execute(
            "select min(customer_id) from raw.customers as c"
            " where not exists (select from raw.sales as s where s.customer_id = c.customer_id)"
            " and c.customer_id <> all(%s)",
            (buying_on_day_four,),
        ).fetchall()
    late = back_dated_sale(lake, DAYS[0], DAYS[3])
    first_purchase = late.set_column(0, "sale_id", pa.array([LATE_SALE_ID + 1], pa.int64()))
    first_purchase = first_purchase.set_column(
        first_purchase.schema.get_field_index("customer_id"),
        "customer_id",
        pa.array([first_buyer], pa.int64()),
    )
    ingest(warehouse, lake, DAYS[3], extra_sales=pa.concat_tables([late, first_purchase]))
    window = transform_like_the_dag(warehouse, DAYS[3])

    # Day 1 and the days whose outlier flags day 1 feeds are rebuilt, nothing else.
    assert window.run_days == DAYS
    assert window.until == DAYS[3]
    assert days_from_event_extra(window.asset_extra()) == list(DAYS)
    with psycopg.connect(warehouse) as conn:
        assert conn.execute(
            "select sale_date from silver.sales where sale_id = %s", (LATE_SALE_ID,)
        ).fetchall() == [(DAYS[0],)]
        raw_day_one = conn.execute(
            "select count(*) from raw.sales where (date at time zone 'America/Sao_Paulo')::date = %s",
            (DAYS[0],),
        ).fetchone()[0]
        gold_day_one = conn.execute(
            "select sales_count from gold.daily_sales where sale_date = %s", (DAYS[0],)
        ).fetchone()[0]
        pending = conn.execute("select count(*) from raw.loads where transformed_at is null").fetchone()[0]
        latest = conn.execute(
            "select sale_id, sale_date from gold.customer_latest_purchase where customer_id = %s",
            (first_buyer,),
        ).fetchall()
    assert gold_day_one == raw_day_one
    assert pending == 0
    assert latest == [(LATE_SALE_ID + 1, DAYS[0])]

    # Incremental equals full refresh: every silver and gold table, row for row.
    incremental = warehouse_tables(warehouse)
    dbt_build_in_process(warehouse, DAYS[3], DAYS[3], full_refresh=True)
    assert warehouse_tables(warehouse) == incremental


def test_a_sale_whose_day_lost_every_sale_leaves_no_row_behind(warehouse, lake):
    """A day's only sale, reloaded away (its partition loaded again without it), leaves its day
    empty in silver and gold: delete+insert alone would keep the day it no longer selects."""
    ingest(warehouse, lake, DAYS[0])
    transform_like_the_dag(warehouse, DAYS[0])
    late = back_dated_sale(lake, DAYS[0], DAYS[1])
    # A sale dated 27 days before: a day with no other sale.
    lonely_day = DAYS[0] - timedelta(days=27)
    late = late.set_column(
        late.schema.get_field_index("date"),
        "date",
        pa.array(
            [datetime.combine(lonely_day, time(15), ZoneInfo(TIMEZONE))], late.schema.field("date").type
        ),
    )
    ingest(warehouse, lake, DAYS[1], extra_sales=late)
    transform_like_the_dag(warehouse, DAYS[1])
    with psycopg.connect(warehouse) as conn:
        assert conn.execute(
            "select sales_count from gold.daily_sales where sale_date = %s", (lonely_day,)
        ).fetchall() == [(1,)]
    # The CRM extraction of day 2 is landed again without the sale (it was deleted in the CRM).
    landing.write_partition(landing.lake_root(lake), "sales", DAYS[1], late.slice(0, 0), EXTRACT_PART)
    load_landed_day(warehouse, lake, "sales", DAYS[1], run_id="reload")
    window = transform_like_the_dag(warehouse, DAYS[1])
    assert lonely_day in window.run_days
    with psycopg.connect(warehouse) as conn:
        for table in (
            "silver.sales",
            "gold.daily_sales",
            "gold.daily_product_sales",
            "gold.daily_seller_sales",
        ):
            rows = conn.execute(
                f"select count(*) from {table} where sale_date = %s", (lonely_day,)
            ).fetchone()[0]
            assert rows == 0, table
    incremental = warehouse_tables(warehouse)
    dbt_build_in_process(warehouse, DAYS[1], DAYS[1], full_refresh=True)
    assert warehouse_tables(warehouse) == incremental


def test_a_failed_transform_leaves_its_loads_to_the_next_run(warehouse, lake):
    ingest(warehouse, lake, DAYS[0])
    transform_like_the_dag(warehouse, DAYS[0])
    ingest(warehouse, lake, DAYS[1], extra_sales=back_dated_sale(lake, DAYS[0], DAYS[1]))
    failed = resolve(warehouse, DAYS[1])  # resolved, then dbt failed: nothing is marked
    assert failed.run_days == DAYS[:2]

    ingest(warehouse, lake, DAYS[2])
    # The partition of day 3 is loaded again while the next transform runs: it stays pending.
    window = resolve(warehouse, DAYS[2])
    assert window.run_days == DAYS[:3]
    dbt_build_in_process(warehouse, window.since, window.until, window.run_days)
    load_landed_day(warehouse, lake, "sales", DAYS[2], run_id="reloaded-meanwhile")
    marked = mark_transformed(warehouse, window.loads, run_id="next")
    assert marked == len(window.loads) - 1
    with psycopg.connect(warehouse) as conn:
        assert (
            conn.execute("select count(*) from silver.sales where sale_id = %s", (LATE_SALE_ID,)).fetchone()[
                0
            ]
            == 1
        )
        assert conn.execute(
            "select entity, logical_date from raw.loads where transformed_at is null"
        ).fetchall() == [("sales", DAYS[2])]
    assert resolve(warehouse, DAYS[2]).run_days == (DAYS[2],)


def day_files(lake: str, day: date, precedence_case: str) -> None:
    """The simulator's files of `day`, and a CRM extraction naming the same customer and sale."""
    root = landing.lake_root(lake)
    customers = landing.read_partition(root, "customers", day).slice(0, 2)
    sales = landing.read_partition(root, "sales", day).slice(0, 1)
    # Customer 1: the CRM's version has the same updated_at (the source decides); customer 2: the
    # simulator's version is newer (updated_at decides). The sale: the CRM's version (the source).
    crm_customers = customers.set_column(
        customers.schema.get_field_index("city"), "city", pa.array(["Recife", "Natal"])
    )
    updated = crm_customers.column("updated_at")
    older = pc.subtract(updated, pa.scalar(timedelta(hours=1))) if precedence_case == "older" else updated
    crm_customers = crm_customers.set_column(
        crm_customers.schema.get_field_index("updated_at"),
        "updated_at",
        pa.chunked_array([pa.concat_arrays([updated.chunk(0).slice(0, 1), older.chunk(0).slice(1, 1)])]),
    )
    crm_sales = sales.set_column(
        sales.schema.get_field_index("name_product"), "name_product", pa.array(["Produto corrigido"])
    )
    landing.write_partition(root, "customers", day, crm_customers, EXTRACT_PART)
    landing.write_partition(root, "sales", day, crm_sales, EXTRACT_PART)


def test_a_key_in_two_files_of_a_day_loads_once_by_precedence(warehouse, lake):
    for entity in ENTITIES:
        land_simulated_day(lake, entity, DAYS[0], CONFIG, full_refresh=True)
    day_files(lake, DAYS[0], "older")
    root = landing.lake_root(lake)
    simulated = landing.read_partition(root, "customers", DAYS[0])
    first_id, second_id = simulated.column("customer_id").to_pylist()[:2]
    [sale_id] = landing.read_partition(root, "sales", DAYS[0]).column("sale_id").to_pylist()[:1]
    summaries = {e: load_landed_day(warehouse, lake, e, DAYS[0], run_id="dup") for e in ENTITIES}
    for summary in summaries.values():
        assert summary.records_in == summary.records_loaded + summary.records_quarantined
    assert summaries["customers"].records_quarantined == 2
    assert summaries["sales"].records_quarantined == 1

    with psycopg.connect(warehouse) as conn:
        cities = dict(
            conn.execute(
                "select customer_id, city from raw.customers where customer_id = any(%s)",
                ([first_id, second_id],),
            ).fetchall()
        )
        [(product_name,)] = conn.execute(
            "select name_product from raw.sales where sale_id = %s", (sale_id,)
        ).fetchall()
        quarantined = conn.execute(
            "select entity, natural_key, field, reason, source_file from raw.quarantine"
            " order by entity, natural_key"
        ).fetchall()
    # Same updated_at: the CRM extract wins; the simulator's newer version beats the CRM's older one.
    assert cities[first_id] == "Recife"
    assert cities[second_id] == simulated.column("city")[1].as_py()
    assert product_name == "Produto corrigido"
    reasons = {(entity, key): (reason, source) for entity, key, _, reason, source in quarantined}
    reason, source = reasons[("customers", str(first_id))]
    assert source.endswith("part-0.parquet")
    assert f"customer_id {first_id} is also in" in reason
    assert EXTRACT_PART in reason
    assert "CRM extract" in reason
    reason, source = reasons[("customers", str(second_id))]
    assert source.endswith(EXTRACT_PART)
    assert "part-0.parquet" in reason
    assert "later updated_at" in reason
    reason, source = reasons[("sales", str(sale_id))]
    assert source.endswith("part-0.parquet")
    assert EXTRACT_PART in reason

    # Silver holds the winner, once.
    dbt_build_in_process(warehouse, DAYS[0], DAYS[0])
    with psycopg.connect(warehouse) as conn:
        assert conn.execute(
            "select city from silver.customers where customer_id = %s", (first_id,)
        ).fetchall() == [("Recife",)]
        assert conn.execute(
            "select product_name from silver.sales where sale_id = %s", (sale_id,)
        ).fetchall() == [("Produto corrigido",)]


def test_the_precedence_does_not_depend_on_the_order_of_the_files(lake):
    for entity in ("customers", "sales"):
        land_simulated_day(lake, entity, DAYS[0], CONFIG, full_refresh=True)
    day_files(lake, DAYS[0], "older")
    root = landing.lake_root(lake)
    files = [
        FileRecords(str(path), landing.read_file(path))
        for path in landing.partition_files(root, "customers", DAYS[0])
    ]
    kept, quarantined = keep_one_per_key("customers", files)
    kept_reversed, quarantined_reversed = keep_one_per_key("customers", files[::-1])
    assert kept.equals(kept_reversed)
    assert quarantined == quarantined_reversed
    assert kept.num_rows + len(quarantined) == sum(f.records.num_rows for f in files)
    assert len(set(kept.column("customer_id").to_pylist())) == kept.num_rows


@pytest.mark.timeout(1200)
def test_a_back_dated_crm_entry_reaches_gold_through_the_dags(
    api, crm_api_served, crm_database, warehouse, lake, dags, monkeypatch
):
    """The issue's path end to end: the DAGs run for yesterday; today a sale dated three days ago
    is entered through the CRM API; today's ingest and transform put it in silver and gold, and
    the `gold` Asset event names its day for the quality gate."""
    zone = ZoneInfo(TIMEZONE)
    today = datetime.now(zone).date()
    yesterday, sold_on = today - timedelta(days=1), today - timedelta(days=3)

    def run(dag_id: str, day: date, conf: dict | None = None):
        dag_run = dags[dag_id].test(logical_date=datetime.combine(day, time(1), zone), run_conf=conf)
        assert "success" in str(dag_run.state), f"{dag_id} {day} ended {dag_run.state}"
        return dag_run

    monkeypatch.setenv(SIMULATOR_ENV, simulator_variable(sales_per_day=20, dirty_rate=0.0))
    run("ingest_crm", yesterday, {"full_refresh": True})
    run("transform_warehouse", yesterday)

    supplier = created(api, "/suppliers", sample.supplier())
    product = created(api, "/products", sample.product(supplier["supplier_id"]))
    seller = created(api, "/employees", sample.employee())
    customer = created(api, "/customers", sample.customer())
    sold_at = datetime.combine(sold_on, time(15), zone).isoformat()
    sale = created(api, "/sales", sample.sale(customer, product, seller, date=sold_at))
    run("ingest_crm", today)
    transform = run("transform_warehouse", today)

    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        [extra] = (
            session.query(AssetEvent.extra)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .filter(AssetModel.name == "gold", AssetEvent.source_run_id == transform.run_id)
            .one()
        )
    assert sold_on in days_from_event_extra(extra)
    assert extra["logical_date"] == today.isoformat()
    with psycopg.connect(warehouse) as conn:
        assert conn.execute(
            "select sale_date from silver.sales where sale_id = %s", (sale["sale_id"],)
        ).fetchall() == [(sold_on,)]
        assert conn.execute(
            "select sales_count from gold.daily_sales where sale_date = %s", (sold_on,)
        ).fetchall() == [(1,)]
        assert conn.execute("select count(*) from raw.loads where transformed_at is null").fetchone() == (0,)


def test_the_gate_reads_the_run_days_from_the_gold_event():
    extra = {
        "since_date": "2026-06-01",
        "logical_date": "2026-06-04",
        "run_days": ["2026-06-04", "2026-06-01"],
    }
    assert days_from_event_extra(extra) == [date(2026, 6, 1), date(2026, 6, 4)]
    # An event of a transform from before run_days: the range.
    assert days_from_event_extra({"since_date": "2026-06-01", "logical_date": "2026-06-03"}) == list(DAYS[:3])
    assert days_from_event_extra({"logical_date": "2026-06-03"}) == [DAYS[2]]
    assert days_from_event_extra(None) == []


def test_a_sale_is_dated_on_the_brasilia_calendar_in_the_ledger():
    from liftoff.ingest.loader import data_days

    moments = [
        datetime(2026, 6, 2, 2, 30, tzinfo=ZoneInfo("UTC")),  # 23:30 on June 1st in Brasília
        datetime(2026, 6, 2, 3, 0, tzinfo=ZoneInfo("UTC")),
        None,
    ]
    sales = pa.table({"date": pa.array(moments, pa.timestamp("us", tz="UTC"))})
    assert data_days("sales", sales, DAYS[3]) == [DAYS[0], DAYS[1]]
    assert data_days("customers", sales, DAYS[3]) == [DAYS[3]]
