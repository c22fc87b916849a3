"""The embedded loader: validated records into Airbyte-shaped raw tables, with COPY.

Idempotent per (entity, logical date): one transaction deletes what an earlier run loaded and
quarantined for that date, copies the new valid rows in and records the invalid ones, so a rerun
replaces the partition and a failure leaves every table as it was. Rows stream to COPY as CSV
produced by Arrow's C++ writer, batch by batch, so memory stays bounded by the batch size.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from liftoff import settings

COPY_BATCH_ROWS = 100_000


@dataclass(frozen=True)
class QuarantinedRecord:
    """One record (or one unreadable file) that failed its contract, with every reason."""

    natural_key: str | None
    violations: list[dict[str, str]]  # [{"field": ..., "reason": ...}, ...], first one is the headline
    payload: str | None  # the record as received, JSON
    source_file: str


@dataclass(frozen=True)
class PartitionLoad:
    entity: str
    logical_date: date
    rows_loaded: int
    rows_quarantined: int
    rows_replaced: int


class ReconciliationError(RuntimeError):
    """Records in != loaded + quarantined: something would be lost, so nothing is committed."""


def ensure_raw_tables(dsn: str) -> None:
    import psycopg

    ddl = (settings.SQL_DIR / "raw_tables.sql").read_text()
    with psycopg.connect(dsn) as conn:
        # Concurrent first runs (several load tasks at once) must not race on CREATE ... IF NOT EXISTS.
        conn.execute("select pg_advisory_xact_lock(hashtext('liftoff.raw_tables'))")
        conn.execute(ddl)


def known_keys(dsn: str, entity: str, key: str) -> pa.Array:
    """Every key of raw.<entity>, for reference checks (streamed with COPY, parsed by numpy)."""
    import psycopg
    from psycopg import sql

    query = sql.SQL("copy (select distinct {} from {} where {} is not null) to stdout").format(
        sql.Identifier(key), sql.Identifier(settings.RAW_SCHEMA, entity), sql.Identifier(key)
    )
    buffer = io.BytesIO()
    with psycopg.connect(dsn) as conn, conn.cursor() as cursor:
        exists = cursor.execute("select to_regclass(%s)", (f"{settings.RAW_SCHEMA}.{entity}",)).fetchone()[0]
        if exists is None:
            return pa.array([], pa.int64())
        with cursor.copy(query) as copy:
            for chunk in copy:
                buffer.write(chunk)
    text = buffer.getvalue()
    values = np.array(text.split(), dtype=np.int64) if text else np.array([], dtype=np.int64)
    return pa.array(values)


def _with_airbyte_columns(table: pa.Table, logical_date: date) -> pa.Table:
    n = table.num_rows
    generation_id = int(logical_date.strftime("%Y%m%d"))
    extracted_at = datetime.combine(logical_date, time(), tzinfo=UTC)
    meta = json.dumps({"changes": [], "sync_id": generation_id})
    return (
        table.append_column(
            "_airbyte_extracted_at", pa.array([extracted_at] * n, pa.timestamp("us", tz="UTC"))
        )
        .append_column("_airbyte_meta", pa.array([meta] * n, pa.string()))
        .append_column("_airbyte_generation_id", pa.array([generation_id] * n, pa.int64()))
        .append_column("_liftoff_logical_date", pa.array([logical_date] * n, pa.date32()))
    )


def write_quarantine(
    cursor, entity: str, records: Sequence[QuarantinedRecord], logical_date: date, run_id: str
) -> None:
    """Append quarantine entries inside the caller's transaction."""
    with cursor.copy(
        "copy raw.quarantine (entity, natural_key, field, reason, violations, payload, source_file,"
        " logical_date, run_id) from stdin"
    ) as copy:
        for record in records:
            headline = record.violations[0]
            copy.write_row((
                entity, record.natural_key, headline["field"], headline["reason"],
                json.dumps(record.violations, ensure_ascii=False), record.payload,
                record.source_file, logical_date, run_id,
            ))  # fmt: skip


def replace_partition(
    dsn: str,
    entity: str,
    logical_date: date,
    valid: pa.Table,
    quarantined: Sequence[QuarantinedRecord],
    run_id: str,
) -> PartitionLoad:
    """Replace raw.<entity>'s rows and quarantine entries for `logical_date`, atomically.

    The COPY's row count is checked against `valid` before the commit: a mismatch rolls it all back.
    """
    import psycopg
    from psycopg import sql

    rows = _with_airbyte_columns(valid, logical_date)
    target = sql.Identifier(settings.RAW_SCHEMA, entity)
    column_list = sql.SQL(", ").join(sql.Identifier(name) for name in rows.column_names)
    copy_sql = sql.SQL("copy {} ({}) from stdin with (format csv)").format(target, column_list)
    options = pacsv.WriteOptions(include_header=False)
    with psycopg.connect(dsn) as conn, conn.cursor() as cursor:
        cursor.execute(
            sql.SQL("delete from {} where _liftoff_logical_date = %s").format(target), (logical_date,)
        )
        replaced = cursor.rowcount
        cursor.execute(
            "delete from raw.quarantine where entity = %s and logical_date = %s", (entity, logical_date)
        )
        with cursor.copy(copy_sql) as copy:
            for batch in rows.to_batches(max_chunksize=COPY_BATCH_ROWS):
                chunk = io.BytesIO()
                pacsv.write_csv(pa.Table.from_batches([batch]), chunk, write_options=options)
                copy.write(chunk.getbuffer())
        loaded = cursor.rowcount
        if loaded != valid.num_rows:
            raise ReconciliationError(
                f"raw.{entity} {logical_date}: {valid.num_rows} valid records sent, COPY stored {loaded}"
            )
        write_quarantine(cursor, entity, quarantined, logical_date, run_id)
    return PartitionLoad(entity, logical_date, loaded, len(quarantined), replaced)
