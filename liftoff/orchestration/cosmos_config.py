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

import json
from collections.abc import Callable
from typing import Any, ClassVar

from airflow.exceptions import AirflowException
from airflow.sdk import BaseOperator, Context, TriggerRule
from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import (
    PRODUCER_WATCHER_TASK_ID,
    ExecutionMode,
    InvocationMode,
    LoadMode,
    TestBehavior,
)
from cosmos.operators._watcher.aggregation import get_tests_status_xcom_key
from cosmos.operators._watcher.state import DbtTestStatus
from cosmos.operators.watcher import DbtProducerWatcherOperator, DbtRunWatcherOperator
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


class DbtModelAndTestsWatcherOperator(DbtRunWatcherOperator):
    """A model's task that answers for the model and for every dbt test of it.

    TestBehavior.NONE renders one task per model and no test task (36 tasks instead of 63; each
    is an Airflow task process, whose start-up dominated the DAG's time: docs/benchmarks.md). The
    producer's `dbt build` still runs every test (`run_every_test`), and publishes each model's
    tests as one verdict, `<model>_tests_status`, over every test that depends on the model, a
    relationships test under both of its models (cosmos.dbt.graph.DbtGraph.update_node_dependency).
    This task reads that verdict once the model itself succeeded: a failed test fails the model's
    task, so its dependants wait, as a failed test task made them wait before. So does a test dbt
    skipped (a relationships test whose other model failed): it proved nothing, and the retry
    runs it.

    When the task builds the model itself (the producer was skipped on its retry, or this task's
    own retry), it runs `dbt build --select <model>` instead of Cosmos's `dbt run`: the model and
    its tests, so a retry cannot go green without them. If the producer ended before all of the
    model's tests ran (an outage), there is no verdict to read, and the task builds the model
    itself the same way.

    Every model task starts after the producer has ended (`report_after_the_build`), so the
    verdict it reads is final.
    """

    # The command of the fallback (the task building its model itself), `dbt run` in Cosmos.
    base_cmd: ClassVar[list[str]] = ["build"]
    tests: tuple[str, ...] = ()  # the model's dbt tests, set by report_after_the_build

    def _fallback_to_non_watcher_run(self, try_number: int, context: Context) -> bool:
        self._built_here = True
        return super()._fallback_to_non_watcher_run(try_number, context)

    def poke(self, context: Context) -> bool:
        self._built_here = False
        return super().poke(context) and self._tests_passed(context)

    def execute_complete(self, context: Context, event: dict[str, Any]) -> None:
        self._built_here = False
        super().execute_complete(context, event)
        self._tests_passed(context)

    def _tests_passed(self, context: Context) -> bool:
        if self._built_here or not self.tests:  # its own `dbt build` ran the tests, or it has none
            return True
        verdict = context["ti"].xcom_pull(
            self.producer_task_id, key=get_tests_status_xcom_key(self.model_unique_id)
        )
        if verdict == DbtTestStatus.PASS:
            return True
        if verdict == DbtTestStatus.FAIL:
            raise AirflowException(
                f"a dbt test of {self.model_unique_id} failed or was skipped ({len(self.tests)} tests): "
                f"see the `dbt build` log of {self.producer_task_id}"
            )
        self.log.info("The build ended before every test of %s ran: building it here", self.model_unique_id)
        return self._fallback_to_non_watcher_run(context["ti"].try_number, context)


# dbt's progress events for a node: Cosmos pushes each as an XCom for a model task that waits
# beside the build. NodeFinished carries the outcome (dbt fires it for every node, in a `finally`).
PROGRESS_EVENTS = frozenset({"NodeStart", "NodeCompiling", "NodeExecuting"})
# The result lines dbt prints for a node ("OK created sql table model ..."): they repeat the
# outcome NodeFinished publishes, so they are logged and nothing more.
RESULT_LINE_EVENTS = frozenset({"LogModelResult", "LogTestResult", "LogSeedResult", "LogSnapshotResult"})


class DbtBuildProducerOperator(DbtProducerWatcherOperator):
    """The watcher's producer, publishing each node's outcome once and not the progress before it.

    For every dbt event that names a node, Cosmos pushes XComs: the node's progress (started,
    compiling, executing), its outcome from NodeFinished, and the outcome again from the result
    line dbt prints. Each push is a round trip to Airflow's API server, made inside the dbt thread
    that fired the event and under one lock, so the build waits for it. The progress only matters
    to a model task already waiting on the producer; here every model task starts after the build
    has ended (`report_after_the_build`) and reads the outcome. On one day's build that was about
    350 of 550 pushes (docs/benchmarks.md). The task log keeps every line it showed: the progress
    events are debug-level in dbt's log, and the result lines are still logged.
    """

    def _make_parse_callable(self) -> Callable[[str, Any], None]:
        parse = super()._make_parse_callable()

        def parse_outcomes(line: str, extra_kwargs: Any) -> None:
            try:
                event = json.loads(line)
                name = event["info"]["name"]
            except (ValueError, KeyError, TypeError):
                parse(line, extra_kwargs)  # Cosmos's own handling of what is not a dbt event
                return
            if name in PROGRESS_EVENTS:
                return
            if name in RESULT_LINE_EVENTS and event.get("data", {}).pop("node_info", None) is not None:
                line = json.dumps(event)
            parse(line, extra_kwargs)

        return parse_outcomes


def run_every_test(producer: BaseOperator) -> None:
    """Keep the producer's `dbt build` running the data tests.

    Under TestBehavior.NONE (and AFTER_ALL) Cosmos adds `--resource-type model --resource-type
    snapshot --resource-type seed` to the producer's flags (cosmos.airflow.graph
    ._add_watcher_producer_task), so its build would skip every test. Without them dbt builds
    every resource type but the ones DBT_EXCLUDE_RESOURCE_TYPES names (unit tests, see the DAG).
    """
    flags = list(producer.dbt_cmd_flags or [])
    producer.dbt_cmd_flags = [
        flag
        for i, flag in enumerate(flags)
        if flag != "--resource-type" and (i == 0 or flags[i - 1] != "--resource-type")
    ]


def producer_of(group: DbtTaskGroup) -> DbtProducerWatcherOperator:
    """The group's one `dbt build` (watcher mode's producer task)."""
    return group.tasks_map[PRODUCER_WATCHER_TASK_ID]


def report_after_the_build(group: DbtTaskGroup) -> None:
    """Start the per-model tasks once the watcher's single `dbt build` has finished, each model's
    task answering for its tests too.

    In ExecutionMode.WATCHER one producer task runs `dbt build` for the whole selection and every
    model task only reports the result the producer published. Cosmos leaves the first models
    of a DbtTaskGroup free to start beside the producer and wait for it in the triggerer; here they
    run after it instead (whatever its outcome: ALL_DONE), so a run needs no triggerer, `dag.test()`
    works, and each model task still succeeds, fails or is skipped exactly as dbt did: a failed model
    or test fails its task and dbt's skip of its dependants shows as their upstream failure.

    Cosmos offers no option to choose the operator of a model's task, so each one it rendered
    (DbtRunWatcherOperator) becomes a DbtModelAndTestsWatcherOperator in place, keeping every
    argument Cosmos gave it; it only adds behaviour. The producer becomes a
    DbtBuildProducerOperator the same way (it publishes each node's outcome once, no progress).
    """
    producer = producer_of(group)
    if type(producer) is DbtProducerWatcherOperator:
        producer.__class__ = DbtBuildProducerOperator
    run_every_test(producer)
    for task in group.tasks_map.values():
        if type(task) is DbtRunWatcherOperator:
            task.__class__ = DbtModelAndTestsWatcherOperator
            task.tests = tuple(producer.tests_per_model.get(task.model_unique_id, ()))
    for task in group.get_roots():
        if task is not producer:
            producer >> task
            task.trigger_rule = TriggerRule.ALL_DONE


def render_config() -> RenderConfig:
    # One task per model, no test task: each model's task also answers for its tests
    # (DbtModelAndTestsWatcherOperator, installed by report_after_the_build).
    # No per-model Assets: their URIs carry the warehouse's host:port, which differs between
    # environments. Downstream DAGs schedule on the one `gold` Asset the transform DAG publishes.
    return RenderConfig(
        load_method=LoadMode.DBT_MANIFEST,
        test_behavior=TestBehavior.NONE,
        emit_datasets=False,
    )
