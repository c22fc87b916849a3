"""The embedded loader: validated records into Airbyte-shaped raw tables, with COPY.

Idempotent per (entity, logical date): one transaction deletes what an earlier run loaded and
quarantined for that date, copies the new valid rows in and records the invalid ones, so a rerun
replaces the partition and a failure leaves every table as it was. The same transaction writes
the partition's row in the load ledger (raw.loads: which business days the load touched), from
which the transform learns what to rebuild, so no loaded record waits for a full refresh. Rows
stream to COPY as CSV produced by Arrow's C++ writer, batch by batch, so memory stays bounded by
the batch size.
"""

from __future__ import annotations

import contextlib
import io
import json
import queue
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from liftoff import settings
from liftoff.contracts.engine import jsonb_text

COPY_BATCH_ROWS = 25_000  # rows per CSV chunk sent to COPY
# The field that dates a record on the business calendar, per entity; entities without one are
# dated by their logical day (what changed is "the dimension as of that day").
DATED_BY: dict[str, str] = {"sales": "date"}
_FIRST_PYTHON_DAY = (date(1, 1, 1) - date(1970, 1, 1)).days  # date32 value of 0001-01-01


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
    """The tables dbt reads as sources: raw, and the campaign's (consent, Telegram links, send
    log), so a transform never meets a missing source, whichever DAG ran first. They are the
    warehouse's own tables: upgrading it to the latest migration creates or updates them."""
    from liftoff.warehouse import migrate

    migrate.upgrade(dsn)


def known_keys(dsn: str, entity: str, key: str, candidates: pa.Array) -> pa.Array:
    """Which of `candidates` exist as keys of raw.<entity> (for reference checks).

    Asks about the batch's keys only, so the cost follows the batch, not the size of the table.
    """
    import psycopg
    from psycopg import sql

    wanted = np.unique(candidates.drop_null().cast(pa.int64()).to_numpy(zero_copy_only=False))
    if not len(wanted):
        return pa.array([], pa.int64())
    query = sql.SQL(
        "copy (select k from unnest(%s::bigint[]) as k where exists (select from {} as t where t.{} = k))"
        " to stdout"
    ).format(sql.Identifier(settings.RAW_SCHEMA, entity), sql.Identifier(key))
    buffer = io.BytesIO()
    with psycopg.connect(dsn) as conn, conn.cursor() as cursor:
        exists = cursor.execute("select to_regclass(%s)", (f"{settings.RAW_SCHEMA}.{entity}",)).fetchone()[0]
        if exists is None:
            return pa.array([], pa.int64())
        # The keys as one array literal: psycopg's list adapter dumps element by element in Python.
        literal = "{" + ",".join(map(str, wanted.tolist())) + "}"
        with cursor.copy(query, (literal,)) as copy:
            for chunk in copy:
                buffer.write(chunk)
    text = buffer.getvalue()
    return pa.array(np.array(text.split(), dtype=np.int64) if text else np.array([], dtype=np.int64))


def _with_airbyte_columns(table: pa.Table, logical_date: date) -> pa.Table:
    n = table.num_rows
    generation_id = int(logical_date.strftime("%Y%m%d"))
    extracted_at = np.datetime64(datetime.combine(logical_date, time()).isoformat(), "us")
    meta = json.dumps({"changes": [], "sync_id": generation_id})
    # Constant columns: one dictionary entry (or one numpy fill) each, not a million Python objects.
    return (
        table.append_column(
            "_airbyte_extracted_at", pa.array(np.full(n, extracted_at), pa.timestamp("us", tz="UTC"))
        )
        .append_column("_airbyte_meta", pa.DictionaryArray.from_arrays(np.zeros(n, np.int32), [meta]))
        .append_column("_airbyte_generation_id", pa.array(np.full(n, generation_id, np.int64)))
        .append_column(
            "_liftoff_logical_date", pa.array(np.full(n, np.datetime64(logical_date, "D")), pa.date32())
        )
    )


def _utc_wall_clock(table: pa.Table) -> pa.Table:
    """Time-zone-aware timestamps as their UTC wall clock (the same instants, written without a
    zone): Arrow formats a zoned timestamp ~20 times slower (1.3 s per million values here). The COPY
    runs with the session's TimeZone at UTC, so the server reads them as the same instants."""
    for position, column in enumerate(table.schema):
        if pa.types.is_timestamp(column.type) and column.type.tz is not None:
            naive = table.column(position).cast(pa.timestamp(column.type.unit))
            table = table.set_column(position, pa.field(column.name, naive.type, column.nullable), naive)
    return table


def _csv_chunks(batches: Iterable[pa.Table]) -> Iterator[memoryview]:
    """The batches as CSV chunks, formatted ahead by a producer thread (Arrow's writer releases the
    GIL). The producer also pulls `batches`, so a lazy source (a file checked batch by batch) is
    read and checked in that thread while the caller sends the previous chunk."""
    options = pacsv.WriteOptions(include_header=False)
    ready: queue.Queue[memoryview | BaseException | None] = queue.Queue(maxsize=3)
    stop = threading.Event()

    def produce() -> None:
        try:
            for table in batches:
                for batch in table.to_batches(max_chunksize=COPY_BATCH_ROWS):
                    if stop.is_set():
                        return
                    # Into Arrow's memory pool, handed over without a copy: large Python bytes
                    # objects made and freed per chunk leave the C heap fragmented and growing.
                    chunk = pa.BufferOutputStream()
                    pacsv.write_csv(pa.Table.from_batches([batch]), chunk, write_options=options)
                    ready.put(memoryview(chunk.getvalue()))
            ready.put(None)
        except BaseException as error:  # handed to the consumer, which raises it
            ready.put(error)

    producer = threading.Thread(target=produce, name="csv-producer", daemon=True)
    producer.start()
    try:
        while (item := ready.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while producer.is_alive():  # unblock a producer waiting on a full queue
            with contextlib.suppress(queue.Empty):
                ready.get(timeout=0.05)


def write_quarantine(
    cursor, entity: str, records: Sequence[QuarantinedRecord], logical_date: date, run_id: str
) -> None:
    """Append quarantine entries inside the caller's transaction.

    Text that reached a reason or a key from hostile input may hold NUL, which no Postgres text (nor
    jsonb) can store: it is written as the six characters `\\u0000`, so the COPY cannot fail on it.
    """
    with cursor.copy(
        "copy raw.quarantine (entity, natural_key, field, reason, violations, payload, source_file,"
        " logical_date, run_id) from stdin"
    ) as copy:
        for record in records:
            headline = record.violations[0]
            copy.write_row((
                entity, _storable(record.natural_key), _storable(headline["field"]),
                _storable(headline["reason"]), jsonb_text(json.dumps(record.violations, ensure_ascii=False)),
                record.payload, _storable(record.source_file), logical_date, run_id,
            ))  # fmt: skip


def _storable(text: str | None) -> str | None:
    return None if text is None else text.replace("\x00", "\\u0000")


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
    with open_partition(dsn, entity, logical_date) as partition:
        partition.copy([valid])
        return partition.finish(quarantined, run_id)


@contextlib.contextmanager
def open_partition(dsn: str, entity: str, logical_date: date) -> Iterator[PartitionWriter]:
    """A transaction replacing (entity, logical date): what an earlier load wrote is deleted first,
    rows are then COPYed batch by batch (`PartitionWriter.copy`), and `finish` records the
    quarantine and the ledger. Leaving the block normally commits; an exception rolls it all back."""
    import psycopg

    with psycopg.connect(dsn) as conn, conn.cursor() as cursor:
        replaced, replaced_days = _delete_partition(cursor, entity, logical_date)
        cursor.execute(
            "delete from raw.quarantine where entity = %s and logical_date = %s", (entity, logical_date)
        )
        yield PartitionWriter(conn, cursor, entity, logical_date, replaced, set(replaced_days))


class PartitionWriter:
    """The open transaction of one partition; see `open_partition`."""

    def __init__(self, conn, cursor, entity: str, logical_date: date, replaced: int, days: set[date]) -> None:
        self.conn, self.cursor = conn, cursor
        self.entity, self.logical_date = entity, logical_date
        self.replaced = replaced
        self.rows_loaded = 0
        self.days = days  # the business days touched: the replaced rows' and the new rows'

    def savepoint(self):
        """A nested transaction: an exception inside undoes only what was written inside it."""
        return self.conn.transaction()

    def copy(self, batches: Iterable[pa.Table]) -> int:
        """COPY `batches` (pulled lazily, one at a time) in one statement; returns the rows stored.

        The rows sent are checked against the rows COPY stored: a mismatch raises, rolling back."""
        from psycopg import sql

        sent = 0
        days: set[date] = set()
        names: list[str] = []

        def shaped() -> Iterator[pa.Table]:
            nonlocal sent
            for batch in batches:
                rows = _with_airbyte_columns(batch, self.logical_date)
                if not names:
                    names.extend(rows.column_names)
                elif rows.column_names != names:  # CSV is positional: every batch in one order
                    raise ValueError(
                        f"raw.{self.entity}: a batch's columns {rows.column_names} are not {names}"
                    )
                sent += batch.num_rows
                days.update(data_days(self.entity, batch, self.logical_date))
                yield _utc_wall_clock(rows)

        # Timestamps are sent as UTC wall clock (see _utc_wall_clock): read them in UTC, then give
        # the transaction its time zone back.
        [zone] = self.cursor.execute("select current_setting('TimeZone')").fetchone()
        self.cursor.execute("select set_config('TimeZone', 'UTC', true)")
        with contextlib.ExitStack() as stack:
            copy = None
            for chunk in _csv_chunks(shaped()):
                if copy is None:  # the first chunk comes after its batch named the columns
                    copy_sql = sql.SQL("copy {} ({}) from stdin with (format csv)").format(
                        sql.Identifier(settings.RAW_SCHEMA, self.entity),
                        sql.SQL(", ").join(sql.Identifier(name) for name in names),
                    )
                    # The batches are read, checked and formatted as CSV in the producer thread (at
                    # most three chunks ahead) while this thread sends and the server parses: the
                    # three overlap. Not psycopg's QueuedLibpqWriter: its queue holds up to 1024
                    # buffers, so memory would grow with the file whenever the server is the slower.
                    copy = stack.enter_context(self.cursor.copy(copy_sql))
                copy.write(chunk)
        stored = self.cursor.rowcount if copy is not None else 0
        self.cursor.execute("select set_config('TimeZone', %s, true)", (zone,))
        if stored != sent:
            raise ReconciliationError(
                f"raw.{self.entity} {self.logical_date}: {sent} valid records sent, COPY stored {stored}"
            )
        self.rows_loaded += stored
        self.days |= days
        return stored

    def finish(self, quarantined: Sequence[QuarantinedRecord], run_id: str) -> PartitionLoad:
        """Write the quarantine entries and the ledger row, inside the transaction."""
        write_quarantine(self.cursor, self.entity, quarantined, self.logical_date, run_id)
        if DATED_BY.get(self.entity) is None:
            self.days.add(self.logical_date)
        record_load(self.cursor, self.entity, self.logical_date, run_id, self.rows_loaded, sorted(self.days))
        return PartitionLoad(
            self.entity, self.logical_date, self.rows_loaded, len(quarantined), self.replaced
        )


def _delete_partition(cursor, entity: str, logical_date: date) -> tuple[int, list[date]]:
    """Delete what an earlier load of `logical_date` wrote: (rows deleted, their business days).

    The days of the rows a rerun takes away must be rebuilt too: a sale the source no longer sends
    (or now dates another day) leaves its old day changed. Days before year 1 (hostile input only)
    are left out: Python has no date for them.
    """
    from psycopg import sql

    target = sql.Identifier(settings.RAW_SCHEMA, entity)
    field = DATED_BY.get(entity)
    if field is None:
        cursor.execute(
            sql.SQL("delete from {} where _liftoff_logical_date = %s").format(target), (logical_date,)
        )
        return cursor.rowcount, []
    deleted, days = cursor.execute(
        sql.SQL(
            "with gone as (delete from {} where _liftoff_logical_date = %s"
            " returning ({} at time zone %s)::date as day)"
            " select count(*), coalesce(array_agg(distinct day) filter (where day >= '0001-01-01'), '{{}}')"
            " from gone"
        ).format(target, sql.Identifier(field)),
        (logical_date, settings.BUSINESS_TIMEZONE),
    ).fetchone()
    return deleted, list(days)


def data_days(entity: str, records: pa.Table, logical_date: date) -> list[date]:
    """The business days (Brasília calendar) `records` belong to, for the load ledger.

    Sales: the distinct days of their `date` (a late or back-dated sale names its own day); the
    other entities: the logical day. Computed in Arrow, exactly (time zone rules included).
    """
    field = DATED_BY.get(entity)
    if field is None:
        return [logical_date]
    if field not in records.column_names or not records.num_rows:
        return []
    moments = records.column(field).cast(pa.timestamp("us", tz="UTC"))
    local = pc.local_timestamp(moments.cast(pa.timestamp("us", tz=settings.BUSINESS_TIMEZONE)))
    days = pc.drop_null(pc.unique(local.cast(pa.date32()).combine_chunks()))
    numbers = days.cast(pa.int32()).to_numpy(zero_copy_only=False)
    # Years before 1 (only hostile input has them) cannot be a Python date; they date nothing.
    return sorted(date(1970, 1, 1) + timedelta(days=int(n)) for n in numbers if n >= _FIRST_PYTHON_DAY)


def record_load(
    cursor, entity: str, logical_date: date, run_id: str, rows_loaded: int, days: Sequence[date]
) -> None:
    """Write the ledger row of (entity, logical date) in the caller's transaction, pending again.

    Its data days are added to those the partition already had, so two loads between two
    transforms (two Airbyte syncs of one day) leave every day they touched to rebuild.
    """
    cursor.execute(
        "insert into raw.loads as recorded (entity, logical_date, run_id, rows_loaded, data_days)"
        " values (%s, %s, %s, %s, %s::date[])"
        " on conflict (entity, logical_date) do update set"
        " run_id = excluded.run_id, loaded_at = clock_timestamp(), rows_loaded = excluded.rows_loaded,"
        " data_days = array(select distinct day from unnest(recorded.data_days || excluded.data_days)"
        " as day order by day),"
        " transformed_at = null, transform_run_id = null",
        (entity, logical_date, run_id, rows_loaded, list(days)),
    )
