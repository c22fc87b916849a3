"""Run a declarative Airbyte source with PyAirbyte, from PyAirbyte's own venv (`.venv-airbyte`).

Called as a subprocess by the Airflow side (`liftoff/ingest/airbyte_extract.py`): PyAirbyte pins
versions Airflow cannot share, so this file imports only the standard library and `airbyte`, and
sits in include/ where the Airflow image carries it too.

    .venv-airbyte/bin/python include/airbyte/run_source.py MANIFEST OUT_DIR < request.json

The request on stdin is `{"config": {...}, "state": [AirbyteStateMessage, ...]}` (stdin, not a
file or an argument, so the API key is never written to disk nor shown by `ps`). Every stream is
read into a private DuckDB cache seeded with the prior state (PyAirbyte's public `read`); then, for
each stream, `OUT_DIR/<stream>.jsonl` (one record a line, the stream's declared fields) and at the
end `OUT_DIR/state.json` (the new per-stream Airbyte state messages) are written. The caller
reads the files only when the exit status is 0.

On failure: ONE line on stderr, `stream <name>: <what> (<what to do>)`, never a traceback, no
state file (so the caller keeps the prior state), and exit status 1 when a retry may pass (the API
unreachable or erring) or 3 when it cannot (the key refused, the CRM's schema changed). A record
that lacks a field its stream requires, or carries one the stream does not declare, is the CRM's
schema changing under the connector: it fails the run the same way rather than land half a record.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

SOURCE_NAME = "source-liftoff-crm"
STATE_FILE = "state.json"
LOG_FILE = "connector.log"
# Columns PyAirbyte's cache adds to every record (airbyte.constants): not the source's.
CACHE_COLUMNS = ("_airbyte_raw_id", "_airbyte_extracted_at", "_airbyte_meta")


# Exit statuses: a failure a retry may fix (the API unreachable or erring) or one it cannot (the
# key refused, the CRM's schema changed): the ingest task retries only the first kind.
EXIT_MAY_PASS_ON_RETRY = 1
EXIT_CONFIGURATION = 3


class RunFailed(Exception):
    """One line for the caller: which stream, what happened, what to do; `retryable` says whether
    running again unchanged could succeed."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


def _isolate(work: Path) -> None:
    """PyAirbyte writes caches, logs and temporary files under the working directory by default and
    asks the internet for a connector registry and telemetry: all of it goes to `work`, offline."""
    for name, value in {
        "AIRBYTE_OFFLINE_MODE": "1",
        "DO_NOT_TRACK": "1",
        "AIRBYTE_PROJECT_DIR": str(work),
        "AIRBYTE_CACHE_ROOT": str(work / "cache"),
        "AIRBYTE_LOGGING_ROOT": str(work / "logs"),
        "AIRBYTE_TEMP_DIR": str(work / "tmp"),
        "NO_LIVE_PROGRESS": "1",
    }.items():
        os.environ.setdefault(name, value)
    (work / "tmp").mkdir(parents=True, exist_ok=True)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() and "." not in str(value) else float(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def _schema_errors(stream: str, schema: dict[str, Any], sent: list[str], rows: list[dict[str, Any]]) -> None:
    """Refuse records whose fields are not the stream's: a field the CRM API added (`sent`: the
    fields of a record as the API sent it) or one it no longer sends (a required field null)."""
    extra = sorted(set(sent) - set(schema.get("properties", {})))
    if extra:
        raise RunFailed(
            f"stream {stream}: the CRM API sends field(s) the connector does not declare: {', '.join(extra)} "
            "(the CRM's schema changed: add them to the contract in liftoff/contracts/entities.py and run "
            "`python -m liftoff.ingest.airbyte_manifest`)",
            retryable=False,
        )
    for name in schema.get("required", []):
        missing = sum(1 for row in rows if row.get(name) is None)
        if missing:
            raise RunFailed(
                f"stream {stream}: {missing} of {len(rows)} record(s) lack the required field {name} "
                "(the CRM's schema changed: the API no longer sends it; update the contract in "
                "liftoff/contracts/entities.py and run `python -m liftoff.ingest.airbyte_manifest`)",
                retryable=False,
            )


def _fields_sent(source: Any, stream: str) -> list[str]:
    """The fields of the stream's first record as the API sends it. PyAirbyte's cache keeps only
    the declared fields, so a field the CRM added is seen here, by reading one record unpruned."""
    # Held while iterated: a LazyDataset stops its read when it is garbage-collected.
    dataset = source.get_records(stream, prune_undeclared_fields=False)
    try:
        first = next(iter(dataset), None)
    finally:
        dataset.close()  # one record is enough: stop reading
    return [] if first is None else [name for name in first if name not in CACHE_COLUMNS]


def _messages(error: BaseException) -> list[str]:
    """The messages along an exception's chain, outermost first: PyAirbyte wraps the connector's
    own error (its TRACE message: the manifest's error_message for 401 and 403, the HTTP error
    otherwise) in generic ones ("Connector failed.")."""
    found, seen = [], set()
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop(0)
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        message = getattr(current, "message", None) or str(current)
        found.append(" ".join(str(message).split()))
        pending += [getattr(current, "original_exception", None), current.__cause__, current.__context__]
    return found


UNREACHABLE = (
    "Connection refused",
    "Failed to establish a new connection",
    "Max retries exceeded",
    "Name or service not known",
    "timed out",
)


def _failure(stream: str, error: BaseException, api_url: str | None) -> RunFailed:
    """What went wrong reading `stream` and what to do, in one line; a refused key is not retryable."""
    messages = _messages(error)
    text = " ".join(messages)
    if any(sign in text for sign in UNREACHABLE):
        return RunFailed(
            f"stream {stream}: the CRM API at {api_url} is unreachable: check that it runs and the "
            "crm_api connection's host, then rerun the task"
        )
    key_advice = "set a live admin key in the crm_api connection (make crm-api-key NAME=airbyte SCOPE=admin)"
    status = re.search(r"status code\W*(\d{3})|\((\d{3})\b", text)
    code = next((group for group in status.groups() if group), None) if status else None
    if code == "401":
        return RunFailed(
            f"stream {stream}: the CRM API refused the API key (401): {key_advice}", retryable=False
        )
    if code == "403":
        return RunFailed(
            f"stream {stream}: the API key is not an admin key (403: it cannot list deleted records): "
            f"{key_advice}",
            retryable=False,
        )
    specific = [m for m in messages if m and not m.startswith("Connector failed")]
    return RunFailed(f"stream {stream}: {(specific[0] if specific else messages[0])[:400]}")


def _hand_the_state_to_the_cdk(source: Any, state: list[dict[str, Any]]) -> None:
    """Give the connector its state where the airbyte-cdk 7 reads it: when the source is built.

    PyAirbyte 0.71.3's DeclarativeExecutor builds the CDK's ConcurrentDeclarativeSource with the
    config only, and that source ignores the state its `read` is handed (airbytehq/PyAirbyte#1164,
    open): every sync read its whole window from `start_datetime`, whatever the state said. This
    builds the source as that fix does; drop it with the PyAirbyte release that carries the fix
    (tests/ingest/test_airbyte_source.py's deployed-sync test fails if the state is ignored again).
    """
    from airbyte_cdk.models import AirbyteStateMessageSerializer
    from airbyte_cdk.sources.declarative.concurrent_declarative_source import ConcurrentDeclarativeSource

    executor = source.executor
    messages = [AirbyteStateMessageSerializer.load(message) for message in state]

    def build(config: dict[str, Any] | None = None) -> ConcurrentDeclarativeSource:
        return ConcurrentDeclarativeSource(
            config={**executor._config_dict, **(config or {})},
            source_config=executor._manifest_dict,
            state=messages,
        )

    executor._build_declarative_source = build


def run(manifest: Path, out_dir: Path, request: dict[str, Any]) -> dict[str, int]:
    """Read every stream of `manifest`; write the records and the new state under `out_dir`."""
    work = Path(tempfile.mkdtemp(prefix="airbyte-", dir=out_dir))
    _isolate(work)
    import airbyte as ab
    from airbyte.caches import DuckDBCache
    from airbyte_protocol.models import AirbyteStateMessage

    source = ab.get_source(SOURCE_NAME, config=request["config"], source_manifest=manifest)
    _hand_the_state_to_the_cdk(source, request.get("state") or [])
    streams = source.get_available_streams()
    cache = DuckDBCache(db_path=work / "cache.duckdb", schema_name="main")
    writer = cache.get_state_writer(source_name=source.name)
    for message in request.get("state") or []:
        writer.write_state(AirbyteStateMessage.model_validate(message))
    # One stream at a time, in the manifest's order (referenced entities first): a failure names its
    # stream, and nothing is written until every stream has been read.
    for stream in streams:
        try:
            source.read(cache=cache, streams=[stream], write_strategy="append")
        except Exception as error:  # every failure becomes one line
            raise _failure(stream, error, request["config"].get("api_url")) from None
    counts = {}
    for stream in streams:
        schema = source.get_stream_json_schema(stream)
        rows = [dict(row) for row in cache.get_records(stream)] if stream in cache.streams else []
        sent = _fields_sent(source, stream) if rows else []
        _schema_errors(stream, schema, sent, rows)
        fields = list(schema["properties"])
        with (out_dir / f"{stream}.jsonl").open("w", encoding="utf-8") as out:
            for row in rows:
                out.write(json.dumps({name: row.get(name) for name in fields}, default=_jsonable) + "\n")
        counts[stream] = len(rows)
    provider = cache.get_state_provider(source_name=source.name, refresh=True)
    state = [json.loads(m.model_dump_json(exclude_none=True)) for m in provider.state_message_artifacts]
    (out_dir / STATE_FILE).write_text(json.dumps(state), encoding="utf-8")
    return counts


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print('usage: run_source.py MANIFEST OUT_DIR < {"config": {...}, "state": [...]}', file=sys.stderr)
        return 2
    manifest, out_dir = Path(argv[0]), Path(argv[1])
    request = json.load(sys.stdin)
    # PyAirbyte and the CDK print progress, warnings and errors on stdout and stderr: all of it goes
    # to OUT_DIR/connector.log (the caller copies it to the task log); stdout and stderr keep only
    # this runner's answer.
    answer_out, answer_err = os.fdopen(os.dup(1), "w"), os.fdopen(os.dup(2), "w")
    with (out_dir / LOG_FILE).open("w") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
    try:
        counts = run(manifest, out_dir, request)
    except RunFailed as failure:
        print(" ".join(str(failure).split()), file=answer_err, flush=True)
        return EXIT_MAY_PASS_ON_RETRY if failure.retryable else EXIT_CONFIGURATION
    except Exception as error:  # a bug here, or a manifest the CDK refuses: one line too
        line = " ".join(str(error).split())[:400]
        print(f"stream ?: the runner failed: {type(error).__name__}: {line}", file=answer_err, flush=True)
        return EXIT_MAY_PASS_ON_RETRY
    print(json.dumps({"records": counts}), file=answer_out, flush=True)
    return 0


if __name__ == "__main__":
    status = main(sys.argv[1:])
    # Exit now: a connector thread PyAirbyte leaves behind (the one-record read of _fields_sent,
    # stopped while its producer still has pages to hand over) would otherwise keep the process alive.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
