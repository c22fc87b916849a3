"""The transform's Cosmos rendering (watcher mode, TestBehavior.NONE): one task per model and no
test task, the producer's `dbt build` running every data test, each model's task answering for
the tests of its model, and a model task that builds the model itself running `dbt build` (its
tests included), not `dbt run` (liftoff/orchestration/cosmos_config.py)."""

from __future__ import annotations

import json

import pytest

from liftoff.orchestration.cosmos_config import MANIFEST_PATH

pytestmark = pytest.mark.services


def rendered(dags):
    from cosmos.constants import PRODUCER_WATCHER_TASK_ID

    from liftoff.orchestration.cosmos_config import DbtModelAndTestsWatcherOperator

    transform = dags["transform_warehouse"]
    producer = next(task for task in transform.tasks if task.task_id.endswith(PRODUCER_WATCHER_TASK_ID))
    models = [task for task in transform.tasks if isinstance(task, DbtModelAndTestsWatcherOperator)]
    return transform, producer, models


def test_one_task_per_model_and_no_test_task(dags):
    from cosmos.operators._watcher.base import BaseConsumerSensor

    transform, _, models = rendered(dags)
    manifest = json.loads(MANIFEST_PATH.read_text())
    in_project = sorted(uid for uid, node in manifest["nodes"].items() if node["resource_type"] == "model")
    assert sorted(task.model_unique_id for task in models) == in_project
    # Every watcher task is a model's: no test task, no other kind of consumer.
    consumers = [task for task in transform.tasks if isinstance(task, BaseConsumerSensor)]
    assert consumers == models
    assert not [task.task_id for task in transform.tasks if task.task_id.endswith((".test", "_test"))]


def test_the_producer_builds_every_data_test(dags):
    """Cosmos's TestBehavior.NONE would limit the build to `--resource-type model/seed/snapshot`."""
    _, producer, _ = rendered(dags)
    assert producer.base_cmd == ["build"]
    assert "--resource-type" not in (producer.dbt_cmd_flags or [])
    assert (producer.select, producer.exclude, producer.selector) == (None, None, None)
    # Only the unit tests stay out, by dbt's own variable (the DAG's operator env).
    assert producer.env["DBT_EXCLUDE_RESOURCE_TYPES"] == "unit_test"


class WindowTI:
    """resolve_window's task instance: the run's window in XCom."""

    def xcom_pull(self, task_ids=None, key=None, **kwargs):
        assert task_ids == "resolve_window"
        days = ["2026-06-01", "2026-06-07"]
        return {"since_date": days[0], "logical_date": days[-1], "run_days": days}


def test_the_window_reaches_dbt_in_the_environment_not_as_vars(dags):
    """`--vars` are part of dbt's partial-parse state: passed on every run, each run re-parsed the
    whole project. The dbt project reads the window from these variables while it executes
    (include/dbt/macros/windows.sql; tests/transform/test_partial_parse.py)."""
    from liftoff.transform.window import DBT_WINDOW_ENV

    _, producer, models = rendered(dags)
    for task in (producer, *models):  # a model task's own `dbt build` (its retry) too
        assert not task.vars, task.task_id
        assert set(DBT_WINDOW_ENV.values()) <= set(task.env), task.task_id
    producer.render_template_fields({"ti": WindowTI()})
    assert {name: producer.env[variable] for name, variable in DBT_WINDOW_ENV.items()} == {
        "since_date": "2026-06-01",
        "logical_date": "2026-06-07",
        "run_days": "2026-06-01,2026-06-07",
    }


def test_each_model_task_knows_every_test_of_its_model(dags):
    _, producer, models = rendered(dags)
    manifest = json.loads(MANIFEST_PATH.read_text())
    expected: dict[str, set[str]] = {}
    for uid, node in manifest["nodes"].items():
        if node["resource_type"] == "test":
            for parent in node["depends_on"]["nodes"]:
                if parent.startswith("model."):
                    expected.setdefault(parent, set()).add(uid)
    assert expected
    known = {task.model_unique_id: set(task.tests) for task in models if task.tests}
    assert known == expected
    # The producer publishes each model's verdict over exactly these tests...
    assert {uid: set(tests) for uid, tests in producer.tests_per_model.items() if uid in known} == known
    # ... so a test across two models (relationships) fails both of its models' tasks.
    parents: dict[str, int] = {}
    for tests in known.values():
        for test in tests:
            parents[test] = parents.get(test, 0) + 1
    assert 2 in parents.values()


class Ran(Exception):
    """Raised by the fake dbt: the command the task would have run, and its environment."""


def fake_dbt(cmd, env, context, **kwargs):
    raise Ran(cmd, env)


class ProducerTI:
    """A model task's task instance, on try `try_number`: the producer reported the model a
    success and its tests' verdict (None: the build ended before every test of the model ran)."""

    def __init__(self, verdict: str | None, try_number: int = 1) -> None:
        self.verdict = verdict
        self.try_number = try_number

    def xcom_pull(self, task_ids=None, key=None, **kwargs):
        if key.endswith("_tests_status"):
            return self.verdict
        if key.endswith("_status"):
            return {"status": "success", "outlet_uris": []}
        return None  # e.g. the producer's flags: none published


def silver_sales_task(dags, monkeypatch):
    """The rendered task of silver_sales, after a failed producer, with dbt faked."""
    _, _, models = rendered(dags)
    task = next(task for task in models if task.task_id == "dbt.silver_sales_run")
    monkeypatch.setattr(task, "_get_producer_task_status", lambda context: "failed")
    monkeypatch.setattr(task, "run_command", fake_dbt)
    return task


@pytest.mark.parametrize("verdict", ["pass", "fail", None])
def test_a_model_task_goes_green_only_when_its_tests_passed(dags, monkeypatch, verdict):
    from airflow.exceptions import AirflowException

    task = silver_sales_task(dags, monkeypatch)
    context = {"ti": ProducerTI(verdict), "run_id": "r"}
    if verdict == "pass":
        assert task.poke(context) is True
    elif verdict == "fail":
        with pytest.raises(AirflowException, match=r"a dbt test of model\.liftoff\.silver_sales failed"):
            task.poke(context)
    else:  # no verdict: it builds the model and runs its tests itself
        with pytest.raises(Ran) as ran:
            task.poke(context)
        assert "build" in ran.value.args[0]


def test_a_model_tasks_retry_runs_dbt_build_with_its_tests(dags, monkeypatch):
    """A retry (and the fallback when the producer was skipped on its own retry) runs `dbt build
    --select <model>`, which dbt expands to the model and its tests, never Cosmos's `dbt run`,
    whatever verdict the producer published."""
    task = silver_sales_task(dags, monkeypatch)
    with pytest.raises(Ran) as ran:
        task.poke({"ti": ProducerTI("fail", try_number=2), "run_id": "r"})
    cmd, env = ran.value.args
    assert "build" in cmd
    assert "run" not in cmd
    assert "--resource-type" not in cmd
    assert cmd[-2:] == ["--select", "silver_sales"]
    assert env["DBT_EXCLUDE_RESOURCE_TYPES"] == "unit_test"  # dbt build leaves the unit tests out


class PushRecordingTI:
    """The producer's task instance: records the XComs its dbt event callback pushes."""

    def __init__(self):
        self.pushed: dict[str, object] = {}

    def xcom_push(self, key, value):
        self.pushed[key] = value

    def xcom_pull(self, *args, **kwargs):
        return None


def dbt_event(name: str, status: str, msg: str = "") -> str:
    """One line of dbt's JSON log for silver_sales, as the producer's callback receives it."""
    node = {"unique_id": "model.liftoff.silver_sales", "node_status": status, "resource_type": "model",
            "node_path": "silver/silver_sales.sql", "node_started_at": "2026-06-07T10:00:00",
            "node_finished_at": "2026-06-07T10:00:02" if status == "success" else ""}  # fmt: skip
    level = "info" if msg else "debug"
    return json.dumps({"info": {"name": name, "level": level, "msg": msg}, "data": {"node_info": node}})


def test_the_producer_publishes_each_models_outcome_once_and_not_its_progress(dags, tmp_path, caplog):
    """Every model task starts after the build, so a push of a node's progress (each a round trip
    to Airflow's API, inside dbt's thread) is read by nobody, nor the repeat of its outcome that
    dbt's result line carries; the outcome is published once, and the result line still logged."""
    from cosmos.operators._watcher.state import get_dbt_event_xcom_key, get_status_xcom_key

    _, producer, _ = rendered(dags)
    parse = producer._make_parse_callable()
    ti = PushRecordingTI()
    extra = {"context": {"ti": ti}, "project_dir": str(tmp_path)}
    progress = (("NodeStart", "started"), ("NodeCompiling", "compiling"), ("NodeExecuting", "executing"))
    for name, status in progress:
        parse(dbt_event(name, status), extra)
    result_line = "1 of 1 OK created sql table model silver.sales ... [SELECT 7 in 0.2s]"
    with caplog.at_level("INFO"):
        parse(dbt_event("LogModelResult", "success", msg=result_line), extra)
    assert ti.pushed == {}
    assert result_line in caplog.text
    parse(dbt_event("NodeFinished", "success"), extra)
    uid = "model.liftoff.silver_sales"
    assert ti.pushed[get_status_xcom_key(uid)]["status"] == "success"
    assert ti.pushed[get_dbt_event_xcom_key(uid)]["status"] == "success"


def test_the_docs_start_from_the_parse_the_build_kept(dags):
    """`dbt docs generate` reuses the partial parse Cosmos keeps for the group's build (its cache
    folder) instead of parsing the whole project again (≈ 2 s of the docs task)."""
    transform, producer, _ = rendered(dags)
    assert producer.cache_dir is not None
    assert transform.get_task("dbt_docs").cache_dir == producer.cache_dir
