"""Contracts at the door for the Airbyte path: check what a sync wrote into raw.

Airbyte's Postgres destination writes raw.<entity> itself, so the check runs after the sync: rows
extracted since the sync started are validated with the same contracts as the embedded path, and
invalid ones move to raw.quarantine in one transaction (deleted from raw, recorded with their
reasons and payload). Nothing is dropped: checked = kept + quarantined. The check records the
sync in the load ledger (raw.loads) in the same transaction, so the transform rebuilds every
business day the synced rows name, late or re-delivered ones included.
"""

from __future__ import annotations

from datetime import date, datetime

import pyarrow as pa

from liftoff import settings
from liftoff.contracts import CONTRACTS
from liftoff.contracts.engine import arrow_schema, conform
from liftoff.ingest.daily import LoadSummary, quarantine_records, reference_keys, validate_batch
from liftoff.ingest.loader import data_days, ensure_raw_tables, record_load, write_quarantine

SOURCE = "airbyte"


def validate_synced_rows(dsn: str, entity: str, since: datetime, day: date, run_id: str) -> LoadSummary:
    import psycopg
    from psycopg import sql

    contract = CONTRACTS[entity]
    ensure_raw_tables(dsn)
    columns = list(contract.model_fields)
    table_name = sql.Identifier(settings.RAW_SCHEMA, entity)
    # Read in precedence order, so that the batch rule "a repeated key keeps its first record"
    # keeps the same one whatever order the rows were stored in: the latest updated_at (entities
    # that have one), then the latest extraction, then the highest raw id (never a tie).
    precedence = [sql.SQL("{} asc").format(sql.Identifier(contract.natural_key))]
    if "updated_at" in columns:
        precedence.append(sql.SQL("updated_at desc nulls last"))
    precedence += [sql.SQL("_airbyte_extracted_at desc"), sql.SQL("_airbyte_raw_id desc")]
    select = sql.SQL(
        "select _airbyte_raw_id::text, {} from {} "
        "where _airbyte_extracted_at >= %s and _liftoff_logical_date is null order by {} for update"
    ).format(
        sql.SQL(", ").join(sql.Identifier(c) for c in columns), table_name, sql.SQL(", ").join(precedence)
    )
    with psycopg.connect(dsn) as conn, conn.cursor() as cursor:
        rows = cursor.execute(select, (since,)).fetchall()
        raw_ids = [row[0] for row in rows]
        table = (
            pa.Table.from_pylist([dict(zip(columns, row[1:], strict=True)) for row in rows])
            if rows
            else (arrow_schema(contract).empty_table())
        )
        table = conform(contract, table, SOURCE)
        outcome = validate_batch(entity, table, day, reference_keys(dsn, entity, table), source=SOURCE)
        bad_raw_ids = [raw_ids[position] for position in outcome.invalid_positions]
        if bad_raw_ids:
            cursor.execute(
                sql.SQL("delete from {} where _airbyte_raw_id = any(%s::uuid[])").format(table_name),
                (bad_raw_ids,),
            )
        write_quarantine(cursor, entity, quarantine_records(entity, outcome, SOURCE), day, run_id)
        # The ledger, in the same transaction: the transform rebuilds the days these rows touched.
        record_load(
            cursor, entity, day, run_id, outcome.valid.num_rows, data_days(entity, outcome.valid, day)
        )
    return LoadSummary(
        entity=entity,
        logical_date=day.isoformat(),
        files=0,
        files_unreadable=0,
        records_in=len(rows),
        records_loaded=outcome.valid.num_rows,
        records_quarantined=outcome.invalid_rows.num_rows,
        records_replaced=0,
    )
