"""The Airbyte connector's extraction of a CRM day against the hand-written one, in the same run.

    python -m benchmarks.crm_extract --records 20000      (`make bench`)

On one fresh CRM database of the embedded Postgres (roles applied, migrated), `--records` customers
are written straight into crm.customers (SQL, not the API: the write is not what is measured), all
changed on one business day. That day is then extracted to a private landing zone by:

- the hand-written extraction (one SQL query on the CRM database, `hand_written_extract` below: the
  retired `liftoff/ingest/crm_extract.py`'s reader, kept here as the reference), twice, around
- the Airbyte connector (`liftoff/ingest/airbyte_extract.py`: PyAirbyte in .venv-airbyte reading the
  CRM API, as `make up` serves it, through include/airbyte/crm/manifest.yaml, pages of 500), once,
  plus once on an empty day: the connector's fixed cost (interpreter, PyAirbyte, five streams'
  reads), which the per-record figure leaves out.

Figures: records per second of each (the connector's with and without its fixed cost) and the
connector's rate as a share of the reference's. No aim yet: the figure the issue asked for before
the hand-written extraction was retired.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from benchmarks.crm_api import _crm_database
from benchmarks.results import publish

DAY = date(2026, 10, 14)


def hand_written_extract(crm_dsn: str, lake_url: str, entity: str, day: date) -> int:
    """The reference: the hand-written extraction the connector replaced, as it was in
    `liftoff/ingest/crm_extract.py` before that module was retired (the connector is now the only
    extraction the pipeline runs). Kept here, and only here, so the benchmark still compares the
    connector against the plain SQL read of the same day: one query on the CRM database for the
    rows whose updated_at falls in the day's window, the live ones landed as `crm-0.parquet` in the
    contract's schema. The number of records landed."""
    import psycopg
    import pyarrow as pa
    from psycopg import sql

    from liftoff import settings
    from liftoff.contracts import CONTRACTS
    from liftoff.contracts.engine import arrow_schema
    from liftoff.ingest import landing
    from liftoff.ingest.airbyte_extract import day_window

    start, end = day_window(day)
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
        rows = conn.execute(query, (start, end)).fetchall()
    live = [dict(zip(columns, row[:-1], strict=True)) for row in rows if not row[-1]]
    table = pa.Table.from_pylist(live, schema=arrow_schema(contract))
    landing.write_partition(landing.lake_root(lake_url), entity, day, table, part_name=landing.EXTRACT_PART)
    return len(live)


def _fill(admin_url: str, records: int, day: date) -> None:
    """`records` customers changed on `day`, spread over its hours (Brasília)."""
    import psycopg

    from liftoff.ingest.airbyte_extract import day_window

    start, _ = day_window(day)
    with psycopg.connect(admin_url) as conn:
        conn.execute(
            "insert into crm.customers (first_name, last_name, email, phone_number, city, state,"
            " created_at, updated_at)"
            " select 'Carla', 'Dias', 'c' || g || '@example.com', '+5521998765432', 'Rio de Janeiro', 'RJ',"
            " t, t from generate_series(1, %(n)s) g,"
            " lateral (select %(start)s::timestamptz + make_interval(secs => g * 80000.0 / %(n)s) as t) m",
            {"n": records, "start": start},
        )


def measure(admin_url: str, records: int) -> dict:
    from liftoff.apps.crm_api.database import CRM_OWNER_URL_ENV
    from liftoff.apps.crm_api.roles import API, OWNER
    from liftoff.ingest.airbyte_extract import extract_crm_day_airbyte
    from tests.crm_api_server import served_crm_api

    _fill(admin_url, records, DAY)
    os.environ[CRM_OWNER_URL_ENV] = OWNER.url(admin_url)  # `serve` migrates as the owner (a no-op here)
    figures: dict = {"records": records}
    with tempfile.TemporaryDirectory(prefix="bench-crm-extract-") as lake_dir:
        lake = Path(lake_dir).as_uri()
        hand: list[float] = []

        def hand_written() -> None:
            started = time.perf_counter()
            extracted = hand_written_extract(admin_url, lake, "customers", DAY)
            hand.append(time.perf_counter() - started)
            assert extracted == records, extracted

        hand_written()
        with served_crm_api(API.url(admin_url)) as api:
            started = time.perf_counter()
            empty = extract_crm_day_airbyte(api.url, api.admin_key, lake, DAY - timedelta(days=30))
            fixed = time.perf_counter() - started
            assert sum(s.records_extracted for s in empty) == 0
            started = time.perf_counter()
            summaries = extract_crm_day_airbyte(api.url, api.admin_key, lake, DAY)
            connector = time.perf_counter() - started
        [customers] = [s for s in summaries if s.entity == "customers"]
        assert customers.records_extracted == records, customers
        hand_written()
    reference = sum(hand) / len(hand)
    figures |= {
        "hand_written_seconds": reference,
        "hand_written_per_s": records / reference,
        "connector_seconds": connector,
        "connector_per_s": records / connector,
        "connector_fixed_seconds": fixed,
        "connector_per_s_after_fixed": records / max(connector - fixed, 1e-9),
    }
    figures["ratio"] = figures["connector_per_s"] / figures["hand_written_per_s"]
    return figures


def report(figures: dict) -> None:
    after_fixed = figures["connector_per_s_after_fixed"]
    hand, connector, fixed = (
        figures["hand_written_seconds"],
        figures["connector_seconds"],
        figures["connector_fixed_seconds"],
    )
    lines = [
        f"One CRM business day of {figures['records']:,} changed customers, extracted to the landing zone",
        "",
        "| extraction | seconds | records/s |",
        "| --- | --- | --- |",
        f"| hand-written (SQL on the CRM database) | {hand:.2f} | {figures['hand_written_per_s']:,.0f} |",
        f"| Airbyte connector (PyAirbyte, CRM API) | {connector:.2f} | {figures['connector_per_s']:,.0f} |",
        f"| the connector's fixed cost (an empty day) | {fixed:.2f} | — |",
        f"| the connector without it | {connector - fixed:.2f} | {after_fixed:,.0f} |",
        "",
        f"connector records/s / hand-written records/s = {figures['ratio']:.3f}",
    ]
    publish("crm_extract", figures, lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000)
    args = parser.parse_args(argv)
    with _crm_database() as admin_url:
        report(measure(admin_url, args.records))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
