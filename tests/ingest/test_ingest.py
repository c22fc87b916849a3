"""Ingestion of a landed day: contracts at the door, quarantine with reasons, reconciliation,
idempotent reruns, and the bad inputs a landing zone sees (missing, corrupt, drifted files)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from liftoff.contracts.engine import SchemaDriftError
from liftoff.ingest import landing
from liftoff.ingest.daily import MissingPartitionError, land_simulated_day, load_landed_day
from liftoff.ingest.simulator import SimulatorConfig, activity, defects_of, snapshot

FIRST, SECOND = date(2026, 3, 10), date(2026, 3, 11)
DIRTY = SimulatorConfig(sales_per_day=120, dirty_rate=0.05, seed=5)
ENTITIES = ("suppliers", "products", "employees", "customers", "sales")


def ingest_day(dsn: str, lake: str, day: date, config: SimulatorConfig, full_refresh: bool = False) -> dict:
    summaries = {}
    for entity in ENTITIES:
        land_simulated_day(lake, entity, day, config, full_refresh=full_refresh)
        summaries[entity] = load_landed_day(dsn, lake, entity, day, run_id=f"test-{day}")
    return summaries


def rows(dsn: str, query: str, *args) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(query, args).fetchall()


def test_every_record_is_loaded_or_quarantined_with_its_reasons(warehouse, lake):
    summaries = ingest_day(warehouse, lake, FIRST, DIRTY, full_refresh=True)
    for entity, summary in summaries.items():
        assert summary.records_in == summary.records_loaded + summary.records_quarantined, entity
        [(loaded,)] = rows(warehouse, f"select count(*) from raw.{entity}")
        [(quarantined,)] = rows(warehouse, "select count(*) from raw.quarantine where entity = %s", entity)
        assert (loaded, quarantined) == (summary.records_loaded, summary.records_quarantined)
    # Suppliers reference nothing: exactly the injected defects are quarantined.
    injected = defects_of(snapshot("suppliers", FIRST, DIRTY))
    assert summaries["suppliers"].records_quarantined == sum(injected.values())
    [(entity, key, field, reason, payload, logical_date, run_id)] = rows(
        warehouse,
        "select entity, natural_key, field, reason, payload, logical_date, run_id from raw.quarantine"
        " where entity = 'sales' and field = 'first_name' and payload->>'first_name' like %s limit 1",
        "Robert'); DROP TABLE%",
    )
    assert (entity, field, logical_date, run_id) == ("sales", "first_name", FIRST, f"test-{FIRST}")
    assert "characters a person's name does not" in reason
    assert payload["sale_id"] == int(key)
    assert rows(warehouse, "select to_regclass('public.sales')") == [(None,)], "the injection stayed data"


def test_a_rerun_replaces_the_day_without_duplicates(warehouse, lake):
    ingest_day(warehouse, lake, FIRST, DIRTY, full_refresh=True)
    first = ingest_day(warehouse, lake, SECOND, DIRTY)
    before = rows(warehouse, "select entity, count(*) from raw.quarantine group by 1 order by 1")
    counts = {e: rows(warehouse, f"select count(*) from raw.{e}")[0][0] for e in ENTITIES}
    again = ingest_day(warehouse, lake, SECOND, DIRTY)
    assert rows(warehouse, "select entity, count(*) from raw.quarantine group by 1 order by 1") == before
    assert {e: rows(warehouse, f"select count(*) from raw.{e}")[0][0] for e in ENTITIES} == counts
    assert again["sales"].records_replaced == first["sales"].records_loaded
    [(duplicates,)] = rows(warehouse, "select count(*) - count(distinct sale_id) from raw.sales")
    assert duplicates == 0


def test_sales_of_customers_the_warehouse_does_not_know_are_quarantined(warehouse, lake):
    ingest_day(warehouse, lake, FIRST, SimulatorConfig(sales_per_day=80), full_refresh=True)
    land_simulated_day(
        lake, "sales", SECOND, SimulatorConfig(sales_per_day=80)
    )  # customers of day 2 not loaded
    summary = load_landed_day(warehouse, lake, "sales", SECOND, run_id="test")
    reasons = rows(warehouse, "select distinct reason from raw.quarantine where logical_date = %s", SECOND)
    assert summary.records_quarantined > 0
    assert reasons == [("references an unknown customer",)]


def test_a_missing_file_is_named(warehouse, lake):
    with pytest.raises(
        MissingPartitionError, match=r"no landed file for sales on 2026-03-10 in .*dt=2026-03-10"
    ):
        load_landed_day(warehouse, lake, "sales", FIRST, run_id="test")


def test_a_corrupt_file_is_quarantined_and_the_rest_load(warehouse, lake):
    land_simulated_day(lake, "suppliers", FIRST, DIRTY, full_refresh=True)
    folder = Path(landing.partition_dir(landing.lake_root(lake), "suppliers", FIRST).path)
    (folder / "part-1.parquet").write_bytes(b"PAR1 this is not parquet")
    summary = load_landed_day(warehouse, lake, "suppliers", FIRST, run_id="test")
    assert (summary.files, summary.files_unreadable) == (2, 1)
    assert summary.records_loaded > 0
    [(_field, reason, source)] = rows(
        warehouse, "select field, reason, source_file from raw.quarantine where field = '<file>'"
    )
    assert reason.startswith("unreadable Parquet")
    assert source.endswith("part-1.parquet")


def test_schema_drift_fails_naming_the_columns_and_loads_nothing(warehouse, lake):
    land_simulated_day(lake, "suppliers", FIRST, DIRTY, full_refresh=True)
    load_landed_day(warehouse, lake, "suppliers", FIRST, run_id="good")
    drifted = (
        snapshot("suppliers", FIRST, DIRTY)
        .drop_columns(["website"])
        .append_column("fax", pa.array(["-"] * len(snapshot("suppliers", FIRST, DIRTY))))
    )
    path = landing.partition_path(landing.lake_root(lake), "suppliers", FIRST)
    pq.write_table(drifted, Path(path.path))
    with pytest.raises(SchemaDriftError, match="missing columns website; unexpected columns fax"):
        load_landed_day(warehouse, lake, "suppliers", FIRST, run_id="drift")
    [(run_ids,)] = rows(warehouse, "select array_agg(distinct run_id) from raw.quarantine")
    assert run_ids in (None, ["good"]), "the failed load left nothing behind"


def test_a_day_of_sales_with_activity_from_the_simulator_round_trips(warehouse, lake):
    ingest_day(warehouse, lake, FIRST, SimulatorConfig(sales_per_day=60), full_refresh=True)
    expected = activity("sales", FIRST, SimulatorConfig(sales_per_day=60))
    [(count, total)] = rows(warehouse, "select count(*), sum(price) from raw.sales")
    assert count == expected.num_rows
    assert float(total) == pytest.approx(sum(expected.column("price").to_pylist()), abs=0.05)
