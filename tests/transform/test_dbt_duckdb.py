"""The dbt project is portable: DuckDB (dbt-duckdb, the engine from its wheel, nothing downloaded)
builds the same silver and gold as Postgres from the same raw data.

Raw is what the real loader wrote on Postgres (simulator → landing zone → contracts → loader),
exported to Parquet table by table, so both engines read identical inputs; the campaign's own
tables go the same way (with a few opt-outs and a linked Telegram chat, so the audience's consent
logic has something to do). Both engines then run the same two builds: every day but the last,
then the last day alone as the transform DAG runs it (incremental, with run_days; the project's
data tests run in this one only, on both engines: they check the state it leaves). Every silver
and gold relation must hold the same rows on both, value for value, except where the engines'
arithmetic differs, in the columns listed in TOLERANCES.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import duckdb
import psycopg
import pytest
from psycopg import sql

from liftoff.campaign.runner import plan_campaign, write_copy
from liftoff.ingest.simulator import SimulatorConfig
from tests.warehouses import dbt_build_duckdb, dbt_build_in_process, export_sources_to_parquet, simulate_days

pytestmark = pytest.mark.services

FIRST, LAST = date(2026, 5, 1), date(2026, 5, 5)
CONFIG = SimulatorConfig(seed=23, sales_per_day=40, dirty_rate=0.02)
# Averages and shares: Postgres divides numerics exactly, DuckDB divides decimals as doubles; both
# round to the column's scale, so they may differ by one unit in its last place.
TOLERANCES = {
    ("gold", "average_salary_by_title", "average_salary"): Decimal("0.01"),
    ("gold", "employees_by_gender", "employee_share"): Decimal("0.0001"),
    ("gold", "product_performance_30d", "average_sale_value"): Decimal("0.01"),
}

# Three pending messages of the campaign become sent, failed and recorded (with its text).
OUTCOMES = """
    with picked as (
        select customer_id, channel, row_number() over (order by customer_id, channel) as n
        from campaign.send_log where campaign_id = %s and status = 'pending'
    )
    update campaign.send_log as l
    set status = (array['sent', 'failed', 'recorded'])[picked.n],
        sent_at = case when picked.n = 1 then l.updated_at end,
        message_id = case when picked.n = 1 then '<test@liftoff>' end,
        body = case when picked.n = 3 then 'Olá! Texto de teste.' end
    from picked
    where l.customer_id = picked.customer_id and l.channel = picked.channel and picked.n <= 3
"""


def relations(dsn: str) -> dict[tuple[str, str], list[str]]:
    """{(schema, relation): columns} of every silver and gold table and view on Postgres."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "select table_schema, table_name, column_name from information_schema.columns"
            " where table_schema in ('silver', 'gold') order by table_schema, table_name, ordinal_position"
        ).fetchall()
    found: dict[tuple[str, str], list[str]] = {}
    for schema, name, column in rows:
        found.setdefault((schema, name), []).append(column)
    return found


def ordered(rows: list[tuple], exact: list[int]) -> list[tuple]:
    """Rows sorted by their exact columns first (nulls last), so a tolerated difference never
    reorders them."""
    return sorted(
        rows, key=lambda row: [(row[i] is None, row[i]) for i in exact] + [(v is None, v) for v in row]
    )


def test_duckdb_builds_the_same_silver_and_gold_as_postgres(warehouse, lake, tmp_path, monkeypatch):
    simulate_days(warehouse, lake, FIRST, LAST, CONFIG)
    with psycopg.connect(warehouse) as conn:
        customers = [
            row[0] for row in conn.execute("select customer_id from raw.customers order by 1 limit 4")
        ]
        for customer, channel in zip(customers[:3], ("email", "telegram", "all"), strict=True):
            conn.execute(
                "insert into campaign.opt_outs (customer_id, channel, reason, source)"
                " values (%s, %s, 'test', 'test')",
                (customer, channel),
            )
        conn.execute(
            "insert into campaign.telegram_links (customer_id, chat_id) values (%s, 4242)", (customers[3],)
        )
    run_days = [LAST]
    dbt_build_in_process(warehouse, FIRST, LAST - timedelta(days=1), data_tests=False)
    # A campaign for the first build's last day, planned and written as the campaign DAG does,
    # with a message of each outcome: the campaign models then summarise something.
    campaign = plan_campaign(warehouse, LAST - timedelta(days=1))["campaign_id"]
    write_copy(warehouse, campaign)
    with psycopg.connect(warehouse) as conn:
        conn.execute(OUTCOMES, (campaign,))
    dbt_build_in_process(warehouse, LAST, LAST, run_days)

    sources = export_sources_to_parquet(warehouse, tmp_path / "sources")
    monkeypatch.setenv("LIFTOFF_DUCKDB_PATH", str(tmp_path / "liftoff.duckdb"))
    monkeypatch.setenv("LIFTOFF_DUCKDB_SOURCES", str(sources))
    dbt_build_duckdb(FIRST, LAST - timedelta(days=1), data_tests=False)
    dbt_build_duckdb(LAST, LAST, run_days)

    compared = relations(warehouse)
    assert {name for _, name in compared} >= {
        "sales",
        "daily_sales",
        "cross_sell_audience",
        "monthly_payroll",
    }
    differences, row_counts = [], {}
    with (
        psycopg.connect(warehouse) as pg,
        duckdb.connect(str(tmp_path / "liftoff.duckdb")) as duck,
    ):
        for (schema, name), columns in compared.items():
            tolerant = {i for i, column in enumerate(columns) if (schema, name, column) in TOLERANCES}
            exact = [i for i in range(len(columns)) if i not in tolerant]
            query = sql.SQL("select {} from {}").format(
                sql.SQL(", ").join(map(sql.Identifier, columns)), sql.Identifier(schema, name)
            )
            expected = ordered(pg.execute(query).fetchall(), exact)
            row_counts[f"{schema}.{name}"] = len(expected)
            got = ordered(duck.execute(query.as_string(pg)).fetchall(), exact)
            assert len(got) == len(expected), (
                f"{schema}.{name}: {len(got)} rows on DuckDB, {len(expected)} on Postgres"
            )
            for want, have in zip(expected, got, strict=True):
                for i, column in enumerate(columns):
                    tolerance = TOLERANCES.get((schema, name, column))
                    same = (
                        abs(want[i] - have[i]) <= tolerance
                        if tolerance is not None and want[i] is not None and have[i] is not None
                        else want[i] == have[i]
                    )
                    if not same:
                        differences.append(
                            f"{schema}.{name}.{column}: Postgres {want[i]!r}, DuckDB {have[i]!r}"
                        )
    assert not differences, "\n".join(differences[:30])
    print(row_counts)
    # The comparison saw data: sales, their daily marts and the day's cross-sell audience.
    assert (
        min(row_counts[name] for name in ("silver.sales", "gold.daily_sales", "gold.cross_sell_audience")) > 0
    )
    assert sum(1 for schema, _ in compared if schema == "gold") >= 15
