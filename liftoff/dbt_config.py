"""The Cosmos configuration of the dbt project, shared by every DAG that renders it.

LoadMode.DBT_MANIFEST: the DAG is rendered from `include/dbt/target/manifest.json`, built ahead
of time by `make dbt-manifest` and by the Docker image, so parsing a DAG file runs no dbt command.
dbt runs in Airflow's own environment (dbt-core 1.11 resolves with Airflow 3.3), so Cosmos invokes
it in-process through dbtRunner rather than spawning a `dbt` subprocess per model.
"""

from __future__ import annotations

from cosmos import ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import ExecutionMode, InvocationMode, LoadMode, TestBehavior
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
    return ProjectConfig(
        dbt_project_path=settings.DBT_PROJECT_DIR,
        manifest_path=MANIFEST_PATH,
        project_name="liftoff",
    )


def profile_config() -> ProfileConfig:
    return ProfileConfig(
        profile_name="liftoff",
        target_name=settings.DBT_TARGET,
        profile_mapping=PostgresUserPasswordProfileMapping(
            conn_id=settings.WAREHOUSE_CONN_ID, profile_args={"schema": "public", "threads": 2}
        ),
    )


def execution_config() -> ExecutionConfig:
    return ExecutionConfig(execution_mode=ExecutionMode.LOCAL, invocation_mode=InvocationMode.DBT_RUNNER)


def render_config() -> RenderConfig:
    # No per-model Assets: their URIs carry the warehouse's host:port, which differs between
    # environments. Downstream DAGs schedule on the one `gold` Asset the transform DAG publishes.
    # A test across two models (relationships) runs as its own task after both, not after
    # whichever model Cosmos would attach it to.
    return RenderConfig(
        load_method=LoadMode.DBT_MANIFEST,
        test_behavior=TestBehavior.BUILD,
        emit_datasets=False,
        should_detach_multiple_parents_tests=True,
    )
