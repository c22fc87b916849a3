"""
### Transform the warehouse with dbt (rendered by Cosmos)

Runs when new raw data lands (once all the `raw.<entity>` Assets have news) and builds the dbt project in
`include/dbt`: bronze (typed) → silver (clean, deduplicated) → gold (marts). Cosmos renders one
task per model, from the manifest that `make dbt-manifest` (or the Docker build) compiles, so
parsing this file runs no dbt command. In watcher mode the `dbt_producer_watcher` task runs one
`dbt build` (models and data tests); each model's task then reports how dbt ended the model and
its tests: it fails when any of them failed (see liftoff/orchestration/cosmos_config.py).

`resolve_window` decides which business days the run rebuilds (`liftoff/transform/window.py`):
the data days of every load recorded in the load ledger (`raw.loads`) since the last successful
transform, so a late or back-dated record reaches silver and gold in the run that follows its load,
whatever its date; plus the days the triggering events name, the `since_date` Param's range, the
logical date, and the days after a changed day whose outlier flags depend on it (28-day window).
They reach dbt as `run_days` (comma-separated ISO dates), `since_date` (the oldest) and
`logical_date`, in the producer's environment (`LIFTOFF_DBT_RUN_DAYS`, ...; not as `--vars`, so
each run reuses dbt's parse of the previous one): incremental models delete and rebuild exactly
those days, and gold windows (last 7 days, 30 days, 3 months) end on `logical_date`, never on
today. `publish_gold` marks the covered loads done (a failed run marks none) and emits the `gold`
Asset with extra `{since_date, logical_date, run_days}`, then the dbt docs are published (Browse →
"dbt docs" in the Airflow UI).
"""

from __future__ import annotations

from airflow.sdk import AssetAll, Param, dag, task
from cosmos import DbtTaskGroup
from cosmos.operators.local import DbtDocsLocalOperator

from liftoff.orchestration import DEFAULT_ARGS, ENTITIES, GOLD_ASSET, PAUSE_NOTE, START_DATE, raw_asset
from liftoff.orchestration.cosmos_config import (
    execution_config,
    producer_of,
    profile_config,
    project_config,
    render_config,
    report_after_the_build,
)
from liftoff.transform.dbt_docs import publish as publish_dbt_docs
from liftoff.transform.window import DBT_WINDOW_ENV


@dag(
    params={
        "since_date": Param(
            None,
            type=["null", "string"],
            format="date",
            description="Also rebuild every day from this date to the logical date (loaded days are "
            "rebuilt without it).",
        ),
    },
    # Runs once every raw table has news (one ingest run emits all of them).
    schedule=AssetAll(*(raw_asset(entity) for entity in ENTITIES)),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    max_consecutive_failed_dag_runs=5,
    default_args=DEFAULT_ARGS,
    doc_md=__doc__ + PAUSE_NOTE,
    tags=["transform", "dbt"],
)
def transform_warehouse():
    @task
    def resolve_window(**context) -> dict:
        from datetime import date

        from liftoff.connections import warehouse_dsn
        from liftoff.orchestration import logical_day, triggering_days
        from liftoff.transform.window import resolve

        requested = context["params"].get("since_date")
        window = resolve(
            warehouse_dsn(),
            logical_day(context),
            triggering_days(context),
            date.fromisoformat(requested) if requested else None,
        )
        print(f"run days ({len(window.run_days)}): {', '.join(map(str, window.run_days))}")
        return window.as_xcom()

    window = resolve_window()
    resolved = "ti.xcom_pull(task_ids='resolve_window')"  # the window, in the templates below
    dbt_models = DbtTaskGroup(
        group_id="dbt",
        project_config=project_config(),
        profile_config=profile_config(),
        execution_config=execution_config(),
        render_config=render_config(),
        operator_args={
            "install_deps": False,
            "env": {
                # dbt unit tests check the SQL, not the data: they run in `make test`, not in
                # production. Said through dbt's environment variable, not the
                # `--exclude-resource-type` flag: Cosmos adds dbt_cmd_flags to every command, and
                # the variable also reaches commands that take no such flag (Cosmos's own `dbt run`
                # retry rejected it). A model task's retry runs `dbt build --select <model>`, which
                # leaves them out too.
                "DBT_EXCLUDE_RESOURCE_TYPES": "unit_test",
                # The run's window, read by the dbt project while it executes, not as `--vars`:
                # those are part of dbt's partial-parse state, so every run re-parsed the whole
                # project; this way each run reuses the previous run's parse, which Cosmos keeps.
                DBT_WINDOW_ENV["logical_date"]: "{{ " + resolved + "['logical_date'] }}",
                DBT_WINDOW_ENV["since_date"]: "{{ " + resolved + "['since_date'] }}",
                DBT_WINDOW_ENV["run_days"]: "{{ " + resolved + "['run_days'] | join(',') }}",
            },
        },
    )
    report_after_the_build(dbt_models)

    @task(outlets=[GOLD_ASSET])
    def publish_gold(window: dict, **context) -> dict:
        """Gold is built: the loads the run covered are done (a failed run marks none, so the next
        run rebuilds their days), and the `gold` event names the days for the quality gate."""
        from liftoff.connections import warehouse_dsn
        from liftoff.transform.window import RunWindow, mark_transformed

        built = RunWindow.from_xcom(window)
        mark_transformed(warehouse_dsn(), built.loads, context["run_id"])
        context["outlet_events"][GOLD_ASSET].extra = built.asset_extra()
        return built.asset_extra()

    # The docs follow the gold Asset, so they never delay the marts' consumers. They start from
    # the dbt parse the group's build kept (its Cosmos cache folder) instead of parsing the whole
    # project again.
    dbt_docs = DbtDocsLocalOperator(
        task_id="dbt_docs",
        project_dir=str(project_config().dbt_project_path),
        profile_config=profile_config(),
        dbt_cmd_flags=["--static"],
        install_deps=False,
        cache_dir=producer_of(dbt_models).cache_dir,
        callback=publish_dbt_docs,
    )

    window >> dbt_models >> publish_gold(window) >> dbt_docs


transform_warehouse()
