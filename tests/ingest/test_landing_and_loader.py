"""Landing zone and raw loader: round trip, idempotent replace, nothing half-written."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import psycopg
import pyarrow as pa
import pytest

from liftoff.ingest import landing, loader
from liftoff.ingest.simulator import SimulatorConfig, activity, snapshot

DAY = date(2026, 3, 10)
SMALL = SimulatorConfig(sales_per_day=50)


def test_landed_partition_round_trips(tmp_path: Path):
    root = landing.lake_root(tmp_path.as_uri())
    table = activity("sales", DAY, SMALL)
    path = landing.write_partition(root, "sales", DAY, table)
    assert str(path).endswith("raw/sales/dt=2026-03-10/part-0.parquet")
    assert landing.read_partition(root, "sales", DAY).equals(table)
    assert [p.name for p in landing.partition_files(root, "sales", DAY)] == ["part-0.parquet"]
    assert not list(tmp_path.rglob("*.tmp")), "no temporary file is left behind"


def test_missing_partition_names_the_file(tmp_path: Path):
    root = landing.lake_root(tmp_path.as_uri())
    with pytest.raises(FileNotFoundError, match=r"sales on 2026-03-10: .*dt=2026-03-10/part-0.parquet"):
        landing.read_partition(root, "sales", DAY)
    assert landing.partition_files(root, "sales", DAY) == []


def _raw_count(dsn: str, entity: str, day: date) -> int:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            f"select count(*) from raw.{entity} where _liftoff_logical_date = %s", (day,)
        ).fetchone()[0]


def test_reload_replaces_the_partition_and_keeps_others(warehouse):
    loader.ensure_raw_tables(warehouse)
    other_day = date(2026, 3, 11)
    first = loader.replace_partition(warehouse, "sales", DAY, activity("sales", DAY, SMALL), [], "run-1")
    loader.replace_partition(warehouse, "sales", other_day, activity("sales", other_day, SMALL), [], "run-1")
    again = loader.replace_partition(warehouse, "sales", DAY, activity("sales", DAY, SMALL), [], "run-2")
    assert first.rows_loaded > 0
    assert again.rows_replaced == first.rows_loaded
    assert _raw_count(warehouse, "sales", DAY) == first.rows_loaded
    assert _raw_count(warehouse, "sales", other_day) == activity("sales", other_day, SMALL).num_rows


def test_failed_load_leaves_the_previous_partition(warehouse):
    loader.ensure_raw_tables(warehouse)
    good = snapshot("suppliers", DAY, SMALL)
    loader.replace_partition(warehouse, "suppliers", DAY, good, [], "run-1")
    # A value Postgres rejects half-way through the COPY: a key beyond bigint's range.
    keys = pa.array([str(k) for k in good.column("supplier_id").to_pylist()[:-1]] + ["9" * 30])
    bad = good.set_column(0, "supplier_id", keys)
    with pytest.raises(psycopg.errors.NumericValueOutOfRange):
        loader.replace_partition(warehouse, "suppliers", DAY, bad, [], "run-2")
    assert _raw_count(warehouse, "suppliers", DAY) == good.num_rows
