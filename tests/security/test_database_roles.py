"""Issue 19, findings 4 and 5: every database role has only what it needs, and what a role can do
to itself (PostgreSQL lets any role change its own session settings and password) neither lifts the
app's limits nor survives the stack's next `prepare` (docs/security.md, Databases and roles).

Real roles on the embedded Postgres; scratch databases keep each test's grants its own.
"""

from __future__ import annotations

import json
import os

import psycopg
import pytest
from psycopg import errors, sql

from liftoff.apps.crm_api.roles import API, OWNER, READER
from liftoff.apps.dashboard.warehouse import WarehouseUnavailable, fetch_rows
from liftoff.devstack import stack
from liftoff.warehouse.roles import DASHBOARD, READERS, apply_all
from tests.warehouses import scratch_database

pytestmark = pytest.mark.services


@pytest.fixture
def readers_warehouse(monkeypatch):
    """A scratch warehouse with the reader roles applied; the `warehouse` connection points at it."""
    with scratch_database("wh_sec") as (name, admin):
        connection = json.loads(os.environ[stack.WAREHOUSE_CONN_ENV]) | {"schema": name}
        monkeypatch.setenv(stack.WAREHOUSE_CONN_ENV, json.dumps(connection))
        apply_all(admin)
        yield admin


@pytest.mark.parametrize("database", [stack.AIRFLOW_DB, stack.CRM_DB, "postgres"])
@pytest.mark.parametrize("reader", READERS, ids=lambda reader: reader.default_name)
def test_the_readers_cannot_connect_to_the_other_databases(readers_warehouse, reader, database):
    """`prepare` closes the cluster's other databases; PUBLIC may connect to any by default."""
    env = dict(os.environ)
    stack.prepare_crm_database(env | {stack.CRM_CONN_ENV: crm_connection(stack.CRM_DB)})
    stack.prepare_database_access(env)
    with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
        psycopg.connect(reader.url(stack.embedded_postgres().url(database))).close()
    # Still at home in the warehouse.
    with psycopg.connect(reader.url(readers_warehouse)) as conn:
        assert conn.execute("select current_user").fetchone()[0] == reader.name()


def crm_connection(database: str) -> str:
    return json.dumps(json.loads(os.environ[stack.CRM_CONN_ENV]) | {"schema": database})


def test_a_session_without_a_timeout_does_not_unbound_the_dashboards_queries(readers_warehouse):
    """The role may `SET statement_timeout = 0`; the app cancels at its own limit regardless."""
    query = sql.SQL("set statement_timeout = 0; select pg_sleep(5)")
    with pytest.raises(WarehouseUnavailable, match="statement timeout"):
        fetch_rows(DASHBOARD.url(readers_warehouse), query, statement_timeout_ms=300)


def test_prepare_restores_a_role_that_altered_itself(readers_warehouse):
    """A role can always change its own password and session defaults (even per database, which
    outranks the role-wide default); the stack's next `prepare` puts them back."""
    database = readers_warehouse.rsplit("/", 1)[1]
    with psycopg.connect(DASHBOARD.url(readers_warehouse), autocommit=True) as conn:
        conn.execute("set default_transaction_read_only = off")
        conn.execute(
            sql.SQL("alter role current_user in database {} set statement_timeout = 0").format(
                sql.Identifier(database)
            )
        )
        conn.execute("alter role current_user set default_transaction_read_only = off")
        conn.execute("alter role current_user password 'locked-out'")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(DASHBOARD.url(readers_warehouse)).close()

    stack.prepare_dashboard_role(stack.environment(start_services=False))

    with psycopg.connect(DASHBOARD.url(readers_warehouse)) as conn:
        assert conn.execute("show statement_timeout").fetchone()[0] == DASHBOARD.statement_timeout
        assert conn.execute("show default_transaction_read_only").fetchone()[0] == "on"


def test_the_crm_connection_reads_as_the_read_only_reader():
    assert json.loads(os.environ[stack.CRM_CONN_ENV])["login"] == READER.name()


@pytest.mark.parametrize(
    "statement",
    [
        "create table crm.mine (x int)",
        "create table public.mine (x int)",
        "create temporary table mine (x int)",
        "create schema mine",
        "drop table crm.customers",
        "alter table crm.customers add column mine int",
        "truncate crm.customers",
        "delete from crm.customers",
        "create index mine on crm.customers (email)",
        "update crm.alembic_version set version_num = 'none'",
    ],
)
def test_the_crm_apis_role_cannot_change_the_schema(crm_database, statement):
    with (
        psycopg.connect(API.url(crm_database), autocommit=True) as conn,
        pytest.raises((errors.InsufficientPrivilege, errors.WrongObjectType)),
    ):
        conn.execute(statement)


def test_the_crm_apis_role_is_a_plain_login(crm_database):
    with psycopg.connect(API.url(crm_database)) as conn:
        flags = conn.execute(
            "select rolsuper, rolcreaterole, rolcreatedb, rolbypassrls from pg_roles"
            " where rolname = current_user"
        ).fetchone()
        assert flags == (False, False, False, False)
        # Rows, yes: what the API serves.
        conn.execute("select count(*) from crm.customers").fetchone()


@pytest.mark.parametrize(
    "statement",
    [
        "insert into crm.api_keys (name, key_prefix, key_sha256) values ('x', 'x', 'x')",
        "update crm.customers set deleted_at = now()",
        "delete from crm.customers",
        "create table crm.mine (x int)",
        "truncate crm.customers",
    ],
)
def test_the_crm_reader_cannot_write(crm_database, statement):
    with psycopg.connect(READER.url(crm_database), autocommit=True) as conn:
        conn.execute("set default_transaction_read_only = off")  # the grants alone are tested
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute(statement)


def test_the_owner_migrates_and_owns_the_schema(crm_database):
    with psycopg.connect(crm_database) as conn:
        owners = conn.execute(
            "select distinct pg_get_userbyid(relowner) from pg_class as c"
            " inner join pg_namespace as n on c.relnamespace = n.oid where n.nspname = 'crm'"
        ).fetchall()
    assert owners == [(OWNER.name(),)]
