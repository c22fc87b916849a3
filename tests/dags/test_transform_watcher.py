"""The transform's Cosmos rendering (watcher mode): every test task watches a key the producer
publishes. A test across two models once had a task of its own polling `<test>_tests_status`,
which the producer never pushes: nine `[error] XCom not found` lines per run, and a task that went
green without ever seeing its test's result (liftoff/orchestration/cosmos_config.py)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.services


def test_every_dbt_test_task_watches_a_model_whose_tests_the_producer_aggregates(dags):
    from cosmos.constants import PRODUCER_WATCHER_TASK_ID
    from cosmos.operators.watcher import DbtTestWatcherOperator

    transform = dags["transform_warehouse"]
    producer = next(task for task in transform.tasks if task.task_id.endswith(PRODUCER_WATCHER_TASK_ID))
    aggregated = producer.tests_per_model  # model → its tests, whose outcome the producer publishes
    watched = [task.model_unique_id for task in transform.tasks if isinstance(task, DbtTestWatcherOperator)]
    # Each test task watches a model's aggregated outcome: none watches a key the producer never
    # publishes, and every model with tests has its task (sources' tests run inside the build).
    assert [uid for uid in watched if uid not in aggregated] == []
    assert sorted(watched) == sorted(uid for uid in aggregated if uid.startswith("model."))
    # So the tests across two models (relationships) are reported by both parents' test tasks.
    parents: dict[str, set[str]] = {}
    for model, tests in aggregated.items():
        for test in tests:
            parents.setdefault(test, set()).add(model)
    assert [test for test, models in parents.items() if len(models) == 2]
