"""The CRM API extracted by its declarative Airbyte source, run by PyAirbyte in its own venv.

The ingest DAG's `embedded.extract_crm` task (`extract_crm_for_run`): the run for business day D
reads every record whose `updated_at` falls in [D 00:00, D+1 00:00) Brasília time (`day_window`)
and lands it as `<lake>/raw/<entity>/dt=D/crm-0.parquet` (`landing.EXTRACT_PART`) in the contract's
Arrow schema, beside the simulator's file, so the loader and dbt read one shape whatever the
source. The reader is the CRM API through `include/airbyte/crm/manifest.yaml`, the connector any
Airbyte can run (a deployed Airbyte syncs it through the DAG's `airbyte` path instead), never SQL
on the CRM's database: this replaced the hand-written `crm_extract` (retired).

PyAirbyte cannot share Airflow's environment (it pins sqlalchemy, structlog and airbyte-api
versions Airflow's cannot take), so `include/airbyte/run_source.py` runs as a subprocess of
`.venv-airbyte/bin/python` (built by `make install` from requirements-airbyte.lock).

Airbyte state, per connection, stream and logical date. After day D the connector's state (per
stream, the latest `updated_at` read) is kept at `<lake>/airbyte/state/<connection>/dt=D/state.json`.
A run of D starts from the state of the latest day before D, never from D's own or a later one: a
rerun or a backfill of D reads exactly D's window again (the window comes from D, the state can
only move its start forward within it), and replaces D's files and D's state, so nothing is
duplicated and nothing skipped.

Soft deletes: the connector reads deleted records too (its key must be an admin key) with their
`deleted_at`. Raw keeps the Airbyte shape dbt reads and has no deletion column, so deleted records
are counted and logged, not landed; their keys are in the summary and the day's state file. What
a deletion must change downstream, the campaign takes from the CRM itself: a customer deleted
there is excluded from every campaign (`liftoff.campaign.consent.sync_crm_opt_outs`).

Failures give one line naming the stream and what to do (the runner's), and land nothing: every
stream is read and converted before the first file is written, and the state is written last.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pyarrow as pa

from liftoff import settings
from liftoff.contracts import CONTRACTS, field_shapes
from liftoff.contracts.engine import arrow_schema
from liftoff.ingest import airbyte_manifest, landing
from liftoff.ingest.landing import EXTRACT_PART

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

log = logging.getLogger(__name__)

RUNNER = settings.PROJECT_ROOT / "include" / "airbyte" / "run_source.py"
# The connection the state belongs to (one CRM API, one chain of states).
DEFAULT_CONNECTION = "crm_api"
STATE_FILE = "state.json"
# A run reads at most a day of changes; a connector still running after this is stuck.
RUN_TIMEOUT_SECONDS = 3600


class AirbyteExtractError(RuntimeError):
    """The connector failed: the message is one line naming the stream and what to do. Running it
    again may pass (the CRM API unreachable or erring)."""


class AirbyteConfigurationError(AirbyteExtractError):
    """The connector cannot run as configured (the key refused, the CRM's schema changed, no
    PyAirbyte venv): running it again unchanged cannot pass, so the task fails without retrying."""


# The runner's exit status for a failure no retry can fix (include/airbyte/run_source.py).
RUNNER_EXIT_CONFIGURATION = 3


@dataclass(frozen=True)
class AirbyteExtractSummary:
    entity: str
    logical_date: str
    window_start: str
    window_end: str
    records_extracted: int  # landed (live records)
    records_deleted: int  # soft-deleted in the window: read, counted, not landed
    landed_file: str
    state: dict[str, Any] = field(default_factory=dict)  # the stream's Airbyte state after the run
    deleted_keys: tuple[int, ...] = ()


def day_window(day: date) -> tuple[datetime, datetime]:
    """[start, end) of business day `day` (Brasília), as aware datetimes: what the run of `day` reads."""
    zone = ZoneInfo(settings.BUSINESS_TIMEZONE)
    return datetime.combine(day, time(), zone), datetime.combine(day + timedelta(days=1), time(), zone)


def airbyte_python() -> Path:
    """The interpreter of PyAirbyte's venv: LIFTOFF_AIRBYTE_PYTHON, else the project's .venv-airbyte."""
    configured = os.environ.get("LIFTOFF_AIRBYTE_PYTHON")
    return Path(configured) if configured else settings.PROJECT_ROOT / ".venv-airbyte" / "bin" / "python"


def _moment(value: datetime) -> str:
    return value.astimezone(UTC).strftime(airbyte_manifest.DATETIME_FORMAT)


def connector_config(api_url: str, api_key: str, day: date) -> dict[str, str]:
    """The source's config for business day `day`: the API and the day's half-open window."""
    start, end = day_window(day)
    return {
        "api_url": api_url.rstrip("/"),
        "api_key": api_key,
        "start_datetime": _moment(start),
        "end_datetime": _moment(end),
    }


# --- state ------------------------------------------------------------------------------------


def _state_root(lake_url: str, connection: str) -> ObjectStoragePath:
    return landing.lake_root(lake_url) / "airbyte" / "state" / connection


def state_path(lake_url: str, connection: str, day: date) -> ObjectStoragePath:
    return _state_root(lake_url, connection) / f"dt={day.isoformat()}" / STATE_FILE


def prior_state(lake_url: str, connection: str, day: date) -> tuple[date | None, list[dict[str, Any]]]:
    """The state the run of `day` starts from: the one saved by the latest day before it."""
    root = _state_root(lake_url, connection)
    if not root.exists():
        return None, []
    days = sorted(
        date.fromisoformat(child.name.removeprefix("dt="))
        for child in root.iterdir()
        if child.name.startswith("dt=") and (child / STATE_FILE).exists()
    )
    earlier = [d for d in days if d < day]
    if not earlier:
        return None, []
    saved = json.loads(state_path(lake_url, connection, earlier[-1]).read_text())
    return earlier[-1], saved["state"]


def stream_states(messages: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """{stream: its state} of Airbyte STREAM state messages."""
    return {
        m["stream"]["stream_descriptor"]["name"]: m["stream"].get("stream_state") or {}
        for m in messages
        if m.get("type") == "STREAM"
    }


# --- the run ----------------------------------------------------------------------------------


def run_connector(
    config: dict[str, str],
    state: list[dict[str, Any]],
    out_dir: Path,
    manifest: Path = airbyte_manifest.MANIFEST_PATH,
    python: Path | None = None,
) -> tuple[dict[str, list[dict[str, Any]]], list[dict[str, Any]]]:
    """Run the source once: ({stream: records}, the new state messages). AirbyteExtractError with
    the runner's one line on failure (the connector's log goes to this task's log first)."""
    python = python or airbyte_python()
    if not python.exists():
        raise AirbyteConfigurationError(
            f"PyAirbyte's venv is missing ({python}): run `make install` (it builds .venv-airbyte), "
            "or set LIFTOFF_AIRBYTE_PYTHON"
        )
    request = json.dumps({"config": config, "state": state})
    try:
        done = subprocess.run(  # our own runner; no argument comes from a user
            [str(python), str(RUNNER), str(manifest), str(out_dir)],
            input=request,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise AirbyteExtractError(
            f"the Airbyte connector ran over {RUN_TIMEOUT_SECONDS} s and was stopped: check the CRM API"
        ) from None
    if done.returncode != 0:
        connector_log = out_dir / "connector.log"
        if connector_log.exists():
            tail = connector_log.read_text(errors="replace").splitlines()[-40:]
            log.error("the Airbyte connector's log (last lines):\n%s", "\n".join(tail))
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        message = lines[-1] if lines else f"the Airbyte runner exited with {done.returncode}"
        if done.returncode == RUNNER_EXIT_CONFIGURATION:
            raise AirbyteConfigurationError(message)
        raise AirbyteExtractError(message)
    records = {}
    for path in sorted(out_dir.glob("*.jsonl")):
        with path.open(encoding="utf-8") as lines:
            records[path.stem] = [json.loads(line) for line in lines]
    new_state = json.loads((out_dir / "state.json").read_text(encoding="utf-8"))
    return records, new_state


def _typed(value: Any, python_type: type) -> Any:
    """A JSON value as the contract's Python type (moments without an offset are UTC: PyAirbyte's
    cache stores them so)."""
    if value is None or not isinstance(value, str):
        return value
    if python_type is datetime:
        moment = datetime.fromisoformat(value)
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    if python_type is date:
        return date.fromisoformat(value[:10])
    return value


def to_table(entity: str, records: list[dict[str, Any]]) -> tuple[pa.Table, tuple[int, ...]]:
    """The live records as the contract's Arrow table, and the keys of the deleted ones."""
    contract = CONTRACTS[entity]
    shapes = field_shapes(contract)
    live = [r for r in records if r.get(airbyte_manifest.DELETED_FIELD) is None]
    deleted = tuple(
        r[contract.natural_key] for r in records if r.get(airbyte_manifest.DELETED_FIELD) is not None
    )
    rows = [{name: _typed(r.get(name), shape.python_type) for name, shape in shapes.items()} for r in live]
    return pa.Table.from_pylist(rows, schema=arrow_schema(contract)), deleted


def extract_crm_day_airbyte(
    api_url: str,
    api_key: str,
    lake_url: str,
    day: date,
    *,
    connection: str = DEFAULT_CONNECTION,
    manifest: Path = airbyte_manifest.MANIFEST_PATH,
    python: Path | None = None,
) -> list[AirbyteExtractSummary]:
    """Land every entity's CRM records changed on `day`, read by the Airbyte connector, and save the
    connector's state for `day`. One summary per entity, in load order."""
    start, end = day_window(day)
    since, previous = prior_state(lake_url, connection, day)
    log.info(
        "Airbyte CRM extraction of %s: window [%s, %s), state of %s",
        day,
        start,
        end,
        since or "no earlier day",
    )
    with tempfile.TemporaryDirectory(prefix="liftoff-airbyte-") as scratch:
        records, new_state = run_connector(
            connector_config(api_url, api_key, day), previous, Path(scratch), manifest, python
        )
    # Everything converted before anything is written: a bad record lands nothing.
    tables = {entity: to_table(entity, records.get(entity, [])) for entity in CONTRACTS}
    root = landing.lake_root(lake_url)
    states = stream_states(new_state)
    summaries = []
    for entity, (table, deleted) in tables.items():
        path = landing.write_partition(root, entity, day, table, part_name=EXTRACT_PART)
        if deleted:
            log.warning(
                "%s: %d soft-deleted CRM records on %s are not landed (raw has no deletion column): %s",
                *(entity, len(deleted), day, ", ".join(map(str, deleted))),
            )
        log.info(
            "%s %s: %d records landed at %s; state %s", entity, day, table.num_rows, path, states.get(entity)
        )
        summaries.append(
            AirbyteExtractSummary(
                entity=entity,
                logical_date=day.isoformat(),
                window_start=start.isoformat(),
                window_end=end.isoformat(),
                records_extracted=table.num_rows,
                records_deleted=len(deleted),
                landed_file=str(path),
                state=states.get(entity, {}),
                deleted_keys=deleted,
            )
        )
    saved = {
        "connection": connection,
        "logical_date": day.isoformat(),
        "window": [start.isoformat(), end.isoformat()],
        "started_from": since.isoformat() if since else None,
        "extracted_at": datetime.now(UTC).isoformat(),
        "records": {s.entity: s.records_extracted + s.records_deleted for s in summaries},
        # Not landed (raw has no deletion column): kept here, with the day they were read.
        "deleted_keys": {s.entity: list(s.deleted_keys) for s in summaries if s.deleted_keys},
        "state": new_state,
    }
    landing.write_whole_file(state_path(lake_url, connection, day), json.dumps(saved, indent=1).encode())
    return summaries


def extract_crm_for_run(endpoint: tuple[str, str] | None, lake_url: str, day: date) -> dict[str, Any]:
    """The ingest DAG's CRM extraction of `day`: every stream in one connector run (one PyAirbyte
    process reads them all), each entity's file landed for its `load_<entity>`. `endpoint` is the
    `crm_api` connection's (URL, key) (`liftoff.connections.crm_api_endpoint`); without one nothing is
    read and the reason is logged and returned. A failure raises AirbyteExtractError: its message,
    one line naming the stream, is the task's error; AirbyteConfigurationError when a retry cannot
    pass (the DAG then fails the task at once)."""
    if endpoint is None:
        reason = f"no `{settings.CRM_API_CONN_ID}` connection: the CRM API is not extracted"
        log.info("%s (set it to the API's URL and an admin key to extract the CRM)", reason)
        return {"logical_date": day.isoformat(), "extracted_by": None, "skipped": reason, "entities": {}}
    url, key = endpoint
    try:
        summaries = extract_crm_day_airbyte(url, key, lake_url, day)
    except AirbyteExtractError as error:
        log.error("the Airbyte connector failed to extract the CRM for %s: %s", day, error)
        raise
    return {
        "logical_date": day.isoformat(),
        "extracted_by": "airbyte connector (PyAirbyte)",
        "skipped": None,
        "entities": {
            s.entity: {
                "records_extracted": s.records_extracted,
                "records_deleted": s.records_deleted,
                "landed_file": s.landed_file,
                "state": s.state,
            }
            for s in summaries
        },
    }
