"""Ingestion of one (entity, logical date), callable from a task or a test.

Embedded path: the CRM simulator lands the day's Parquet in the landing zone; the loader checks
every record against its contract and replaces the raw partition, keeping the invalid records in
raw.quarantine with their reasons. Nothing is dropped: records in = loaded + quarantined, checked
on every load.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from functools import partial

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from liftoff import settings
from liftoff.contracts import CONTRACTS
from liftoff.contracts.engine import (
    Conformed,
    KeysSeen,
    ValidationContext,
    ValidationOutcome,
    arrow_schema,
    check_schema,
    conform,
    end_of_day,
    payload_json,
    typed,
    validate_table,
)
from liftoff.ingest import landing, loader, simulator
from liftoff.ingest.key_precedence import FileRecords, keep_one_per_key
from liftoff.ingest.loader import QuarantinedRecord

log = logging.getLogger(__name__)


class MissingPartitionError(FileNotFoundError):
    """No landed file for (entity, day); the message names where it was expected."""


@dataclass(frozen=True)
class LoadSummary:
    entity: str
    logical_date: str
    files: int
    files_unreadable: int
    records_in: int
    records_loaded: int
    records_quarantined: int
    records_replaced: int

    def line(self) -> str:
        return (
            f"{self.entity} {self.logical_date}: {self.records_in} in = {self.records_loaded} loaded"
            f" + {self.records_quarantined} quarantined"
            f" ({self.files} files, {self.files_unreadable} unreadable)"
        )


def land_simulated_day(
    lake_url: str, entity: str, day: date, config: simulator.SimulatorConfig, full_refresh: bool = False
) -> str:
    """Simulate `entity`'s activity on `day` and land it as Parquet; returns the file's URL.

    With `full_refresh`, dimension entities land their whole state as of `day` (a first sync).
    """
    if full_refresh and entity != "sales":
        table = simulator.snapshot(entity, day, config)
    else:
        table = simulator.activity(entity, day, config)
    path = landing.write_partition(landing.lake_root(lake_url), entity, day, table)
    return str(path)


def reference_keys(
    dsn: str, entity: str, batch: pa.Table | Conformed, pool: ThreadPoolExecutor | None = None
) -> Mapping[str, pa.Array]:
    """The keys `batch` references that exist in raw, per referenced entity.

    With a thread pool the lookups run in the background (the database works while Python checks
    the batch's fields) and a key set is only waited for when a reference rule needs it.
    """
    contract = CONTRACTS[entity]
    table = typed(batch)
    lookups: dict[str, list[Callable[[], pa.Array]]] = {}
    for reference in contract.references:
        if reference.field not in table.column_names:
            continue  # schema drift: reported by the contract check with the column names
        candidates = table.column(reference.field).combine_chunks()
        target_key = CONTRACTS[reference.entity].natural_key
        lookups.setdefault(reference.entity, []).append(
            partial(loader.known_keys, dsn, reference.entity, target_key, candidates)
        )

    def fetch(functions: list[Callable[[], pa.Array]]) -> pa.Array:
        return pa.concat_arrays([function() for function in functions])

    if pool is None:
        return {name: fetch(functions) for name, functions in lookups.items()}
    return _PendingKeys({name: pool.submit(fetch, functions) for name, functions in lookups.items()})


class _PendingKeys(Mapping[str, pa.Array]):
    """Reference keys still being fetched: reading one waits for it."""

    def __init__(self, futures: dict[str, Future[pa.Array]]) -> None:
        self._futures = futures

    def __getitem__(self, name: str) -> pa.Array:
        return self._futures[name].result()

    def __iter__(self) -> Iterator[str]:
        return iter(self._futures)

    def __len__(self) -> int:
        return len(self._futures)


def validate_batch(
    entity: str,
    batch: pa.Table | Conformed,
    day: date,
    known: Mapping[str, pa.Array],
    source: str,
    earlier_keys: KeysSeen | None = None,
) -> ValidationOutcome:
    """Validate a day's batch. A contract that references its own entity (an employee's manager)
    also accepts keys of this batch, as long as those records are valid themselves.

    `earlier_keys`: the keys of the same file's earlier batches, when a file is read batch by batch
    (a key met in an earlier batch is a repeat, as within one batch)."""
    contract = CONTRACTS[entity]
    as_of = end_of_day(day, settings.BUSINESS_TIMEZONE)
    table = conform(contract, batch, source)  # once: the loop below validates it again and again
    if entity not in known:
        return validate_table(contract, table, ValidationContext(as_of, known, earlier_keys), source)
    keys = table.table.column(contract.natural_key)
    batch_keys = keys.combine_chunks() if table.num_rows else pa.array([], pa.int64())
    while True:
        references = {**known, entity: pa.concat_arrays([known[entity], batch_keys.cast(pa.int64())])}
        outcome = validate_table(contract, table, ValidationContext(as_of, references, earlier_keys), source)
        valid_keys = outcome.valid.column(contract.natural_key).combine_chunks()
        if len(valid_keys) == len(batch_keys):
            return outcome
        batch_keys = valid_keys


NATURAL_KEY_LIMIT = 200  # characters of a natural key kept in its column; the payload keeps it all


def quarantine_records(entity: str, outcome: ValidationOutcome, source: str) -> list[QuarantinedRecord]:
    """The invalid records of a validated batch as quarantine entries, payload as received."""
    key = CONTRACTS[entity].natural_key
    return [
        QuarantinedRecord(
            natural_key=natural_key_text(row.get(key)),
            violations=[{"field": v.field, "reason": v.reason} for v in violations],
            payload=payload_json(row),
            source_file=source,
        )
        for row, violations in zip(outcome.payloads(), outcome.violations, strict=True)
    ]


def natural_key_text(value: object) -> str | None:
    """A received key as the quarantine's text column holds it: a hostile key (text, NUL, a
    megabyte) is cut to `NATURAL_KEY_LIMIT` characters and its NUL written as `\\u0000`."""
    if value is None:
        return None
    text = str(value).replace("\x00", "\\u0000")
    return text if len(text) <= NATURAL_KEY_LIMIT else text[:NATURAL_KEY_LIMIT] + "…"


BATCH_ROWS = 100_000  # records read, checked and COPYed at a time from a landed file


def load_landed_day(dsn: str, lake_url: str, entity: str, day: date, run_id: str) -> LoadSummary:
    """Validate every landed file of (entity, day) and replace the raw partition with the result.

    A key valid in several files loads once, by the precedence of liftoff/ingest/key_precedence.py.

    Memory does not grow with the day: the day's largest file is streamed, `BATCH_ROWS` records at
    a time, read, checked and COPYed while the next batch is read (one transaction for the whole
    partition). The day's other files (the CRM extract beside the simulator's file) are read whole
    and checked first; a record of the streamed file whose key is valid in one of them is held back
    until every file is checked, then the precedence decides. So what is held is the smaller files
    and the keys they share with the large one, plus 8 bytes per key of the streamed file (repeats
    within a file). A contract that references its own entity (an employee's manager) is checked a
    file at a time, since a record may reference any other record of its file.
    """
    root = landing.lake_root(lake_url)
    files = landing.partition_files(root, entity, day)
    if not files:
        raise MissingPartitionError(
            f"no landed file for {entity} on {day.isoformat()} in {landing.partition_dir(root, entity, day)}"
        )
    loader.ensure_raw_tables(dsn)
    contract = CONTRACTS[entity]
    quarantined: list[QuarantinedRecord] = []
    unreadable: list[str] = []

    def unreadable_file(path: object, error: BaseException) -> None:
        # An unreadable file is quarantined whole; the other files of the day still load.
        log.warning("quarantining unreadable file %s: %s", path, error)
        unreadable.append(str(path))
        reason = {"field": "<file>", "reason": f"unreadable Parquet: {error}"}
        quarantined.append(QuarantinedRecord(None, [reason], None, str(path)))

    opened: list[tuple[str, pq.ParquetFile]] = []
    with contextlib.ExitStack() as stack:
        for path in files:
            try:
                parquet = stack.enter_context(landing.open_file(path))
            except (pa.ArrowInvalid, OSError) as error:
                unreadable_file(path, error)
                continue
            # Schema drift fails here, naming the columns; a value of the wrong type only fails its record.
            check_schema(contract, parquet.schema_arrow.empty_table(), str(path))
            opened.append((str(path), parquet))
        streamed = max(opened, key=lambda item: item[1].metadata.num_rows, default=None)
        whole = not _streams(entity)
        records_in = 0
        held: list[FileRecords] = []
        with ThreadPoolExecutor(max_workers=3, thread_name_prefix="reference-keys") as pool:
            for item in opened:
                if item is streamed:
                    continue
                path, parquet = item
                checked = _CheckedFile(dsn, entity, day, path, parquet, pool, whole=True)
                try:
                    valid = pa.concat_tables(list(checked.valid_batches()))
                except UnreadableFileError as error:
                    unreadable_file(path, error)
                    continue
                records_in += checked.records_in
                quarantined.extend(checked.quarantined)
                held.append(FileRecords(path, valid))
            contested = _sorted_keys([part.records.column(contract.natural_key) for part in held])
            with loader.open_partition(dsn, entity, day) as partition:
                if streamed is not None:
                    path, parquet = streamed
                    checked = _CheckedFile(
                        dsn, entity, day, path, parquet, pool, whole=whole, contested=contested
                    )
                    try:
                        with partition.savepoint():
                            partition.copy(checked.valid_batches())
                    except UnreadableFileError as error:  # broken part-way: its rows are undone
                        unreadable_file(path, error)
                    else:
                        records_in += checked.records_in
                        quarantined.extend(checked.quarantined)
                        if held:
                            held.append(FileRecords(path, checked.held_back()))
                if held:
                    # A key in two files of the day (simulator and CRM extract): one wins, the others are
                    # quarantined naming it (see liftoff/ingest/key_precedence.py).
                    valid, duplicates = keep_one_per_key(entity, held)
                    quarantined.extend(duplicates)
                    partition.copy([valid])
                quarantined_records = len(quarantined) - len(unreadable)
                if records_in != partition.rows_loaded + quarantined_records:
                    raise loader.ReconciliationError(
                        f"{entity} {day}: {records_in} records in but {partition.rows_loaded} loaded"
                        f" + {quarantined_records} quarantined"
                    )
                result = partition.finish(quarantined, run_id)
    summary = LoadSummary(
        entity=entity,
        logical_date=day.isoformat(),
        files=len(files),
        files_unreadable=len(unreadable),
        records_in=records_in,
        records_loaded=result.rows_loaded,
        records_quarantined=quarantined_records,
        records_replaced=result.rows_replaced,
    )
    log.info("%s", summary.line())
    return summary


def _streams(entity: str) -> bool:
    """Whether a file of `entity` may be checked batch by batch: not when its contract references
    its own entity (a manager may be any employee of the file)."""
    return all(reference.entity != entity for reference in CONTRACTS[entity].references)


def _sorted_keys(columns: list[pa.ChunkedArray]) -> np.ndarray:
    """The distinct non-null keys of `columns`, sorted (for a vectorised membership test)."""
    arrays = [column.drop_null().cast(pa.int64()).to_numpy() for column in columns]
    return np.unique(np.concatenate(arrays)) if arrays else np.empty(0, np.int64)


class UnreadableFileError(Exception):
    """A landed file could not be read (part-way through, too): it is quarantined whole."""


class _CheckedFile:
    """One landed file read and checked batch by batch: `valid_batches()` yields the valid records
    of each batch and keeps the count, the quarantine entries and the records held back (valid, with
    a key in `contested`: another file of the day has it, so the precedence decides later)."""

    def __init__(
        self,
        dsn: str,
        entity: str,
        day: date,
        path: str,
        parquet: pq.ParquetFile,
        pool: ThreadPoolExecutor,
        whole: bool,
        contested: np.ndarray | None = None,
    ) -> None:
        self.dsn, self.entity, self.day, self.path = dsn, entity, day, path
        self.parquet, self.pool, self.whole = parquet, pool, whole
        self.contested = contested if contested is not None and len(contested) else None
        self.records_in = 0
        self.quarantined: list[QuarantinedRecord] = []
        self._held: list[pa.Table] = []
        self._seen = KeysSeen()

    def _tables(self) -> Iterator[pa.Table]:
        """The file's records, a batch at a time (or whole); a read that fails raises UnreadableFile."""
        try:
            if self.whole:
                yield self.parquet.read()
                return
            # A reader per row group: one reader over them all keeps buffers of every row group it
            # has passed (measured: +30 MB per million rows), so memory would grow with the file.
            for group in range(self.parquet.metadata.num_row_groups):
                for batch in self.parquet.iter_batches(batch_size=BATCH_ROWS, row_groups=[group]):
                    yield pa.Table.from_batches([batch])
        except (pa.ArrowInvalid, OSError) as error:
            raise UnreadableFileError(str(error)) from error

    def valid_batches(self) -> Iterator[pa.Table]:
        """The valid records, batch by batch. The next batch is read and its reference keys are
        asked for (in the pool) before the current one is checked, so the database and the file
        work while Python checks."""
        contract = CONTRACTS[self.entity]
        pending: tuple[Conformed, Mapping[str, pa.Array]] | None = None
        for table in self._tables():
            conformed = conform(contract, table, self.path)
            known = reference_keys(self.dsn, self.entity, conformed, self.pool)
            if pending is not None:
                yield self._check(*pending)
            pending = (conformed, known)
        if pending is not None:
            yield self._check(*pending)

    def _check(self, conformed: Conformed, known: Mapping[str, pa.Array]) -> pa.Table:
        key = CONTRACTS[self.entity].natural_key
        earlier = None if self.whole else self._seen
        outcome = validate_batch(self.entity, conformed, self.day, known, self.path, earlier_keys=earlier)
        if not self.whole:
            self._seen.add(conformed.table.column(key))
        self.records_in += outcome.rows_in
        self.quarantined.extend(quarantine_records(self.entity, outcome, self.path))
        valid = outcome.valid
        if self.contested is None or not valid.num_rows:
            return valid
        keys = valid.column(key).cast(pa.int64()).to_numpy()
        at = np.searchsorted(self.contested, keys).clip(max=len(self.contested) - 1)
        shared = self.contested[at] == keys
        if shared.any():
            self._held.append(valid.filter(pa.array(shared)))
            valid = valid.filter(pa.array(~shared))
        return valid

    def held_back(self) -> pa.Table:
        """The valid records held back, a table with the valid records' schema (maybe empty)."""
        if self._held:
            return pa.concat_tables(self._held)
        return arrow_schema(CONTRACTS[self.entity]).with_metadata(None).empty_table()


# --- configuration of the path and the run's summary --------------------------------------------

INGEST_MODES = ("embedded", "airbyte")
MODE_VARIABLE = "liftoff_ingest_mode"
CONNECTIONS_VARIABLE = "liftoff_airbyte_connections"


def choose_ingest_mode(params: dict, variable: str | None = None) -> str:
    """The run's path: the `ingest_mode` Param, else the Variable, else `embedded`; logged once."""
    if variable is None and not params.get("ingest_mode"):
        from airflow.sdk import Variable

        variable = Variable.get(MODE_VARIABLE, default=None)
    mode = params.get("ingest_mode") or variable or "embedded"
    if mode not in INGEST_MODES:
        raise ValueError(f"ingest mode {mode!r} is not one of {', '.join(INGEST_MODES)} (Param ingest_mode "
                         f"or Variable {MODE_VARIABLE})")  # fmt: skip
    described = {
        "embedded": "embedded CRM simulator → landing zone → contract check → raw (COPY)",
        "airbyte": "Airbyte sync of the configured connections → contract check of the synced rows",
    }[mode]
    log.info("ingest path: %s (%s)", mode, described)
    return mode


def airbyte_connection_ids(params: dict, variable: str | None = None) -> list[str]:
    """Connection ids from the `airbyte_connection_ids` Param, else the Variable (a JSON list)."""
    import json

    ids = list(params.get("airbyte_connection_ids") or [])
    if not ids:
        if variable is None:
            from airflow.sdk import Variable

            variable = Variable.get(CONNECTIONS_VARIABLE, default="[]")
        ids = json.loads(variable)
    if not ids:
        raise ValueError(
            f"airbyte mode needs connection ids: set the airbyte_connection_ids Param or the "
            f"{CONNECTIONS_VARIABLE} Variable (a JSON list of Airbyte connection ids)"
        )
    return [str(i) for i in ids]


def log_run_summary(summaries: list[dict | None]) -> dict:
    """Log one line per entity and return the day's totals; skipped branches give None."""
    done = [LoadSummary(**summary) for summary in summaries if summary]
    for summary in done:
        log.info("%s", summary.line())
    totals = {
        "records_in": sum(s.records_in for s in done),
        "records_loaded": sum(s.records_loaded for s in done),
        "records_quarantined": sum(s.records_quarantined for s in done),
        "files_unreadable": sum(s.files_unreadable for s in done),
        "entities": {s.entity: s.records_loaded for s in done},
    }
    log.info(
        "day total: %d in = %d loaded + %d quarantined",
        totals["records_in"], totals["records_loaded"], totals["records_quarantined"],
    )  # fmt: skip
    return totals
