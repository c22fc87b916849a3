"""One record per natural key per day, whichever files or sources sent it: a documented precedence.

A day's partition can hold several files (the simulator's `part-0.parquet`, the CRM extraction's
`crm-0.parquet`, files another writer drops), and two of them can carry the same key: a customer
edited through the CRM API on the day the simulator also changed them, or a file landed twice under
two names. Loading both would leave silver to pick one of two rows that tie on every ordering
column. Instead the loader keeps exactly one valid record per key, by this precedence:

1. the latest `updated_at` (entities that have one; sales do not);
2. the source: the CRM extraction's file (`crm-*.parquet`) over any other, since the CRM's database
   is the system of record and the simulator only stands in for activity;
3. the file name: the later name in sort order;
4. (within one file a key appears once: a repeat is already quarantined by the contract check,
   "repeats a record earlier in the same batch", which keeps the first.)

File names are distinct within a partition, so the precedence never ties. Every other record of
the key goes to raw.quarantine with a reason naming the key and the file that won, so records in =
loaded + quarantined still holds and nothing disappears. The outcome does not depend on the order
the files are listed in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

import numpy as np
import pyarrow as pa

from liftoff.contracts import CONTRACTS
from liftoff.contracts.engine import payload_json, python_rows
from liftoff.ingest.landing import EXTRACT_PART
from liftoff.ingest.loader import QuarantinedRecord

CRM_EXTRACT_PREFIX = EXTRACT_PART.split("-")[0] + "-"  # "crm-"
DUPLICATE_REASON = "duplicate key"


@dataclass(frozen=True)
class FileRecords:
    """The valid records of one landed file."""

    source_file: str
    records: pa.Table


def source_rank(source_file: str) -> int:
    """1 for the CRM extraction's files (the system of record), 0 for any other writer's."""
    return int(PurePosixPath(source_file).name.startswith(CRM_EXTRACT_PREFIX))


def file_order(files: Sequence[FileRecords]) -> list[FileRecords]:
    """Files from the lowest precedence to the highest: by source, then by name."""
    return sorted(files, key=lambda f: (source_rank(f.source_file), PurePosixPath(f.source_file).name,
                                        f.source_file))  # fmt: skip


def keep_one_per_key(entity: str, files: Sequence[FileRecords]) -> tuple[pa.Table, list[QuarantinedRecord]]:
    """(the day's records with one per key, the others as quarantine entries naming the winner)."""
    ordered = file_order(files)
    tables = [f.records for f in ordered]
    if not tables:
        raise ValueError("keep_one_per_key needs at least one file's records")
    combined = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
    if len(tables) == 1 or combined.num_rows == 0:
        return combined, []
    key = CONTRACTS[entity].natural_key
    keys = combined.column(key).combine_chunks().cast(pa.int64()).to_numpy(zero_copy_only=False)
    file_rank = np.concatenate([np.full(t.num_rows, rank, np.int64) for rank, t in enumerate(tables)])
    if "updated_at" in combined.column_names:
        updated = combined.column("updated_at").combine_chunks().cast(pa.int64())
        updated = updated.fill_null(np.iinfo(np.int64).min).to_numpy(zero_copy_only=False)
    else:
        updated = np.zeros(combined.num_rows, np.int64)
    # Best first within each key: lexsort sorts by its last key first.
    order = np.lexsort((-file_rank, -updated, keys))
    sorted_keys = keys[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = sorted_keys[1:] != sorted_keys[:-1]
    if first.all():
        return combined, []
    winner_of = order[np.maximum.accumulate(np.where(first, np.arange(len(order)), 0))]
    losers = order[~first]
    winners_for_losers = winner_of[~first]
    kept = np.sort(order[first])
    sources = [f.source_file for f in ordered]
    loser_rows = python_rows(combined.take(pa.array(losers)))
    quarantined = []
    for position, winner, row in zip(losers.tolist(), winners_for_losers.tolist(), loser_rows, strict=True):
        winner_file = sources[file_rank[winner]]
        loser_file = sources[file_rank[position]]
        if updated[winner] != updated[position]:
            why = "a later updated_at"
        elif source_rank(winner_file) != source_rank(loser_file):
            why = "the CRM extract over another source"
        else:
            why = "the later file name"
        reason = (
            f"{DUPLICATE_REASON}: {key} {keys[position]} is also in {winner_file}, which takes precedence"
            f" ({why})"
        )
        quarantined.append(
            QuarantinedRecord(
                natural_key=str(keys[position]),
                violations=[{"field": key, "reason": reason}],
                payload=payload_json(row),
                source_file=loser_file,
            )
        )
    return combined.take(pa.array(kept)), quarantined
