"""The dashboard's role reads gold and nothing else: other layers are closed to it, it cannot write
anywhere (even after switching its session out of read-only), and tables dbt (re)creates in gold
later stay readable through default privileges."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import errors

from liftoff.apps.dashboard.role import apply_dashboard_role

# Needs the embedded Postgres (the role is a real PostgreSQL role): not in `make test-fast`.
pytestmark = pytest.mark.services


def as_dashboard(dsn: str) -> psycopg.Connection:
    conn = psycopg.connect(dsn, autocommit=True)
    # Its sessions start read-only; switch that off so the grants alone are what is tested.
    conn.execute("set default_transaction_read_only = off")
    return conn


def test_the_role_reads_gold(gold_warehouse):
    with as_dashboard(gold_warehouse.dashboard_dsn) as conn:
        assert conn.execute("select count(*) from gold.daily_sales").fetchone()[0] > 0
        assert conn.execute("select current_user").fetchone()[0] == "liftoff_dashboard"


@pytest.mark.parametrize("table", ["raw.sales", "raw.quarantine", "bronze.bronze_sales", "silver.sales"])
def test_the_role_cannot_read_other_layers(gold_warehouse, table):
    with as_dashboard(gold_warehouse.dashboard_dsn) as conn, pytest.raises(errors.InsufficientPrivilege):
        conn.execute(f"select * from {table} limit 1")


@pytest.mark.parametrize(
    "statement",
    [
        "insert into gold.daily_sales (sale_date) values ('1999-01-01')",
        "update gold.daily_sales set revenue = 0",
        "delete from gold.daily_sales",
        "truncate gold.daily_sales",
        "drop table gold.daily_sales",
        "create table gold.mine (x int)",
        "create table public.mine (x int)",
        "create temporary table mine (x int)",
        "create schema mine",
        "insert into raw.sales (sale_id) values (1)",
        "alter table gold.daily_sales add column mine int",
    ],
)
def test_the_role_cannot_write_anything(gold_warehouse, statement):
    with as_dashboard(gold_warehouse.dashboard_dsn) as conn, pytest.raises(errors.InsufficientPrivilege):
        conn.execute(statement)


def test_sessions_are_read_only_by_default(gold_warehouse):
    with psycopg.connect(gold_warehouse.dashboard_dsn, autocommit=True) as conn:
        with pytest.raises(errors.ReadOnlySqlTransaction):
            conn.execute("create temporary table mine (x int)")
        assert conn.execute("show statement_timeout").fetchone()[0] == "15s"


def test_tables_rebuilt_in_gold_stay_readable_and_applying_twice_is_harmless(gold_warehouse):
    with psycopg.connect(gold_warehouse.admin_dsn, autocommit=True) as admin:
        # What dbt does on every run of a table model: build a new relation, swap it in.
        admin.execute("create table gold.hires_per_month__new as select * from gold.hires_per_month")
        admin.execute("drop table gold.hires_per_month")
        admin.execute("alter table gold.hires_per_month__new rename to hires_per_month")
    apply_dashboard_role(gold_warehouse.admin_dsn)
    apply_dashboard_role(gold_warehouse.admin_dsn)
    with as_dashboard(gold_warehouse.dashboard_dsn) as conn:
        assert conn.execute("select count(*) from gold.hires_per_month").fetchone()[0] > 0
