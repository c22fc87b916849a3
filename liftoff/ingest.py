"""Ingestion steps for one (entity, logical date), callable from a task or a test.

Embedded path: the CRM simulator writes the day's Parquet to the landing zone, then the loader
copies it into the Airbyte-shaped raw table.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import date

from liftoff import landing, loader, simulator


def land_simulated_day(lake_url: str, entity: str, day: date, config: simulator.SimulatorConfig) -> str:
    """Simulate `entity`'s activity on `day` and land it as Parquet; returns the file's URL."""
    if entity != "sales":
        raise ValueError(f"the simulator has no entity {entity!r}")
    table = simulator.sales_for_day(day, config)
    path = landing.write_partition(landing.lake_root(lake_url), entity, day, table)
    return str(path)


def load_landed_day(dsn: str, lake_url: str, entity: str, day: date) -> dict[str, object]:
    """Copy the landed file of (entity, day) into raw.<entity>, replacing an earlier load."""
    table = landing.read_partition(landing.lake_root(lake_url), entity, day)
    loader.ensure_raw_tables(dsn)
    result = loader.copy_partition(dsn, entity, day, table)
    if result.rows_loaded != result.rows_in:
        raise RuntimeError(
            f"raw.{entity} on {day}: {result.rows_in} rows read but {result.rows_loaded} loaded"
        )
    return {**asdict(result), "logical_date": day.isoformat()}
