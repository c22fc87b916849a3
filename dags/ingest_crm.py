"""
### Ingest CRM activity

Lands one day of CRM activity in the landing zone and loads it into the warehouse's raw tables.

* **Embedded path** (default): the built-in CRM simulator writes Parquet to the landing zone
  (`LIFTOFF_LAKE_URL`, a local folder unless set), then the loader COPYs it into `raw.<entity>`.
* Each run processes its logical date only and replaces that date's partition, so reruns and
  backfills (`airflow backfill create --dag-id ingest_crm --from-date ... --to-date ...`) are safe.
* Emits the `raw.<entity>` Assets, which schedule the transform.
"""

from __future__ import annotations

from airflow.sdk import Param, dag, task
from airflow.timetables.interval import CronDataIntervalTimetable

from liftoff.dag_support import DEFAULT_ARGS, START_DATE, TIMEZONE, raw_asset

ENTITIES = ("sales",)


@dag(
    schedule=CronDataIntervalTimetable("0 1 * * *", timezone=TIMEZONE),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=4,
    max_consecutive_failed_dag_runs=5,
    default_args=DEFAULT_ARGS,
    doc_md=__doc__,
    tags=["ingest", "crm"],
    params={
        "seed": Param(42, type="integer", description="Simulator seed (same seed, same data)."),
        "sales_per_day": Param(400, type="integer", minimum=1, description="Mean sales per weekday."),
    },
)
def ingest_crm():
    for entity in ENTITIES:

        @task(task_id=f"land_{entity}")
        def land(entity: str = entity, **context) -> str:
            from liftoff import settings
            from liftoff.dag_support import logical_day
            from liftoff.ingest import land_simulated_day
            from liftoff.simulator import SimulatorConfig

            params = context["params"]
            config = SimulatorConfig(seed=params["seed"], sales_per_day=params["sales_per_day"])
            return land_simulated_day(settings.lake_url(), entity, logical_day(context), config)

        @task(task_id=f"load_{entity}", outlets=[raw_asset(entity)])
        def load(landed_file: str, entity: str = entity, **context) -> dict:
            from liftoff import settings
            from liftoff.dag_support import logical_day, warehouse_dsn
            from liftoff.ingest import load_landed_day

            day = logical_day(context)
            summary = load_landed_day(warehouse_dsn(), settings.lake_url(), entity, day)
            context["outlet_events"][raw_asset(entity)].extra = {"logical_date": day.isoformat()}
            return summary

        load(land())


ingest_crm()
