"""Incremental extraction of the CRM database into the landing zone, by an updated_at watermark.

What an Airbyte Postgres source in incremental append mode (cursor `updated_at`) would do, with
the cursor tied to the logical date instead of kept as state: the run for business day D reads
every CRM row whose updated_at falls in [D 00:00, D+1 00:00) Brasília time and lands it as
`<lake>/raw/<entity>/dt=D/crm-0.parquet`, beside the simulator's file. The loader then checks it
against the same contracts (invalid rows to raw.quarantine) and dbt carries it to gold.

Idempotent for a logical date: the window depends on D only, so a rerun lands the same rows and
replaces the file (the loader replaces the raw partition). A row changed again on a later day
moves to that day's window: its latest version is what silver keeps either way, and the
half-open windows never put one change in two days. Soft-deleted rows are counted and logged but
not landed: the raw shape (the contracts' columns) has no deletion column yet.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pyarrow as pa

from liftoff import settings
from liftoff.contracts import CONTRACTS
from liftoff.contracts.engine import arrow_schema
from liftoff.ingest import landing

log = logging.getLogger(__name__)
EXTRACT_PART = "crm-0.parquet"


@dataclass(frozen=True)
class ExtractSummary:
    entity: str
    logical_date: str
    window_start: str
    window_end: str
    records_extracted: int
    records_deleted: int  # soft-deleted in the window: seen, not landed
    landed_file: str | None
    skipped: str | None = None  # why nothing was read (no CRM connection, not migrated)


def day_window(day: date) -> tuple[datetime, datetime]:
    """[start, end) of business day `day` (Brasília), as aware datetimes."""
    zone = ZoneInfo(settings.BUSINESS_TIMEZONE)
    return datetime.combine(day, time(), zone), datetime.combine(day + timedelta(days=1), time(), zone)


def extract_crm_day(crm_dsn: str | None, lake_url: str, entity: str, day: date) -> ExtractSummary:
    """Land the CRM rows of `entity` changed on `day`; an empty file when none changed."""
    import psycopg
    from psycopg import sql

    start, end = day_window(day)
    summary = {"entity": entity, "logical_date": day.isoformat(), "window_start": start.isoformat(),
               "window_end": end.isoformat()}  # fmt: skip
    if crm_dsn is None:
        log.info("no `%s` connection: nothing extracted from the CRM", settings.CRM_CONN_ID)
        return ExtractSummary(**summary, records_extracted=0, records_deleted=0, landed_file=None,
                              skipped=f"no {settings.CRM_CONN_ID!r} connection")  # fmt: skip
    contract = CONTRACTS[entity]
    columns = list(contract.model_fields)
    query = sql.SQL(
        "select {}, deleted_at is not null from {} where updated_at >= %s and updated_at < %s order by {}"
    ).format(
        sql.SQL(", ").join(sql.Identifier(c) for c in columns),
        sql.Identifier(settings.CRM_SCHEMA, entity),
        sql.Identifier(contract.natural_key),
    )
    with psycopg.connect(crm_dsn) as conn:
        name = f"{settings.CRM_SCHEMA}.{entity}"
        if conn.execute("select to_regclass(%s)", (name,)).fetchone()[0] is None:
            log.warning("the CRM database has no %s (run `python -m liftoff.apps.crm_api migrate`)", name)
            return ExtractSummary(**summary, records_extracted=0, records_deleted=0, landed_file=None,
                                  skipped=f"{name} does not exist (CRM database not migrated)")  # fmt: skip
        rows = conn.execute(query, (start, end)).fetchall()
    live = [dict(zip(columns, row[:-1], strict=True)) for row in rows if not row[-1]]
    deleted = len(rows) - len(live)
    if deleted:
        log.warning("%s: %d soft-deleted CRM records on %s are not landed (raw has no deletion column)",
                    entity, deleted, day)  # fmt: skip
    table = pa.Table.from_pylist(live, schema=arrow_schema(contract))
    path = landing.write_partition(landing.lake_root(lake_url), entity, day, table, part_name=EXTRACT_PART)
    log.info(
        "%s %s: %d CRM records changed in [%s, %s) landed at %s", entity, day, len(live), start, end, path
    )
    return ExtractSummary(
        **summary, records_extracted=len(live), records_deleted=deleted, landed_file=str(path)
    )
