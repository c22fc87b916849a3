"""A small real warehouse for the dashboard tests, built once per session the way production does:
simulator → landing zone → loader → `dbt build`, then the read-only role applied on top.

Also an empty-gold warehouse (every gold table there, no rows) and one with no gold at all.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import psycopg
import pytest
from psycopg import sql

from liftoff.apps.dashboard.role import apply_dashboard_role, dashboard_url
from liftoff.ingest.simulator import SimulatorConfig
from tests.warehouses import create_database, dbt_build, drop_database, simulate_days

FIRST_DAY = date(2026, 6, 1)
LAST_DAY = date(2026, 6, 6)
ENTITIES = ("suppliers", "products", "employees", "customers", "sales")


@dataclass(frozen=True)
class Warehouse:
    admin_dsn: str  # the superuser: builds and checks
    dashboard_dsn: str  # the read-only role: what the app uses
    name: str


@pytest.fixture(scope="session")
def gold_warehouse(tmp_path_factory) -> Iterator[Warehouse]:
    name = f"dash_{uuid.uuid4().hex[:10]}"
    admin = create_database(name)
    try:
        simulate_days(
            admin,
            tmp_path_factory.mktemp("lake").as_uri(),
            FIRST_DAY,
            LAST_DAY,
            SimulatorConfig(sales_per_day=60),
        )
        dbt_build(admin, FIRST_DAY, LAST_DAY)
        apply_dashboard_role(admin)
        yield Warehouse(admin, dashboard_url(admin), name)
    finally:
        drop_database(name)


@pytest.fixture(scope="session")
def empty_gold_warehouse(gold_warehouse) -> Iterator[Warehouse]:
    """Every gold table (and the rest of the warehouse) as built, but gold holds no rows."""
    name = f"dash_empty_{uuid.uuid4().hex[:8]}"
    admin = create_database(name, template=gold_warehouse.name)
    try:
        with psycopg.connect(admin, autocommit=True) as conn:
            tables = conn.execute("select tablename from pg_tables where schemaname = 'gold'").fetchall()
            for (table,) in tables:
                conn.execute(sql.SQL("truncate {}").format(sql.Identifier("gold", table)))
        apply_dashboard_role(admin)
        yield Warehouse(admin, dashboard_url(admin), name)
    finally:
        drop_database(name)


@pytest.fixture(scope="session")
def no_gold_warehouse() -> Iterator[Warehouse]:
    """A warehouse the pipeline never ran on: the role exists, gold has no tables."""
    name = f"dash_none_{uuid.uuid4().hex[:8]}"
    admin = create_database(name)
    try:
        apply_dashboard_role(admin)
        yield Warehouse(admin, dashboard_url(admin), name)
    finally:
        drop_database(name)
