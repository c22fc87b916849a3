"""The loader reads, checks and COPYs a landed file batch by batch (`daily.BATCH_ROWS`), so its
memory does not grow with the file. These tests shrink the batch to a few records and prove that
nothing about the outcome depends on it: the same records load and the same ones are quarantined
with the same reasons, a key repeated in a later batch is still a repeat, a key shared with another
file of the day still goes by the precedence, and a file that breaks part-way leaves none of its
batches behind."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from liftoff.ingest import daily, landing
from liftoff.ingest.daily import land_simulated_day, load_landed_day
from liftoff.ingest.landing import EXTRACT_PART
from liftoff.ingest.simulator import SimulatorConfig, snapshot

DAY = date(2026, 3, 10)
DIRTY = SimulatorConfig(sales_per_day=120, dirty_rate=0.05, seed=5)
CLEAN = SimulatorConfig(sales_per_day=30, dirty_rate=0.0, seed=5)
ENTITIES = ("suppliers", "products", "employees", "customers", "sales")
REPEAT = "repeats a record earlier in the same batch"


def rows(dsn: str, query: str, *args) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(query, args).fetchall()


def outcome(dsn: str) -> dict:
    """What a load left: every raw table's rows (the Airbyte columns aside) and the quarantine."""
    found = {}
    for entity in ENTITIES:
        found[entity] = Counter(
            rows(
                dsn,
                f"select (to_jsonb(t) - array(select name from jsonb_object_keys(to_jsonb(t)) as name"
                f" where name like '\\_airbyte%%'))::text from raw.{entity} as t",
            )
        )
    found["quarantine"] = Counter(
        rows(dsn, "select entity, natural_key, field, reason, payload::text, source_file from raw.quarantine")
    )
    found["loads"] = rows(dsn, "select entity, rows_loaded, data_days from raw.loads order by entity")
    return found


def crm_extract(lake: str, entity: str) -> None:
    """A CRM extraction of `entity` sharing two keys with the simulator's file of the day: one
    version with the same updated_at (the CRM wins), one an hour older (the simulator wins)."""
    root = landing.lake_root(lake)
    simulated = landing.read_partition(root, entity, DAY)
    shared = simulated.slice(simulated.num_rows - 2, 2)  # in the file's last batch
    updated = shared.column("updated_at")
    older = pc.subtract(updated, pa.scalar(timedelta(hours=1)))
    shared = shared.set_column(
        shared.schema.get_field_index("updated_at"),
        "updated_at",
        pa.chunked_array([pa.concat_arrays([updated.chunk(0).slice(0, 1), older.chunk(0).slice(1, 1)])]),
    )
    landing.write_partition(root, entity, DAY, shared, EXTRACT_PART)


def test_a_day_checked_in_batches_of_seven_loads_exactly_what_one_batch_loads(warehouse, lake, monkeypatch):
    for entity in ENTITIES:
        land_simulated_day(lake, entity, DAY, DIRTY, full_refresh=True)
    crm_extract(lake, "customers")
    results = []
    for batch_rows in (1_000_000, 7):
        monkeypatch.setattr(daily, "BATCH_ROWS", batch_rows)
        summaries = [load_landed_day(warehouse, lake, entity, DAY, run_id="batches") for entity in ENTITIES]
        for summary in summaries:
            assert summary.records_in == summary.records_loaded + summary.records_quarantined
        results.append((summaries, outcome(warehouse)))
    (one_batch, loaded_whole), (small_batches, loaded_in_batches) = results
    assert [replace(s, records_replaced=0) for s in one_batch] == [
        replace(s, records_replaced=0) for s in small_batches
    ]
    assert [s.records_replaced for s in small_batches] == [s.records_loaded for s in one_batch]
    assert loaded_whole == loaded_in_batches
    reasons = Counter(reason for _, _, _, reason, _, _ in loaded_in_batches["quarantine"].elements())
    assert reasons[REPEAT] > 0, "the dirty day has repeated keys"
    assert sum("is also in" in reason for reason in reasons.elements()) == 2, "both shared keys decided"


def test_a_key_repeated_in_a_later_batch_of_a_file_is_quarantined_as_a_repeat(warehouse, lake, monkeypatch):
    monkeypatch.setattr(daily, "BATCH_ROWS", 4)
    suppliers = snapshot("suppliers", DAY, CLEAN)
    repeated = pa.concat_tables([suppliers, suppliers.slice(1, 1)])  # record 1 again, batches later
    landing.write_partition(landing.lake_root(lake), "suppliers", DAY, repeated)
    summary = load_landed_day(warehouse, lake, "suppliers", DAY, run_id="repeat")
    assert (summary.records_in, summary.records_loaded, summary.records_quarantined) == (
        suppliers.num_rows + 1, suppliers.num_rows, 1,
    )  # fmt: skip
    [(key, reason)] = rows(warehouse, "select natural_key, reason from raw.quarantine")
    assert (key, reason) == (str(suppliers.column("supplier_id")[1].as_py()), REPEAT)


def broken_part_way(path: Path, table: pa.Table) -> None:
    """Write `table` in row groups of 4 records, then overwrite the pages of a middle row group:
    the footer (read when the file is opened) is sound; reading fails part-way."""
    pq.write_table(table, path, row_group_size=4, compression="zstd")
    metadata = pq.ParquetFile(path).metadata
    middle = metadata.row_group(metadata.num_row_groups // 2)
    start = min(middle.column(i).data_page_offset for i in range(middle.num_columns))
    data = bytearray(path.read_bytes())
    data[start : start + 64] = b"\xff" * 64
    path.write_bytes(bytes(data))


def test_a_file_that_breaks_part_way_is_quarantined_whole_and_its_sent_batches_undone(
    warehouse, lake, monkeypatch
):
    monkeypatch.setattr(daily, "BATCH_ROWS", 4)
    suppliers = snapshot("suppliers", DAY, CLEAN)
    root = landing.lake_root(lake)
    landing.write_partition(root, "suppliers", DAY, suppliers)
    load_landed_day(warehouse, lake, "suppliers", DAY, run_id="good")
    # Now the day's big file breaks half-way; a CRM extract of two other suppliers is sound.
    others = suppliers.slice(0, 2).set_column(0, "supplier_id", pa.array([900_001, 900_002]))
    landing.write_partition(root, "suppliers", DAY, others, EXTRACT_PART)
    broken_part_way(Path(landing.partition_path(root, "suppliers", DAY).path), suppliers)
    with pytest.raises((OSError, pa.ArrowInvalid)):  # the break is not in the footer: it opens
        pq.read_table(Path(landing.partition_path(root, "suppliers", DAY).path))

    summary = load_landed_day(warehouse, lake, "suppliers", DAY, run_id="broken")
    assert (summary.files, summary.files_unreadable) == (2, 1)
    assert (summary.records_in, summary.records_loaded, summary.records_quarantined) == (2, 2, 0)
    assert rows(warehouse, "select supplier_id from raw.suppliers order by 1") == [(900_001,), (900_002,)]
    [(field, reason, source, run_id)] = rows(
        warehouse, "select field, reason, source_file, run_id from raw.quarantine"
    )
    assert (field, run_id) == ("<file>", "broken")
    assert reason.startswith("unreadable Parquet")
    assert source.endswith("part-0.parquet")
    assert rows(warehouse, "select rows_loaded from raw.loads where entity = 'suppliers'") == [(2,)]
