"""Warehouses for tests: scratch databases on the test cluster, filled the way production fills
them (simulator → landing zone → loader → `dbt build`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

import psycopg
from psycopg import sql

from liftoff import settings
from liftoff.devstack import stack
from liftoff.ingest.simulator import SimulatorConfig
from liftoff.orchestration import ENTITIES
from liftoff.transform import dbt_runner

# dbt's output folder for the tests' builds, one per pytest-xdist worker (two dbt runs must not
# share a target folder: each rewrites its manifest and partial-parse file).
DBT_TARGET_PATH = "target-tests" + (
    f"-{os.environ['PYTEST_XDIST_WORKER']}" if "PYTEST_XDIST_WORKER" in os.environ else ""
)


def create_database(name: str, template: str | None = None) -> str:
    """A new database on the test cluster (a copy of `template` if given); its libpq URL."""
    statement = sql.SQL("create database {}").format(sql.Identifier(name))
    if template:
        statement = sql.SQL("create database {} template {}").format(
            sql.Identifier(name), sql.Identifier(template)
        )
    pg = stack.embedded_postgres()
    with psycopg.connect(pg.url("postgres"), autocommit=True) as conn:
        conn.execute(statement)
    return pg.url(name)


def drop_database(name: str) -> None:
    pg = stack.embedded_postgres()
    with psycopg.connect(pg.url("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


@contextmanager
def scratch_database(prefix: str) -> Iterator[tuple[str, str]]:
    """(name, URL) of a fresh database, dropped afterwards whatever happens."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    url = create_database(name)
    try:
        yield name, url
    finally:
        drop_database(name)


def simulate_days(
    dsn: str,
    lake: str,
    first: date,
    last: date,
    config: SimulatorConfig,
    full_refresh_every_day: bool = False,
) -> None:
    """Land and load every entity for each day from `first` to `last` (the first a full refresh,
    or every day: what a backfill with `full_refresh` in its run conf lands)."""
    from liftoff.ingest.daily import land_simulated_day, load_landed_day

    day = first
    while day <= last:
        for entity in ENTITIES:
            land_simulated_day(lake, entity, day, config, full_refresh=full_refresh_every_day or day == first)
            load_landed_day(dsn, lake, entity, day, run_id=f"test-{day}")
        day += timedelta(days=1)


def dbt_build(dsn: str, since: date, until: date, *extra: str) -> None:
    """One `dbt build` of the project over [since, until] (into its own target folder, so the
    manifest that Cosmos renders from stays untouched); `extra`: more arguments (`--full-refresh`)."""
    project = str(settings.DBT_PROJECT_DIR)
    variables = json.dumps({"since_date": since.isoformat(), "logical_date": until.isoformat()})
    command = [
        str(Path(sys.executable).parent / "dbt"), "build", "--exclude-resource-type", "unit_test",
        "--vars", variables, "--project-dir", project, "--profiles-dir", project,
        "--target", settings.DBT_TARGET, "--target-path", DBT_TARGET_PATH, *extra,
    ]  # fmt: skip
    env = {**os.environ, **dbt_runner.profile_env(dsn)}
    built = subprocess.run(command, capture_output=True, text=True, env=env, cwd=project)
    assert built.returncode == 0, built.stdout[-3000:]


def dbt_build_in_process(
    dsn: str, since: date, until: date, run_days: Sequence[date] = (), full_refresh: bool = False
) -> None:
    """`dbt_build` through dbt's Python entry point, as Cosmos's watcher runs it: for tests that
    build many times, where a new interpreter per build would cost seconds each. With `run_days`,
    passed as the transform DAG passes them (one comma-separated string)."""
    project = str(settings.DBT_PROJECT_DIR)
    values = {"since_date": since.isoformat(), "logical_date": until.isoformat()}
    if run_days:
        values["run_days"] = ",".join(day.isoformat() for day in run_days)
    arguments = [
        "--quiet", "build", "--exclude-resource-type", "unit_test", "--vars", json.dumps(values),
        "--project-dir", project, "--profiles-dir", project, "--target", settings.DBT_TARGET,
        "--target-path", DBT_TARGET_PATH, *(["--full-refresh"] if full_refresh else []),
    ]  # fmt: skip
    result = dbt_runner.invoke(dsn, arguments)
    assert result.success, f"dbt build {since}..{until} failed: {result.exception or result.result}"


def transform_like_the_dag(
    dsn: str, logical_date: date, event_days: Sequence[date] = (), since: date | None = None
):
    """What the transform DAG does, without Airflow: resolve the run's days from the load ledger,
    `dbt build` them, then mark the covered loads transformed (publish_gold). Returns the window."""
    from liftoff.transform.window import mark_transformed, resolve

    window = resolve(dsn, logical_date, event_days, since)
    dbt_build_in_process(dsn, window.since, window.until, window.run_days)
    mark_transformed(dsn, window.loads, run_id=f"test-transform-{logical_date}")
    return window
