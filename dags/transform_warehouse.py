"""
### Transform the warehouse with dbt (rendered by Cosmos)

Runs when new raw data lands (once all the `raw.<entity>` Assets have news) and builds the dbt project in
`include/dbt`: bronze (typed) → silver (clean, deduplicated) → gold (marts). Cosmos renders one
task per model followed by one for its tests, from the manifest that `make dbt-manifest` (or the
Docker build) compiles, so parsing this file runs no dbt command. In watcher mode the
`dbt_producer_watcher` task runs one `dbt build`; each model and test task then reports how dbt
ended its node (see liftoff/dbt_config.py).

The run's window is passed to dbt as the `since_date` and `logical_date` vars: incremental models
rebuild exactly those days (an asset-triggered run covers every day its ingest events name), and
gold windows (last 7 days, 30 days, 3 months) end on `logical_date`, never on today.
Emits the `gold` Asset, then publishes the dbt docs (Browse → "dbt docs" in the Airflow UI).
"""

from __future__ import annotations

from airflow.sdk import AssetAll, Param, dag, task
from cosmos import DbtTaskGroup
from cosmos.operators.local import DbtDocsLocalOperator

from liftoff.dag_support import DEFAULT_ARGS, ENTITIES, GOLD_ASSET, START_DATE, raw_asset
from liftoff.dbt_config import (
    execution_config,
    profile_config,
    project_config,
    render_config,
    report_after_the_build,
)
from liftoff.dbt_docs import publish as publish_dbt_docs


@dag(
    params={
        "since_date": Param(
            None,
            type=["null", "string"],
            format="date",
            description="Rebuild every day from this date to the logical date (e.g. after a backfill).",
        ),
    },
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
    def resolve_window(**context) -> dict[str, str]:
        from liftoff.dag_support import logical_window

        since, until = logical_window(context)
        return {"since_date": since.isoformat(), "logical_date": until.isoformat()}

    window = resolve_window()
    dbt_models = DbtTaskGroup(
        group_id="dbt",
        project_config=project_config(),
        profile_config=profile_config(),
        execution_config=execution_config(),
        render_config=render_config(),
        operator_args={
            "vars": {
                "logical_date": "{{ ti.xcom_pull(task_ids='resolve_window')['logical_date'] }}",
                "since_date": "{{ ti.xcom_pull(task_ids='resolve_window')['since_date'] }}",
            },
            "install_deps": False,
            # dbt unit tests check the SQL, not the data: they run in `make test`, not in production.
            # Said through dbt's environment variable, not the `--exclude-resource-type` flag: Cosmos
            # adds dbt_cmd_flags to every command, and a model task's retry runs `dbt run`, which
            # rejects that flag, so no model could be retried after a failed build
            # (tests/test_faults.py).
            "env": {"DBT_EXCLUDE_RESOURCE_TYPES": "unit_test"},
        },
    )
    report_after_the_build(dbt_models)

    @task(outlets=[GOLD_ASSET])
    def publish_gold(window: dict[str, str], **context) -> dict[str, str]:
        context["outlet_events"][GOLD_ASSET].extra = window
        return window

    # The docs follow the gold Asset, so they never delay the marts' consumers.
    dbt_docs = DbtDocsLocalOperator(
        task_id="dbt_docs",
        project_dir=str(project_config().dbt_project_path),
        profile_config=profile_config(),
        dbt_cmd_flags=["--static"],
        install_deps=False,
        callback=publish_dbt_docs,
    )

    window >> dbt_models >> publish_gold(window) >> dbt_docs


transform_warehouse()
