"""The landing zone: one Parquet file per entity per day in object storage.

Layout `<base>/raw/<entity>/dt=YYYY-MM-DD/part-0.parquet`, the Hive-style partitioning every engine
reads. Paths go through Airflow's ObjectStoragePath, so the same code writes a local folder
(`file://...`, the default) or S3/MinIO (`s3://bucket/prefix` with an Airflow connection id).
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from datetime import date
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

from liftoff import settings

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

PART_NAME = "part-0.parquet"
# The CRM extraction's file of a partition (the Airbyte connector's, `airbyte_extract`), beside the
# simulator's: the loader prefers it for a key both carry (`key_precedence`).
EXTRACT_PART = "crm-0.parquet"


def lake_root(base_url: str, conn_id: str | None = settings.LAKE_CONN_ID) -> ObjectStoragePath:
    """The landing zone's root: a local folder (`file://...`) or a bucket reached through the
    Airflow connection `conn_id` (`s3://bucket/prefix`)."""
    from airflow.sdk import ObjectStoragePath

    if base_url.startswith("file://"):
        conn_id = None  # a local folder needs no connection
    return ObjectStoragePath(base_url.rstrip("/") + "/", conn_id=conn_id)


def partition_dir(root: ObjectStoragePath, entity: str, day: date) -> ObjectStoragePath:
    return root / "raw" / entity / f"dt={day.isoformat()}"


def partition_path(root: ObjectStoragePath, entity: str, day: date) -> ObjectStoragePath:
    return partition_dir(root, entity, day) / PART_NAME


def partition_files(root: ObjectStoragePath, entity: str, day: date) -> list[ObjectStoragePath]:
    """Every Parquet file of (entity, day): ours write one, other writers (Airbyte's S3
    destination, a user's export) may write several."""
    folder = partition_dir(root, entity, day)
    if not folder.exists():
        return []
    return sorted((path for path in folder.iterdir() if path.name.endswith(".parquet")), key=str)


def write_partition(
    root: ObjectStoragePath, entity: str, day: date, table: pa.Table, part_name: str = PART_NAME
) -> ObjectStoragePath:
    """Write (or replace) one day of one entity; readers never see a half-written file.

    The file is serialised in memory and written in one call: one PUT on S3, and on a local folder a
    write to a temporary name followed by a rename. Each writer of a partition has its own
    `part_name` (the simulator `part-0.parquet`, the CRM extraction `crm-0.parquet`).
    """
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd")
    target = partition_dir(root, entity, day) / part_name
    write_whole_file(target, buffer.getvalue())
    return target


def write_whole_file(target: ObjectStoragePath, content: bytes) -> None:
    """Write `content` so that readers see the old file or the new one, never a part of it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.protocol in ("file", "local"):
        temporary = target.parent / (target.name + ".tmp")
        temporary.write_bytes(content)
        temporary.rename(target)
    else:
        target.write_bytes(content)  # one PUT: an object appears whole or not at all


def read_file(path: ObjectStoragePath) -> pa.Table:
    """Read one landed Parquet file (pyarrow.ArrowInvalid when it is not valid Parquet)."""
    return pq.read_table(io.BytesIO(path.read_bytes()))


READ_BUFFER = 1 << 20  # a column chunk is read in pieces of this size, not whole


@contextlib.contextmanager
def open_file(path: ObjectStoragePath) -> Iterator[pq.ParquetFile]:
    """One landed Parquet file open to be read batch by batch (only its footer is read on entry;
    pyarrow.ArrowInvalid when it is not valid Parquet); closed on leaving the block."""
    if path.protocol in ("file", "local"):  # Arrow reads a local file itself, into its own memory pool
        with pq.ParquetFile(path.path, buffer_size=READ_BUFFER) as parquet:
            yield parquet
        return
    with path.open("rb") as handle:
        yield pq.ParquetFile(handle, buffer_size=READ_BUFFER)


def read_partition(root: ObjectStoragePath, entity: str, day: date) -> pa.Table:
    """Read our one file of (entity, day); a missing file raises FileNotFoundError naming the path."""
    source = partition_path(root, entity, day)
    if not source.exists():
        raise FileNotFoundError(f"no landed file for {entity} on {day.isoformat()}: {source}")
    return read_file(source)
