"""The Cosmos configuration of the dbt project, shared by every DAG that renders it.

LoadMode.DBT_MANIFEST: the DAG is rendered from `include/dbt/target/manifest.json`, built ahead
of time by `make dbt-manifest` and by the Docker image, so parsing a DAG file runs no dbt command.
dbt runs in Airflow's own environment (dbt-core 1.11 resolves with Airflow 3.3), so Cosmos invokes
it in-process through dbtRunner rather than spawning a `dbt` subprocess.

Execution mode WATCHER, chosen by measurement (README, "Transform"): one `dbt build` per run
instead of one per model; on the demo data the transform took 35 s this way against 62 s with
ExecutionMode.LOCAL.
"""

from __future__ import annotations

from airflow.sdk import TriggerRule
from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import (
    PRODUCER_WATCHER_TASK_ID,
    ExecutionMode,
    InvocationMode,
    LoadMode,
    TestBehavior,
)
from cosmos.profiles import PostgresUserPasswordProfileMapping

from liftoff import settings

MANIFEST_PATH = settings.DBT_PROJECT_DIR / "target" / "manifest.json"


class ManifestMissingError(FileNotFoundError):
    """The dbt manifest has not been built; the message says how to build it."""


def project_config() -> ProjectConfig:
    if not MANIFEST_PATH.exists():
        raise ManifestMissingError(
            f"dbt manifest not found at {MANIFEST_PATH}; build it with `make dbt-manifest`"
        )
    config = ProjectConfig(
        dbt_project_path=settings.DBT_PROJECT_DIR,
        manifest_path=MANIFEST_PATH,
        project_name="liftoff",
    )
    # Read as a plain file: Cosmos wraps every manifest path in Airflow's ObjectStoragePath, whose
    # first read loads every Airflow plugin for hook lineage, Cosmos's own importing FastAPI. That
    # was half of this DAG file's parse time (0.9 s of 2.5 s on a loaded machine; `make bench`).
    config.manifest_path = MANIFEST_PATH
    return config


def profile_config() -> ProfileConfig:
    return ProfileConfig(
        profile_name="liftoff",
        target_name=settings.DBT_TARGET,
        profile_mapping=PostgresUserPasswordProfileMapping(
            conn_id=settings.WAREHOUSE_CONN_ID, profile_args={"schema": "public", "threads": 2}
        ),
    )


def execution_config() -> ExecutionConfig:
    return ExecutionConfig(execution_mode=ExecutionMode.WATCHER, invocation_mode=InvocationMode.DBT_RUNNER)


def report_after_the_build(group: DbtTaskGroup) -> None:
    """Start the per-model tasks once the watcher's single `dbt build` has finished.

    In ExecutionMode.WATCHER one producer task runs `dbt build` for the whole selection and every
    model/test task only reports the result the producer published. Cosmos leaves the first models
    of a DbtTaskGroup free to start beside the producer and wait for it in the triggerer; here they
    run after it instead (whatever its outcome: ALL_DONE), so a run needs no triggerer, `dag.test()`
    works, and each model task still succeeds, fails or is skipped exactly as dbt did: a failed model
    fails its task and dbt's skip of its dependants shows as their upstream failure.
    """
    producer = group.tasks_map[PRODUCER_WATCHER_TASK_ID]
    for task in group.get_roots():
        if task is not producer:
            producer >> task
            task.trigger_rule = TriggerRule.ALL_DONE


# Not detached, in watcher mode. The producer's `dbt build` runs a test across two models after
# both (dbt orders it), and publishes each model's test outcome as one aggregated XCom,
# `<model>_tests_status`, whose tests include every test that depends on the model, multi-parent
# ones too (cosmos.dbt.graph.DbtGraph.update_node_dependency). A detached test's task instead
# polls `<test>_tests_status`, which no producer ever pushes (Cosmos 1.15): each poll logged
# `[error] XCom not found` (nine per transform), and the task ended green by default, when the
# producer finished without reporting it ("node not run"), whatever the test's result. Attached,
# each such test is reported, pass or fail, by both of its parents' test tasks, and no task polls
# for a key that cannot appear.
MULTI_PARENT_TESTS_DETACHED = False


def render_config() -> RenderConfig:
    # No per-model Assets: their URIs carry the warehouse's host:port, which differs between
    # environments. Downstream DAGs schedule on the one `gold` Asset the transform DAG publishes.
    # A test across two models (relationships) stays with its parents' test tasks: see
    # MULTI_PARENT_TESTS_DETACHED.
    return RenderConfig(
        load_method=LoadMode.DBT_MANIFEST,
        test_behavior=TestBehavior.AFTER_EACH,
        emit_datasets=False,
        should_detach_multiple_parents_tests=MULTI_PARENT_TESTS_DETACHED,
    )
