"""The embedded loader: landed Parquet into Airbyte-shaped raw tables, with COPY.

Idempotent per (entity, logical date): one transaction deletes what an earlier run loaded for that
date and copies the new rows in, so a rerun replaces the partition and a failure leaves the table
as it was. Rows stream to COPY as CSV produced by Arrow's C++ writer, batch by batch, so memory stays
bounded by the batch size rather than the day's volume.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

import pyarrow as pa
import pyarrow.csv as pacsv

from liftoff import settings

COPY_BATCH_ROWS = 100_000
AIRBYTE_COLUMNS = (
    "_airbyte_extracted_at",
    "_airbyte_meta",
    "_airbyte_generation_id",
    "_liftoff_logical_date",
)


@dataclass(frozen=True)
class LoadResult:
    entity: str
    logical_date: date
    rows_in: int
    rows_loaded: int
    rows_replaced: int


def ensure_raw_tables(dsn: str) -> None:
    import psycopg

    ddl = (settings.SQL_DIR / "raw_tables.sql").read_text()
    with psycopg.connect(dsn) as conn:
        conn.execute(ddl)


def _with_airbyte_columns(table: pa.Table, logical_date: date, generation_id: int) -> pa.Table:
    n = table.num_rows
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


def copy_partition(dsn: str, entity: str, logical_date: date, table: pa.Table) -> LoadResult:
    """Replace raw.<entity>'s rows for `logical_date` with `table`, atomically."""
    import psycopg
    from psycopg import sql

    generation_id = int(logical_date.strftime("%Y%m%d"))
    rows = _with_airbyte_columns(table, logical_date, generation_id)
    target = sql.Identifier(settings.RAW_SCHEMA, entity)
    column_list = sql.SQL(", ").join(sql.Identifier(name) for name in rows.column_names)
    copy_sql = sql.SQL("copy {} ({}) from stdin with (format csv)").format(target, column_list)
    options = pacsv.WriteOptions(include_header=False)
    with psycopg.connect(dsn) as conn, conn.cursor() as cursor:
        cursor.execute(
            sql.SQL("delete from {} where _liftoff_logical_date = %s").format(target), (logical_date,)
        )
        replaced = cursor.rowcount
        with cursor.copy(copy_sql) as copy:
            for batch in rows.to_batches(max_chunksize=COPY_BATCH_ROWS):
                chunk = io.BytesIO()
                pacsv.write_csv(pa.Table.from_batches([batch]), chunk, write_options=options)
                copy.write(chunk.getbuffer())
        loaded = cursor.rowcount
    return LoadResult(entity, logical_date, table.num_rows, loaded, replaced)
