"""A small real warehouse for the dashboard tests, built once per session the way production does:
simulator → landing zone → loader → `dbt build`, then the read-only role applied on top.

Also an empty-gold warehouse (every gold table there, no rows) and one with no gold at all.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from liftoff import settings
from liftoff.dashboard.role import apply_dashboard_role, dashboard_url
from liftoff.localstack import stack

FIRST_DAY = date(2026, 6, 1)
LAST_DAY = date(2026, 6, 6)
ENTITIES = ("suppliers", "products", "employees", "customers", "sales")


@dataclass(frozen=True)
class Warehouse:
    admin_dsn: str  # the superuser: builds and checks
    dashboard_dsn: str  # the read-only role: what the app uses
    name: str


def _create_database(name: str, template: str | None = None) -> str:
    pg = stack.embedded_postgres()
    statement = sql.SQL("create database {}").format(sql.Identifier(name))
    if template:
        statement = sql.SQL("create database {} template {}").format(
            sql.Identifier(name), sql.Identifier(template)
        )
    with psycopg.connect(pg.url("postgres"), autocommit=True) as conn:
        conn.execute(statement)
    return pg.url(name)


def _drop_database(name: str) -> None:
    pg = stack.embedded_postgres()
    with psycopg.connect(pg.url("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


def dbt_build(dsn: str, since: date, until: date) -> None:
    env = {**os.environ, **stack._dbt_profile_env(dsn)}
    project = str(settings.DBT_PROJECT_DIR)
    variables = f'{{"since_date": "{since}", "logical_date": "{until}"}}'
    command = [
        str(Path(sys.executable).parent / "dbt"), "build", "--exclude-resource-type", "unit_test",
        "--vars", variables, "--project-dir", project, "--profiles-dir", project,
        "--target-path", "target-tests",
    ]  # fmt: skip
    built = subprocess.run(command, capture_output=True, text=True, env=env, cwd=project)
    assert built.returncode == 0, built.stdout[-3000:]


def build_warehouse(dsn: str, lake: str, first: date, last: date, sales_per_day: float) -> None:
    from liftoff.ingest import land_simulated_day, load_landed_day
    from liftoff.simulator import SimulatorConfig

    config = SimulatorConfig(sales_per_day=sales_per_day)
    day = first
    while day <= last:
        for entity in ENTITIES:
            land_simulated_day(lake, entity, day, config, full_refresh=day == first)
            load_landed_day(dsn, lake, entity, day, run_id=f"dashboard-{day}")
        day += timedelta(days=1)
    dbt_build(dsn, first, last)


@pytest.fixture(scope="session")
def gold_warehouse(tmp_path_factory) -> Iterator[Warehouse]:
    name = f"dash_{uuid.uuid4().hex[:10]}"
    admin = _create_database(name)
    try:
        build_warehouse(admin, (tmp_path_factory.mktemp("lake")).as_uri(), FIRST_DAY, LAST_DAY, 60)
        apply_dashboard_role(admin)
        yield Warehouse(admin, dashboard_url(admin), name)
    finally:
        _drop_database(name)


@pytest.fixture(scope="session")
def empty_gold_warehouse(gold_warehouse) -> Iterator[Warehouse]:
    """Every gold table (and the rest of the warehouse) as built, but gold holds no rows."""
    name = f"dash_empty_{uuid.uuid4().hex[:8]}"
    admin = _create_database(name, template=gold_warehouse.name)
    try:
        with psycopg.connect(admin, autocommit=True) as conn:
            tables = conn.execute("select tablename from pg_tables where schemaname = 'gold'").fetchall()
            for (table,) in tables:
                conn.execute(sql.SQL("truncate {}").format(sql.Identifier("gold", table)))
        apply_dashboard_role(admin)
        yield Warehouse(admin, dashboard_url(admin), name)
    finally:
        _drop_database(name)


@pytest.fixture(scope="session")
def no_gold_warehouse() -> Iterator[Warehouse]:
    """A warehouse the pipeline never ran on: the role exists, gold has no tables."""
    name = f"dash_none_{uuid.uuid4().hex[:8]}"
    admin = _create_database(name)
    try:
        apply_dashboard_role(admin)
        yield Warehouse(admin, dashboard_url(admin), name)
    finally:
        _drop_database(name)
