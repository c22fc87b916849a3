"""
### Ingest CRM activity

Brings one day of CRM activity into the warehouse's raw tables, checked against the data contracts
(`liftoff/contracts/entities.py`): invalid records go to `raw.quarantine` with their reasons, never dropped,
and every load reconciles *records in = loaded + quarantined*.

Two paths, chosen by the `ingest_mode` Param or the `liftoff_ingest_mode` Variable (default
`embedded`), logged in one line by `choose_path`:

* **embedded** (the simulator source): the built-in CRM simulator lands Parquet per entity in the
  landing zone (`LIFTOFF_LAKE_URL`: a local folder, or S3/MinIO through the `lake` connection); what
  it generates (seed, sales per day, share of bad records) is configuration, the
  `liftoff_simulator` Variable (JSON, see `liftoff/ingest/sources.py`), not Params of this DAG,
  read when the landing task runs. The records entered through the CRM API land too: the ones
  that changed that day, read by the CRM API's Airbyte connector (`include/airbyte/crm/manifest.yaml`)
  run by PyAirbyte in its own venv (`extract_crm`: one connector run reads every stream and lands
  each entity's file, with the Airbyte state kept per day; the `crm_api` connection gives the URL
  and an admin key, and without it the extraction is skipped, saying so). Each `load_<entity>`
  waits for its simulated file and for the extraction; the loader then validates both and COPYs
  them into `raw.<entity>`, replacing that date's partition.
* **airbyte**: triggers a sync of each configured Airbyte connection (`airbyte_connection_ids`
  Param or the `liftoff_airbyte_connections` Variable, a JSON list) through the `airbyte`
  connection, waits with a deferrable sensor, then checks the synced rows against the contracts
  and moves the invalid ones to the quarantine.

One run per business day (Brasília calendar), addressed by the day's date: day D's run has the
logical date D 00:00 UTC and starts at 01:00 in Brasília on D+1, once the day is over
(`liftoff.orchestration.timetables.BusinessDayTimetable`). So
`airflow dags trigger ingest_crm --logical-date 2026-11-28` processes 2026-11-28, and
`airflow backfill create --dag-id ingest_crm --from-date 2026-11-01 --to-date 2026-11-07` runs
every day from the 1st to the 7th, both included. Each run processes its logical day only, so
reruns and backfills are safe. Runs go one at a time, in date order, because a day's sales
reference the customers the day before created.
Emits one Asset per raw table; the transform DAG runs when all of them have news.
"""

from __future__ import annotations

from datetime import time

from airflow.providers.airbyte.operators.airbyte import AirbyteTriggerSyncOperator
from airflow.providers.airbyte.sensors.airbyte import AirbyteJobSensor
from airflow.sdk import Param, TaskGroup, dag, task
from airflow.sdk.exceptions import AirflowSkipException

from liftoff.orchestration import (
    DEFAULT_ARGS,
    ENTITIES,
    LOAD_AFTER,
    PAUSE_NOTE,
    START_DATE,
    TIMEZONE,
    raw_asset,
)
from liftoff.orchestration.timetables import BusinessDayTimetable


@dag(
    schedule=BusinessDayTimetable(timezone=TIMEZONE, run_at=time(1)),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    max_consecutive_failed_dag_runs=5,
    default_args=DEFAULT_ARGS,
    doc_md=__doc__ + PAUSE_NOTE,
    tags=["ingest", "crm", "airbyte"],
    params={
        "ingest_mode": Param(
            None,
            type=["null", "string"],
            enum=[None, "embedded", "airbyte"],
            description="embedded | airbyte; empty: the liftoff_ingest_mode Variable.",
        ),
        "airbyte_connection_ids": Param(
            [], type="array", description="Airbyte connection ids (airbyte mode)."
        ),
        "full_refresh": Param(
            False,
            type="boolean",
            description="First sync of a new warehouse: land every supplier, product, employee and customer "
            "as of the logical date, not only that day's changes (sales are always the day's).",
        ),
        "on_missing_file": Param(
            "fail",
            enum=["fail", "skip"],
            description="When a landed file is missing: fail the load (naming the file) or skip it.",
        ),
    },
)
def ingest_crm():
    @task.branch
    def choose_path(**context) -> list[str]:
        from liftoff.ingest.daily import choose_ingest_mode
        from liftoff.ingest.sources import reject_simulator_conf

        reject_simulator_conf(context["dag_run"].conf)
        mode = choose_ingest_mode(context["params"])
        if mode == "airbyte":
            return ["airbyte.connection_ids"]
        return ["embedded.extract_crm", *(f"embedded.land_{entity}" for entity in ENTITIES)]

    @task(pool="warehouse_bulk_load")
    def load(entity: str, **context) -> dict:
        from dataclasses import asdict

        from liftoff import settings
        from liftoff.connections import warehouse_dsn
        from liftoff.ingest.daily import MissingPartitionError, load_landed_day
        from liftoff.orchestration import logical_day

        day = logical_day(context)
        try:
            summary = load_landed_day(warehouse_dsn(), settings.lake_url(), entity, day, context["run_id"])
        except MissingPartitionError as missing:
            if context["params"]["on_missing_file"] == "skip":
                raise AirflowSkipException(str(missing)) from None
            raise
        context["outlet_events"][raw_asset(entity)].extra = {"logical_date": day.isoformat()}
        return asdict(summary)

    @task
    def land(entity: str, **context) -> str:
        from liftoff import settings
        from liftoff.ingest.daily import land_simulated_day
        from liftoff.ingest.sources import simulator_source_config
        from liftoff.orchestration import logical_day

        config = simulator_source_config()  # the liftoff_simulator Variable, read now
        return land_simulated_day(
            settings.lake_url(),
            entity,
            logical_day(context),
            config,
            full_refresh=context["params"]["full_refresh"],
        )

    @task
    def extract_crm(**context) -> dict:
        """The CRM API's records changed on the logical day, every entity, into the landing zone.
        Retried when the API is unreachable; failed at once when no retry can pass (a refused key, a
        changed CRM schema, a connection without a key): its one line says what to fix."""
        from airflow.sdk.exceptions import AirflowFailException

        from liftoff import settings
        from liftoff.connections import ConnectionMisconfigured, crm_api_endpoint
        from liftoff.ingest.airbyte_extract import AirbyteConfigurationError, extract_crm_for_run
        from liftoff.orchestration import logical_day

        try:
            return extract_crm_for_run(crm_api_endpoint(), settings.lake_url(), logical_day(context))
        except (AirbyteConfigurationError, ConnectionMisconfigured) as error:
            raise AirflowFailException(str(error)) from None

    @task
    def reconcile(summaries: list[dict]) -> dict:
        """One line per entity in the log, and the day's totals as the run's result."""
        from liftoff.ingest.daily import log_run_summary

        return log_run_summary(summaries)

    path = choose_path()
    loads = {}
    with TaskGroup("embedded"):
        # One connector run lands every entity's CRM file; each load waits for it and its own landing.
        extracted = extract_crm()
        path >> extracted
        for entity in ENTITIES:
            landed = land.override(task_id=f"land_{entity}")(entity)
            loads[entity] = load.override(task_id=f"load_{entity}", outlets=[raw_asset(entity)])(entity)
            path >> landed
            [landed, extracted] >> loads[entity]
        for entity, upstream in LOAD_AFTER.items():
            [loads[name] for name in upstream] >> loads[entity]
        reconcile(list(loads.values()))

    with TaskGroup("airbyte"):

        @task
        def connection_ids(**context) -> list[str]:
            from liftoff.ingest.daily import airbyte_connection_ids

            return airbyte_connection_ids(context["params"])

        @task
        def sync_started(**context) -> str:
            return context["ti"].start_date.isoformat()

        @task(pool="warehouse_bulk_load")
        def check_synced(entity: str, since: str, **context) -> dict:
            from dataclasses import asdict
            from datetime import datetime

            from liftoff.connections import warehouse_dsn
            from liftoff.ingest.airbyte_sync import validate_synced_rows
            from liftoff.orchestration import logical_day

            day = logical_day(context)
            summary = validate_synced_rows(
                warehouse_dsn(), entity, datetime.fromisoformat(since), day, context["run_id"]
            )
            context["outlet_events"][raw_asset(entity)].extra = {"logical_date": day.isoformat()}
            return asdict(summary)

        ids = connection_ids()
        started = sync_started()
        jobs = AirbyteTriggerSyncOperator.partial(
            task_id="trigger_sync", airbyte_conn_id="airbyte", asynchronous=True
        ).expand(connection_id=ids)
        waited = AirbyteJobSensor.partial(
            task_id="wait_for_sync", airbyte_conn_id="airbyte", deferrable=True, poke_interval=30
        ).expand(airbyte_job_id=jobs.output)
        checks = [
            check_synced.override(task_id=f"check_{entity}", outlets=[raw_asset(entity)])(entity, started)
            for entity in ENTITIES
        ]
        path >> ids >> started >> jobs
        waited >> checks
        reconcile(checks)


ingest_crm()
