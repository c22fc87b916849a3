"""Snapshots of a warehouse's tables, to compare two runs (or two ways of building) exactly.

Compared per table: the row count and a checksum of the content. Left out of the checksum are the
columns that identify a load rather than the data: surrogate keys drawn per load (`_airbyte_raw_id`,
a fresh UUID per row as Airbyte writes it; `quarantine_id`, a sequence) and the run id and time of
a quarantine, a load, a transform's coverage of it, a quality check or a campaign run.
"""

from __future__ import annotations

from datetime import date

import psycopg
from psycopg import sql

PER_LOAD_COLUMNS = {
    "_airbyte_raw_id",
    "quarantine_id",
    "run_id",
    "checked_at",
    "quarantined_at",
    "finished_at",
    # The load ledger's times and the transform run that covered a load (raw.loads).
    "loaded_at",
    "transformed_at",
    "transform_run_id",
}
SCHEMAS = ("raw", "silver", "gold", "quality", "campaign")


def snapshot(dsn: str) -> dict[str, tuple[int, str]]:
    """(rows, md5 of the rows in a canonical order) of every table in the pipeline's schemas."""
    result = {}
    with psycopg.connect(dsn) as conn:
        tables = conn.execute(
            "select table_schema, table_name from information_schema.tables"
            " where table_schema = any(%s) and table_type = 'BASE TABLE' order by 1, 2",
            (list(SCHEMAS),),
        ).fetchall()
        for schema, table in tables:
            columns = [
                name
                for (name,) in conn.execute(
                    "select column_name from information_schema.columns"
                    " where table_schema = %s and table_name = %s order by ordinal_position",
                    (schema, table),
                ).fetchall()
                if name not in PER_LOAD_COLUMNS
            ]
            row = sql.SQL("row({})::text").format(sql.SQL(", ").join(map(sql.Identifier, columns)))
            query = sql.SQL(
                "select count(*), md5(coalesce(string_agg(r, '|' order by r), ''))"
                " from (select {} as r from {}) as t"
            )
            count, digest = conn.execute(query.format(row, sql.Identifier(schema, table))).fetchone()
            result[f"{schema}.{table}"] = (count, digest)
    return result


def without_campaign_outcomes(tables: dict[str, tuple[int, str]]) -> dict[str, tuple[int, str]]:
    """The warehouse's data, without what the gate and the campaign (which the reference build
    never runs) recorded about their runs, and without the audience: it is kept per data day, and
    a build over a range makes only its last day's (compared on its own)."""
    return {
        name: value
        for name, value in tables.items()
        if not name.startswith(("campaign.", "quality."))
        and name not in ("gold.campaign_summaries", "gold.cross_sell_audience")
    }


def audience_of(dsn: str, day: date) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "select * from gold.cross_sell_audience where audience_date = %s order by customer_id", (day,)
        ).fetchall()
