"""The schedule's way (ingest a day, transform that day) equals a backfill's way (ingest every day,
then one transform over the range), at a length where the windows matter: 30 days cross the outlier
rule's 28-day reference window and the 7- and 30-day marts. Reruns change nothing.

One test for both promises (issue 4's rerun idempotency and issue 9's backfill equivalence), since
each needs the same 30 days built twice; dbt runs in-process, as Cosmos's watcher runs it. The
builds leave out dbt's data tests (they check the data, not how it was built, and run in every
other pipeline test): they would double the 32 builds' time and add nothing to the comparison.
"""

from __future__ import annotations

from datetime import date, timedelta

import psycopg
import pytest

from liftoff.ingest.simulator import SimulatorConfig
from tests.snapshots import audience_of, snapshot, without_campaign_outcomes
from tests.warehouses import dbt_build_in_process, scratch_database, simulate_days

FIRST, LAST = date(2026, 5, 1), date(2026, 5, 30)
CONFIG = SimulatorConfig(seed=7, sales_per_day=40, dirty_rate=0.02)
# Tables partitioned by day: a rerun of any day leaves them as they were.
DAILY_TABLES = (
    "silver.sales",
    "silver.customers",
    "gold.daily_sales",
    "gold.daily_product_sales",
    "gold.daily_seller_sales",
)


def latest_purchases(dsn: str) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "select customer_id, sale_id, sale_date from gold.customer_latest_purchase order by 1"
        ).fetchall()


def latest_purchases_from_silver(dsn: str, day: date) -> list[tuple]:
    """The mart's definition, computed from the whole of silver: the oracle for its increments."""
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "select customer_id, sale_id, sale_date from ("
            "  select distinct on (customer_id) customer_id, sale_id, sale_date from silver.sales"
            "  where sale_date <= %s order by customer_id, sold_at desc, sale_id desc"
            ") as latest order by 1",
            (day,),
        ).fetchall()


@pytest.mark.timeout(1800)  # 31 builds and a range build: minutes on a loaded machine
def test_thirty_days_day_by_day_equal_one_run_over_the_thirty_and_reruns_change_nothing(warehouse, lake):
    day = FIRST
    while day <= LAST:  # the schedule: ingest a day, transform that day
        simulate_days(warehouse, lake, day, day, CONFIG, full_refresh_every_day=True)
        dbt_build_in_process(warehouse, day, day, data_tests=False)
        day += timedelta(days=1)
    daily = snapshot(warehouse)
    daily_audience = audience_of(warehouse, LAST)
    with psycopg.connect(warehouse) as conn:
        [days] = conn.execute("select count(distinct sale_date) from silver.sales").fetchone()
    assert days == 30

    # Rerunning the last day changes nothing.
    dbt_build_in_process(warehouse, LAST, LAST, data_tests=False)
    assert snapshot(warehouse) == daily

    # A backfill folded into one transform run over the range builds the same warehouse.
    with scratch_database("wh_range") as (_, ranged):
        simulate_days(ranged, lake, FIRST, LAST, CONFIG, full_refresh_every_day=True)
        dbt_build_in_process(ranged, FIRST, LAST, data_tests=False)
        expected = snapshot(ranged)
        expected_audience = audience_of(ranged, LAST)
    # The audience is kept per data day: day by day keeps every day's, a range build its last.
    assert without_campaign_outcomes(daily) == without_campaign_outcomes(expected)
    assert daily_audience == expected_audience

    # Rerunning an older day changes no daily table, and the incremental latest-purchase mart
    # answers as of that day, as a full build would.
    older = FIRST + timedelta(days=10)
    dbt_build_in_process(warehouse, older, older, data_tests=False)
    rerun = snapshot(warehouse)
    assert {t: rerun[t] for t in DAILY_TABLES} == {t: daily[t] for t in DAILY_TABLES}
    assert latest_purchases(warehouse) == latest_purchases_from_silver(warehouse, older)
    assert max(sale_date for _, _, sale_date in latest_purchases(warehouse)) == older
