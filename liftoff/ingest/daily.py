"""Ingestion of one (entity, logical date), callable from a task or a test.

Embedded path: the CRM simulator lands the day's Parquet in the landing zone; the loader checks
every record against its contract and replaces the raw partition, keeping the invalid records in
raw.quarantine with their reasons. Nothing is dropped: records in = loaded + quarantined, checked
on every load.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from functools import partial

import pyarrow as pa

from liftoff import settings
from liftoff.contracts import CONTRACTS
from liftoff.contracts.engine import (
    Conformed,
    ValidationContext,
    ValidationOutcome,
    arrow_schema,
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
    entity: str, batch: pa.Table | Conformed, day: date, known: Mapping[str, pa.Array], source: str
) -> ValidationOutcome:
    """Validate a day's batch. A contract that references its own entity (an employee's manager)
    also accepts keys of this batch, as long as those records are valid themselves."""
    contract = CONTRACTS[entity]
    as_of = end_of_day(day, settings.BUSINESS_TIMEZONE)
    table = conform(contract, batch, source)  # once: the loop below validates it again and again
    if entity not in known:
        return validate_table(contract, table, ValidationContext(as_of, known), source)
    keys = table.table.column(contract.natural_key)
    batch_keys = keys.combine_chunks() if table.num_rows else pa.array([], pa.int64())
    while True:
        references = {**known, entity: pa.concat_arrays([known[entity], batch_keys.cast(pa.int64())])}
        outcome = validate_table(contract, table, ValidationContext(as_of, references), source)
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


def load_landed_day(dsn: str, lake_url: str, entity: str, day: date, run_id: str) -> LoadSummary:
    """Validate every landed file of (entity, day) and replace the raw partition with the result.

    A key valid in several files loads once, by the precedence of liftoff/ingest/key_precedence.py."""
    root = landing.lake_root(lake_url)
    files = landing.partition_files(root, entity, day)
    if not files:
        raise MissingPartitionError(
            f"no landed file for {entity} on {day.isoformat()} in {landing.partition_dir(root, entity, day)}"
        )
    loader.ensure_raw_tables(dsn)
    valid_parts: list[FileRecords] = []
    quarantined: list[QuarantinedRecord] = []
    records_in = unreadable = 0
    with ThreadPoolExecutor(max_workers=3, thread_name_prefix="reference-keys") as pool:
        for path in files:
            try:
                table = landing.read_file(path)
            except (pa.ArrowInvalid, OSError) as error:
                # An unreadable file is quarantined whole; the other files of the day still load.
                log.warning("quarantining unreadable file %s: %s", path, error)
                unreadable += 1
                reason = {"field": "<file>", "reason": f"unreadable Parquet: {error}"}
                quarantined.append(QuarantinedRecord(None, [reason], None, str(path)))
                continue
            # Schema drift fails here, naming the columns; a value of the wrong type only fails its record.
            conformed = conform(CONTRACTS[entity], table, str(path))
            known = reference_keys(dsn, entity, conformed, pool)
            outcome = validate_batch(entity, conformed, day, known, source=str(path))
            records_in += outcome.rows_in
            valid_parts.append(FileRecords(str(path), outcome.valid))
            quarantined.extend(quarantine_records(entity, outcome, str(path)))
    if valid_parts:
        # A key in two files of the day (simulator and CRM extract): one wins, the others are
        # quarantined naming it (see liftoff/ingest/key_precedence.py).
        valid, duplicates = keep_one_per_key(entity, valid_parts)
        quarantined.extend(duplicates)
    else:
        valid = arrow_schema(CONTRACTS[entity]).empty_table()
    quarantined_records = len(quarantined) - unreadable
    if records_in != valid.num_rows + quarantined_records:
        raise loader.ReconciliationError(
            f"{entity} {day}: {records_in} records in but {valid.num_rows} valid"
            f" + {quarantined_records} quarantined"
        )
    result = loader.replace_partition(dsn, entity, day, valid, quarantined, run_id)
    summary = LoadSummary(
        entity=entity,
        logical_date=day.isoformat(),
        files=len(files),
        files_unreadable=unreadable,
        records_in=records_in,
        records_loaded=result.rows_loaded,
        records_quarantined=quarantined_records,
        records_replaced=result.rows_replaced,
    )
    log.info("%s", summary.line())
    return summary


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
