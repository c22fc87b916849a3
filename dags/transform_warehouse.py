"""
### Transform the warehouse with dbt (rendered by Cosmos)

Runs when new raw data lands (once all the `raw.<entity>` Assets have news) and builds the dbt project in
`include/dbt`: bronze (typed) → silver (clean, deduplicated) → gold (marts). Cosmos renders one
task per model followed by its tests, from the manifest that `make dbt-manifest` (or the
Docker build) compiles, so parsing this file runs no dbt command.

The run's business day is passed to dbt as the `logical_date` var; gold windows are relative to it.
Emits the `gold` Asset.
"""

from __future__ import annotations

from airflow.sdk import AssetAll, dag, task
from cosmos import DbtTaskGroup

from liftoff.dag_support import DEFAULT_ARGS, ENTITIES, GOLD_ASSET, START_DATE, raw_asset
from liftoff.dbt_config import execution_config, profile_config, project_config, render_config


@dag(
    # Runs once every raw table has news (one ingest run emits all of them).
    schedule=AssetAll(*(raw_asset(entity) for entity in ENTITIES)),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    max_consecutive_failed_dag_runs=5,
    default_args=DEFAULT_ARGS,
    doc_md=__doc__,
    tags=["transform", "dbt"],
)
def transform_warehouse():
    @task
    def resolve_logical_date(**context) -> str:
        from liftoff.dag_support import logical_day

        return logical_day(context).isoformat()

    logical_date = resolve_logical_date()
    dbt_models = DbtTaskGroup(
        group_id="dbt",
        project_config=project_config(),
        profile_config=profile_config(),
        execution_config=execution_config(),
        render_config=render_config(),
        operator_args={
            "vars": {"logical_date": "{{ ti.xcom_pull(task_ids='resolve_logical_date') }}"},
            "install_deps": False,
        },
    )

    @task(outlets=[GOLD_ASSET])
    def publish_gold(day: str, **context) -> str:
        context["outlet_events"][GOLD_ASSET].extra = {"logical_date": day}
        return day

    logical_date >> dbt_models >> publish_gold(logical_date)


transform_warehouse()
