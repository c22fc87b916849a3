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
    dsn: str,
    since: date,
    until: date,
    run_days: Sequence[date] = (),
    full_refresh: bool = False,
    data_tests: bool = True,
) -> None:
    """`dbt_build` through dbt's Python entry point, as Cosmos's watcher runs it: for tests that
    build many times, where a new interpreter per build would cost seconds each. With `run_days`,
    passed as the transform DAG passes them (one comma-separated string); without `data_tests`,
    the models only (a test's build whose state a later build checks)."""
    arguments = dbt_build_arguments(
        since, until, run_days, full_refresh, settings.DBT_TARGET, DBT_TARGET_PATH, data_tests
    )
    result = dbt_runner.invoke(dsn, arguments)
    assert result.success, f"dbt build {since}..{until} failed: {result.exception or result.result}"


def dbt_build_arguments(
    since: date,
    until: date,
    run_days: Sequence[date],
    full_refresh: bool,
    target: str,
    target_path: str,
    data_tests: bool = True,
) -> list[str]:
    """The arguments of an in-process `dbt build` over [since, until] on `target`."""
    project = str(settings.DBT_PROJECT_DIR)
    values = {"since_date": since.isoformat(), "logical_date": until.isoformat()}
    if run_days:
        values["run_days"] = ",".join(day.isoformat() for day in run_days)
    return [
        "--quiet", "build", "--exclude-resource-type", "unit_test", *([] if data_tests else ["test"]),
        "--vars", json.dumps(values),
        "--project-dir", project, "--profiles-dir", project, "--target", target,
        "--target-path", target_path, *(["--full-refresh"] if full_refresh else []),
    ]  # fmt: skip


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


# Postgres types (information_schema's data_type) that DuckDB spells otherwise; the rest keep
# their name (bigint, integer, boolean, date, text, uuid, ...).
DUCKDB_TYPES = {
    "timestamp with time zone": "timestamptz",
    "timestamp without time zone": "timestamp",
    "character varying": "varchar",
    "jsonb": "json",
    "ARRAY": "varchar",  # raw.loads' list of days: no model reads it
}


def export_sources_to_parquet(dsn: str, folder: Path, schemas: Sequence[str] = ("raw", "campaign")) -> Path:
    """Every table and view of `schemas` at `dsn` as `folder/<schema>/<name>.parquet`, typed as in
    Postgres (what the dbt project's `duckdb` target reads as its sources). Through CSV, which
    both engines read and write exactly: Postgres's COPY in UTC, DuckDB's reader told each
    column's type and that a quoted empty field is an empty string, not a null."""
    import duckdb

    duck = duckdb.connect()
    with psycopg.connect(dsn) as conn:
        conn.execute("set timezone to 'UTC'")
        relations = conn.execute(
            "select table_schema, table_name from information_schema.tables"
            " where table_schema = any(%s) order by 1, 2",
            (list(schemas),),
        ).fetchall()
        for schema, name in relations:
            columns = conn.execute(
                "select column_name, data_type, numeric_precision, numeric_scale"
                " from information_schema.columns where table_schema = %s and table_name = %s"
                " order by ordinal_position",
                (schema, name),
            ).fetchall()
            types = {}
            for column, data_type, precision, scale in columns:
                if data_type == "numeric":  # unbounded numeric: prices and salaries, 2 decimals
                    types[column] = f"decimal({precision or 38}, {scale if precision else 10})"
                else:
                    types[column] = DUCKDB_TYPES.get(data_type, data_type)
            csv_file = folder / schema / f"{name}.csv"
            csv_file.parent.mkdir(parents=True, exist_ok=True)
            copy = sql.SQL("copy (select * from {}) to stdout with (format csv, header true)")
            with (
                csv_file.open("wb") as out,
                conn.cursor().copy(copy.format(sql.Identifier(schema, name))) as rows,
            ):
                for block in rows:
                    out.write(block)
            duck.execute(
                "copy (select * from read_csv(?, header = true, columns = ?, allow_quoted_nulls = false))"
                " to '" + str(csv_file.with_suffix(".parquet")).replace("'", "''") + "' (format parquet)",
                [str(csv_file), types],
            )
            csv_file.unlink()
    duck.close()
    return folder


def dbt_build_duckdb(
    since: date, until: date, run_days: Sequence[date] = (), data_tests: bool = True
) -> None:
    """`dbt build --target duckdb` in-process, into the DuckDB file LIFTOFF_DUCKDB_PATH from the
    Parquet sources under LIFTOFF_DUCKDB_SOURCES (export_sources_to_parquet's folder), both set by
    the caller. Its own target folder: the Postgres builds' partial parse stays valid."""
    from dbt.cli.main import dbtRunner

    arguments = dbt_build_arguments(
        since, until, run_days, False, "duckdb", DBT_TARGET_PATH + "-duckdb", data_tests
    )
    result = dbtRunner().invoke(arguments)
    assert result.success, (
        f"dbt build --target duckdb {since}..{until} failed: {result.exception or result.result}"
    )
