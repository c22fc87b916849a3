"""dbt's partial parse across transform runs (performance issue 18).

The transform DAG passes the run's window to dbt in the environment, not as `--vars` (dbt hashes
the command line's vars into its partial-parse state: every run re-parsed the whole project), and
the data tests name the window through placeholders that are expanded when they run
(include/dbt/macros/windows.sql, tests.sql). Shown here with dbt invoked as Cosmos's producer
invokes it (in-process, `--profile`/`--target`, the DAG's environment):

- a second run with other days reuses the first run's parse: dbt skips parsing and leaves the
  saved parse (`partial_parse.msgpack`) as it was, where `--vars` would have re-parsed;
- nothing dbt keeps from a parse depends on the window;
- the second run's tests check the second run's days: a bad row on its day fails its build,
  which a kept parse testing the first run's day would have let through.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from liftoff import settings
from liftoff.ingest.simulator import SimulatorConfig
from liftoff.transform.dbt_runner import environment, profile_env
from liftoff.transform.window import DBT_WINDOW_ENV, RunWindow
from tests.warehouses import simulate_days

pytestmark = pytest.mark.services

DAY_A = date(2026, 6, 1)
DAY_B = date(2026, 6, 2)
ORPHAN_SALE_ID = 900_000_777
UNKNOWN_CUSTOMER_ID = 999_999_999
# The window's tests an orphan sale fails: silver_sales.customer_id → silver_customers (`where:
# sale_date in (__run_days__)`) and the latest purchase's customer_id (`sale_date >= __since_date__`).
ORPHAN_TESTS = {
    "relationships_silver_sales_customer_id__customer_id__ref_silver_customers_",
    "relationships_gold_customer_latest_purchase_customer_id__customer_id__ref_silver_customers_",
}
FULL_PARSE = "UnableToPartialParse"  # dbt's event: "Unable to do partial parsing because ..."
SKIPPED_PARSE = "PartialParsingSkipParsing"  # dbt's event: the saved parse is used as it is


def window(day: date) -> RunWindow:
    return RunWindow(since=day, until=day, run_days=(day,))


def dbt_as_cosmos(
    dsn: str, target_path: Path, command: list[str], run: RunWindow | None, *extra: str
) -> tuple[Any, list[str]]:
    """`dbt <command>` in this process as Cosmos's producer runs it: the project's profile and
    target named on the command line, the run's window in the environment (DBT_WINDOW_ENV), no
    `--vars` unless `extra` says so. The result and the names of the events dbt fired."""
    from dbt.cli.main import dbtRunner

    events: list[str] = []
    project = str(settings.DBT_PROJECT_DIR)
    variables = profile_env(dsn) | {"DBT_EXCLUDE_RESOURCE_TYPES": "unit_test"}
    variables |= run.dbt_env() if run else dict.fromkeys(DBT_WINDOW_ENV.values(), "")
    arguments = [
        *command, "--project-dir", project, "--profiles-dir", project,
        "--profile", "liftoff", "--target", settings.DBT_TARGET, "--no-static-parser",
        "--target-path", str(target_path), *extra,
    ]  # fmt: skip
    with environment(variables):
        result = dbtRunner(callbacks=[lambda event: events.append(event.info.name)]).invoke(arguments)
    return result, events


def kept_nodes(target_path: Path) -> dict[str, Any]:
    """What dbt keeps of its parse, per node and test, without the parse's own timestamps."""

    def without_times(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: without_times(item) for key, item in value.items() if key != "created_at"}
        if isinstance(value, list):
            return [without_times(item) for item in value]
        return value

    manifest = json.loads((target_path / "manifest.json").read_text())
    return without_times(manifest["nodes"])


@pytest.fixture
def target_path(tmp_path: Path) -> Path:
    """dbt's target folder of one worker's runs: where Cosmos keeps the parse between runs."""
    return tmp_path / "target"


def test_a_run_with_other_days_reuses_the_parse_and_nothing_parsed_depends_on_the_days(
    tmp_path: Path, target_path: Path
):
    dsn = "postgresql://nobody@127.0.0.1:1/none"  # `dbt parse` connects to nothing
    saved_parse = target_path / "partial_parse.msgpack"

    first, events = dbt_as_cosmos(dsn, target_path, ["parse"], window(DAY_A))
    assert first.success, first.exception
    assert FULL_PARSE in events  # nothing saved yet
    parsed = saved_parse.read_bytes()
    nodes = kept_nodes(target_path)
    where = {node["config"].get("where") for node in nodes.values() if node["resource_type"] == "test"}
    # The window's tests keep placeholders, never a run's dates.
    assert where == {None, "sale_date in (__run_days__)", "sale_date >= __since_date__",
                     "audience_date = __logical_date__"}  # fmt: skip

    second, events = dbt_as_cosmos(dsn, target_path, ["parse"], window(DAY_B + timedelta(days=30)))
    assert second.success, second.exception
    assert SKIPPED_PARSE in events
    assert FULL_PARSE not in events
    assert saved_parse.read_bytes() == parsed  # not rewritten: the first run's parse, reused

    # dbt's own rule, for contrast: the command line's vars are part of the parse's state, so
    # the same window as `--vars` (dbt run by hand) re-parses everything...
    by_hand, events = dbt_as_cosmos(
        dsn, target_path, ["parse"], None, "--vars", json.dumps(window(DAY_B).dbt_vars())
    )
    assert by_hand.success, by_hand.exception
    assert FULL_PARSE in events
    assert SKIPPED_PARSE not in events
    # ... and gets the same parse: no model, test or hook dbt keeps depends on the window.
    assert kept_nodes(target_path) == nodes


def test_the_second_run_tests_its_own_days_not_the_days_of_the_kept_parse(
    warehouse: str, lake: str, target_path: Path
):
    simulate_days(warehouse, lake, DAY_A, DAY_B, SimulatorConfig(sales_per_day=20, dirty_rate=0.0))
    # A sale of day B whose customer does not exist (written straight into raw, past the
    # contracts): the relationships test of silver_sales fails on day B, and only there.
    with psycopg.connect(warehouse) as conn:
        conn.execute(
            "create temporary table orphan as select * from raw.sales"
            " where (date::timestamptz at time zone 'America/Sao_Paulo')::date = %s limit 1",
            (DAY_B,),
        )
        conn.execute(
            "update orphan set sale_id = %s, customer_id = %s, _airbyte_raw_id = gen_random_uuid()",
            (ORPHAN_SALE_ID, UNKNOWN_CUSTOMER_ID),
        )
        assert conn.execute("insert into raw.sales select * from orphan").rowcount == 1
    saved_parse = target_path / "partial_parse.msgpack"

    # Run 1, day A: builds every day (a first build), tests day A: passes.
    first, events = dbt_as_cosmos(warehouse, target_path, ["build"], window(DAY_A))
    assert first.success, first.exception or first.result
    assert FULL_PARSE in events
    assert {statuses(target_path)[test] for test in ORPHAN_TESTS} == {"pass"}
    parsed = saved_parse.read_bytes()

    # Run 2, day B, on the kept parse: tests day B, so the orphan fails the build.
    second, events = dbt_as_cosmos(warehouse, target_path, ["build"], window(DAY_B))
    assert SKIPPED_PARSE in events
    assert FULL_PARSE not in events
    assert saved_parse.read_bytes() == parsed
    assert not second.success
    failed = {name for name, status in statuses(target_path).items() if status in ("fail", "error")}
    assert failed == ORPHAN_TESTS, failed


def statuses(target_path: Path) -> dict[str, str]:
    """{test name (without its hash): status} of the last run (run_results.json)."""
    results = json.loads((target_path / "run_results.json").read_text())["results"]
    names: Iterator[tuple[str, str]] = (
        (result["unique_id"].split(".")[2], result["status"])
        for result in results
        if result["unique_id"].startswith("test.")
    )
    return dict(names)
