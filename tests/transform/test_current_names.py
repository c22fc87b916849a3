"""Names are not frozen into incremental marts: after a product and a seller are renamed (a new
version loaded through the loader on a later day) and that day is built incrementally, every gold
table and every dashboard query shows only the new name for each id.

Why: the daily product and seller marts (and the latest purchase per customer) copied the name of
the day they were built; the dashboard's top products and top sellers then listed one id twice,
under its old and its new name, and the 30-day and best-seller marts ranked it twice.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
from psycopg import sql

from liftoff.apps.dashboard import queries
from liftoff.apps.dashboard.role import apply_dashboard_role, dashboard_url
from liftoff.ingest import landing
from liftoff.ingest.daily import land_simulated_day, load_landed_day
from liftoff.ingest.simulator import SimulatorConfig, activity, snapshot
from liftoff.orchestration import ENTITIES
from tests.warehouses import dbt_build, simulate_days

FIRST, RENAMED_ON = date(2026, 5, 4), date(2026, 5, 7)
CONFIG = SimulatorConfig(sales_per_day=60, seed=5)
NEW_PRODUCT_NAME = "Sofá Renomeado 2026"
NEW_FIRST, NEW_LAST = "Renomeada", "de Souza Nova"


def best_selling(dsn: str, mart: str, key: str) -> int:
    with psycopg.connect(dsn) as conn:
        query = sql.SQL(
            "select {key} from {mart} group by {key} order by sum(sales_count) desc, {key} limit 1"
        )
        return conn.execute(
            query.format(key=sql.Identifier(key), mart=sql.Identifier("gold", mart))
        ).fetchone()[0]


def renamed_version(entity: str, key: str, key_value: int, changes: dict) -> pa.Table:
    """The record as of the day before, with `changes` and an update on the rename day."""
    table = snapshot(entity, RENAMED_ON - timedelta(days=1), CONFIG)
    [record] = table.filter(pc.equal(table.column(key), key_value)).to_pylist()
    assert key_value not in activity(entity, RENAMED_ON, CONFIG).column(key).to_pylist()
    changed = record | changes | {"updated_at": datetime(2026, 5, 7, 15, tzinfo=UTC)}
    return pa.Table.from_pylist([changed], schema=table.schema)


def names_in_gold(dsn: str, id_column: str, name_column: str, key: int) -> dict[str, set[str]]:
    """{gold table: the names it shows for `key`} over every gold table with both columns."""
    found: dict[str, set[str]] = {}
    with psycopg.connect(dsn) as conn:
        tables = conn.execute(
            "select table_name from information_schema.columns where table_schema = 'gold'"
            " and column_name in (%s, %s) group by table_name having count(*) = 2",
            (id_column, name_column),
        ).fetchall()
        for (table,) in tables:
            query = sql.SQL("select distinct {name} from {table} where {id} = %s").format(
                name=sql.Identifier(name_column),
                table=sql.Identifier("gold", table),
                id=sql.Identifier(id_column),
            )
            names = {name for (name,) in conn.execute(query, (key,)).fetchall()}
            if names:
                found[table] = names
    return found


def test_a_renamed_product_and_seller_show_only_their_new_names(warehouse, lake):
    simulate_days(warehouse, lake, FIRST, RENAMED_ON - timedelta(days=1), CONFIG)
    dbt_build(warehouse, FIRST, RENAMED_ON - timedelta(days=1))
    product = best_selling(warehouse, "daily_product_sales", "product_id")
    seller = best_selling(warehouse, "daily_seller_sales", "seller_id")

    # The rename day: the simulated activity, plus a new version of each record beside it.
    root = landing.lake_root(lake)
    for entity in ENTITIES:
        land_simulated_day(lake, entity, RENAMED_ON, CONFIG, full_refresh=False)
    renames = {
        "products": renamed_version("products", "product_id", product, {"name": NEW_PRODUCT_NAME}),
        "employees": renamed_version("employees", "employee_id", seller, {"first_name": NEW_FIRST,
                                                                         "last_name": NEW_LAST}),
    }  # fmt: skip
    for entity, table in renames.items():
        landing.write_partition(root, entity, RENAMED_ON, table, part_name="rename.parquet")
    for entity in ENTITIES:
        summary = load_landed_day(warehouse, lake, entity, RENAMED_ON, run_id="rename")
        assert summary.records_quarantined == 0, entity
    dbt_build(warehouse, RENAMED_ON, RENAMED_ON)

    product_names = names_in_gold(warehouse, "product_id", "product_name", product)
    seller_names = names_in_gold(warehouse, "seller_id", "seller_name", seller)
    assert {"daily_product_sales", "product_performance_30d", "category_best_sellers"} <= set(product_names)
    assert {"daily_seller_sales", "employee_sales_7d"} <= set(seller_names)
    assert product_names == {table: {NEW_PRODUCT_NAME} for table in product_names}
    assert seller_names == {table: {f"{NEW_FIRST} {NEW_LAST}"} for table in seller_names}

    apply_dashboard_role(warehouse)
    dsn = dashboard_url(warehouse)
    by_product = queries.sales_by_product(dsn, FIRST, RENAMED_ON, limit=1_000)
    assert by_product.loc[by_product["product_id"] == product, "product_name"].tolist() == [NEW_PRODUCT_NAME]
    sellers = queries.top_sellers(dsn, FIRST, RENAMED_ON, limit=1_000)
    assert sellers.loc[sellers["seller_id"] == seller, "seller_name"].tolist() == [f"{NEW_FIRST} {NEW_LAST}"]
