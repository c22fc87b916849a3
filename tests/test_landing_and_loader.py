"""Landing zone and raw loader: round trip, idempotent replace, nothing half-written."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import psycopg
import pyarrow as pa
import pytest

from liftoff import landing, loader
from liftoff.simulator import SimulatorConfig, sales_for_day

DAY = date(2026, 3, 10)
SMALL = SimulatorConfig(sales_per_day=50)


def test_landed_partition_round_trips(tmp_path: Path):
    root = landing.lake_root(tmp_path.as_uri())
    table = sales_for_day(DAY, SMALL)
    path = landing.write_partition(root, "sales", DAY, table)
    assert str(path).endswith("raw/sales/dt=2026-03-10/part-0.parquet")
    assert landing.read_partition(root, "sales", DAY).equals(table)
    assert not list(tmp_path.rglob("*.tmp")), "no temporary file is left behind"


def test_missing_partition_names_the_file(tmp_path: Path):
    root = landing.lake_root(tmp_path.as_uri())
    with pytest.raises(FileNotFoundError, match=r"sales on 2026-03-10: .*dt=2026-03-10/part-0.parquet"):
        landing.read_partition(root, "sales", DAY)


def _raw_count(dsn: str, day: date) -> int:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "select count(*) from raw.sales where _liftoff_logical_date = %s", (day,)
        ).fetchone()[0]


def test_reload_replaces_the_partition_and_keeps_others(warehouse):
    loader.ensure_raw_tables(warehouse)
    other_day = date(2026, 3, 11)
    first = loader.copy_partition(warehouse, "sales", DAY, sales_for_day(DAY, SMALL))
    loader.copy_partition(warehouse, "sales", other_day, sales_for_day(other_day, SMALL))
    again = loader.copy_partition(warehouse, "sales", DAY, sales_for_day(DAY, SMALL))
    assert first.rows_loaded == first.rows_in > 0
    assert again.rows_replaced == first.rows_loaded
    assert _raw_count(warehouse, DAY) == first.rows_in
    assert _raw_count(warehouse, other_day) == sales_for_day(other_day, SMALL).num_rows


def test_failed_load_leaves_the_previous_partition(warehouse):
    loader.ensure_raw_tables(warehouse)
    good = sales_for_day(DAY, SMALL)
    loader.copy_partition(warehouse, "sales", DAY, good)
    # A value Postgres rejects half-way through the COPY (a quantity beyond bigint).
    bad = good.set_column(
        good.schema.get_field_index("quantity"),
        "quantity",
        pa.array([1] * (good.num_rows - 1) + [None], pa.int32()).cast(pa.string()).fill_null("9" * 30),
    )
    with pytest.raises(psycopg.errors.NumericValueOutOfRange):
        loader.copy_partition(warehouse, "sales", DAY, bad)
    assert _raw_count(warehouse, DAY) == good.num_rows
