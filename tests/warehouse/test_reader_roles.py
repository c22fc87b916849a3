"""The analysts' role (liftoff.warehouse.roles.ANALYST) reads silver and gold but the relations it
must never see, nothing else, writes nothing, and keeps exactly that after dbt re-creates the
layers; the dashboard's role, applied by the same code, still reads gold only. Both are applied by
the command line and the local stack, and the worked-example notebook runs on the analyst's URL.

Built on the dashboard tests' warehouse (tests/apps/dashboard/conftest.py: simulator → loader →
`dbt build`), with both roles applied on top.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg import errors, sql

from liftoff import settings
from liftoff.devstack import stack
from liftoff.warehouse.roles import ANALYST, DASHBOARD, apply_all
from tests.apps.dashboard.conftest import FIRST_DAY, LAST_DAY, gold_warehouse  # noqa: F401 (a fixture)
from tests.apps.dashboard.test_dashboard_role import as_dashboard as as_reader
from tests.warehouses import create_database, dbt_build, drop_database, scratch_database

# Needs the embedded Postgres (the roles are real PostgreSQL roles): not in `make test-fast`.
pytestmark = pytest.mark.services

NOTEBOOK = settings.PROJECT_ROOT / "include" / "notebooks" / "analyst_example.ipynb"


@pytest.fixture(scope="module")
def readers_warehouse(gold_warehouse):  # noqa: F811 (the imported fixture)
    """The dashboard tests' warehouse with every reader role applied (`make up` does the same)."""
    apply_all(gold_warehouse.admin_dsn)
    return gold_warehouse


def as_analyst(warehouse) -> psycopg.Connection:
    return as_reader(ANALYST.url(warehouse.admin_dsn))


def relations(admin_dsn: str, schemas: tuple[str, ...]) -> set[str]:
    """Every table and view in `schemas`, as schema.name."""
    with psycopg.connect(admin_dsn) as conn:
        rows = conn.execute(
            "select n.nspname || '.' || c.relname from pg_class as c"
            " inner join pg_namespace as n on c.relnamespace = n.oid"
            " where n.nspname = any(%s) and c.relkind in ('r', 'v', 'm', 'p')",
            (list(schemas),),
        ).fetchall()
    return {name for (name,) in rows}


def object_ids(admin_dsn: str, names: tuple[str, ...]) -> dict[str, int]:
    with psycopg.connect(admin_dsn) as conn:
        return {name: conn.execute("select %s::regclass::oid", (name,)).fetchone()[0] for name in names}


def select_one(conn: psycopg.Connection, relation: str) -> None:
    schema, table = relation.split(".")
    conn.execute(sql.SQL("select * from {} limit 1").format(sql.Identifier(schema, table))).fetchall()


def test_the_analyst_reads_every_silver_and_gold_relation_but_the_excluded(readers_warehouse):
    readable = relations(readers_warehouse.admin_dsn, ANALYST.schemas) - set(ANALYST.never)
    # The layers as dbt built them, campaign views included.
    assert {"silver.sales", "silver.customers", "gold.daily_sales", "gold.campaign_copy"} <= readable
    with as_analyst(readers_warehouse) as conn:
        assert conn.execute("select current_user").fetchone()[0] == "liftoff_analyst"
        for relation in sorted(readable):
            select_one(conn, relation)
        assert conn.execute("select count(*) from silver.sales").fetchone()[0] > 0


def test_the_campaign_message_log_is_excluded_and_exists(readers_warehouse):
    assert set(ANALYST.never) <= relations(readers_warehouse.admin_dsn, ("gold",))
    for relation in ANALYST.never:
        with as_analyst(readers_warehouse) as conn, pytest.raises(errors.InsufficientPrivilege):
            select_one(conn, relation)


@pytest.mark.parametrize(
    "relation",
    [
        "raw.sales",
        "raw.customers",
        "raw.quarantine",  # rejected records' payloads
        "raw.loads",
        "bronze.bronze_customers",
        "campaign.recipients",  # addresses and chat ids
        "campaign.send_log",
        "campaign.telegram_links",
        "campaign.consent_exclusions",
        "quality.results",  # failing samples
        "access.reader_exclusions",
    ],
)
def test_the_analyst_cannot_read_other_schemas(readers_warehouse, relation):
    with as_analyst(readers_warehouse) as conn, pytest.raises(errors.InsufficientPrivilege):
        select_one(conn, relation)


def test_the_analyst_cannot_read_dbt_failing_rows_in_audit(readers_warehouse):
    """dbt stores a failing test's rows (customers' records among them) in audit; made here."""
    with psycopg.connect(readers_warehouse.admin_dsn, autocommit=True) as admin:
        admin.execute("create schema if not exists audit")
        admin.execute("create table if not exists audit.failing_rows as table silver.customers limit 3")
    with as_analyst(readers_warehouse) as conn, pytest.raises(errors.InsufficientPrivilege):
        select_one(conn, "audit.failing_rows")


def test_the_analyst_cannot_even_connect_to_the_crm_database(readers_warehouse, crm_database):
    """The CRM database is closed to every role it does not name (include/sql/crm_roles.sql)."""
    with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
        as_reader(ANALYST.url(crm_database)).close()


@pytest.mark.parametrize(
    "statement",
    [
        "insert into silver.sales (sale_id) values (-1)",
        "update silver.customers set city = 'x'",
        "delete from gold.daily_sales",
        "truncate silver.sales",
        "drop table gold.daily_sales",
        "drop view gold.campaign_copy",
        "create table silver.mine (x int)",
        "create table gold.mine (x int)",
        "create table public.mine (x int)",
        "create temporary table mine (x int)",
        "create schema mine",
        "alter table silver.customers add column mine int",
        "insert into access.reader_exclusions values ('liftoff_analyst', 'gold.daily_sales')",
        "delete from access.reader_exclusions",
    ],
)
def test_the_analyst_cannot_write_anything(readers_warehouse, statement):
    with as_analyst(readers_warehouse) as conn, pytest.raises(errors.InsufficientPrivilege):
        conn.execute(statement)


def test_analyst_sessions_are_read_only_with_a_timeout(readers_warehouse):
    with psycopg.connect(ANALYST.url(readers_warehouse.admin_dsn), autocommit=True) as conn:
        with pytest.raises(errors.ReadOnlySqlTransaction):
            conn.execute("create temporary table mine (x int)")
        assert conn.execute("show statement_timeout").fetchone()[0] == ANALYST.statement_timeout


def test_the_dashboard_still_reads_gold_only(readers_warehouse):
    with as_reader(DASHBOARD.url(readers_warehouse.admin_dsn)) as conn:
        for relation in sorted(relations(readers_warehouse.admin_dsn, ("gold",))):
            select_one(conn, relation)  # the Campanhas page reads gold.campaign_messages
        for relation in ("silver.sales", "silver.customers", "raw.sales"):
            with pytest.raises(errors.InsufficientPrivilege):
                select_one(conn, relation)


def test_a_dbt_rebuild_keeps_exactly_the_same_access(readers_warehouse):
    """A full refresh re-creates every silver and gold table and view: the default privileges must
    grant the new ones, and the post-hook (macros/access.sql) must take the excluded one back."""
    name = f"analyst_rebuild_{uuid.uuid4().hex[:8]}"
    admin = create_database(name, template=readers_warehouse.name)
    try:
        before = relations(admin, ANALYST.schemas)
        rebuilt = ("silver.sales", "gold.daily_sales", *ANALYST.never)
        oids_before = object_ids(admin, rebuilt)
        dbt_build(admin, FIRST_DAY, LAST_DAY, "--full-refresh")
        after = object_ids(admin, rebuilt)
        assert all(after[relation] != oids_before[relation] for relation in rebuilt)  # re-created
        assert relations(admin, ANALYST.schemas) == before
        with as_reader(ANALYST.url(admin)) as conn:
            for relation in sorted(before - set(ANALYST.never)):
                select_one(conn, relation)
            for relation in ANALYST.never:
                with pytest.raises(errors.InsufficientPrivilege):
                    select_one(conn, relation)
        with as_reader(DASHBOARD.url(admin)) as conn:
            select_one(conn, "gold.campaign_messages")
            with pytest.raises(errors.InsufficientPrivilege):
                select_one(conn, "silver.sales")
    finally:
        drop_database(name)


def test_the_command_line_applies_both_roles():
    """`python -m liftoff.warehouse.roles URL` on a warehouse dbt has not built yet, with the
    passwords (and, so as not to change the session's roles, the names) from the environment."""
    suffix = uuid.uuid4().hex[:8]
    names = {ANALYST: f"cli_analyst_{suffix}", DASHBOARD: f"cli_dashboard_{suffix}"}
    env = dict(os.environ)
    for reader, role in names.items():
        env[reader.name_env] = role
        env[reader.password_env] = f"pw-{role}"
    try:
        with scratch_database("analyst_cli") as (_, admin):
            command = [sys.executable, "-m", "liftoff.warehouse.roles", admin]
            done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=settings.PROJECT_ROOT)
            assert done.returncode == 0, done.stderr
            assert names[ANALYST] in done.stdout
            assert names[DASHBOARD] in done.stdout
            with psycopg.connect(admin, autocommit=True) as conn:  # what dbt builds later
                conn.execute("create table silver.probe as select 1 as x")
                conn.execute("create table gold.probe as select 1 as x")
            analyst = ANALYST.url(admin, names[ANALYST], f"pw-{names[ANALYST]}")
            dashboard = DASHBOARD.url(admin, names[DASHBOARD], f"pw-{names[DASHBOARD]}")
            with as_reader(analyst) as conn:
                select_one(conn, "silver.probe")
                select_one(conn, "gold.probe")
            with as_reader(dashboard) as conn:
                select_one(conn, "gold.probe")
                with pytest.raises(errors.InsufficientPrivilege):
                    select_one(conn, "silver.probe")
    finally:
        with psycopg.connect(stack.embedded_postgres().url("postgres"), autocommit=True) as conn:
            for role in names.values():
                conn.execute(sql.SQL("drop role if exists {}").format(sql.Identifier(role)))


def test_the_local_stack_applies_both_roles_and_exports_the_analysts_url(monkeypatch):
    """`make up` / `prepare` apply the roles; `make shell` exports LIFTOFF_ANALYST_URL with them."""
    with scratch_database("analyst_stack") as (name, admin):
        connection = json.loads(os.environ[stack.WAREHOUSE_CONN_ENV]) | {"schema": name}
        monkeypatch.setenv(stack.WAREHOUSE_CONN_ENV, json.dumps(connection))
        for reader in (ANALYST, DASHBOARD):
            monkeypatch.delenv(reader.url_env, raising=False)
        env = stack.environment(start_services=False)
        stack.prepare_dashboard_role(env)
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute("create table silver.probe as select 1 as x")
        with as_reader(env["LIFTOFF_ANALYST_URL"]) as conn:
            who = conn.execute("select current_user, current_database()").fetchone()
            assert who == ("liftoff_analyst", name)
            select_one(conn, "silver.probe")
        with as_reader(env["LIFTOFF_DASHBOARD_URL"]) as conn, pytest.raises(errors.InsufficientPrivilege):
            select_one(conn, "silver.probe")


def test_the_worked_example_notebook_runs_as_the_analyst(monkeypatch, readers_warehouse):
    """Runs include/notebooks/analyst_example.ipynb's code cells in order, in one namespace, as a
    kernel would (the venv has no Jupyter kernel machinery, and needs none for this): every
    DataFrame it builds has rows, and the refusals it shows are the role's."""
    monkeypatch.setenv("LIFTOFF_ANALYST_URL", ANALYST.url(readers_warehouse.admin_dsn))
    cells = json.loads(Path(NOTEBOOK).read_text())["cells"]
    namespace: dict = {}
    for number, cell in enumerate(cells):
        if cell["cell_type"] == "code":
            exec(compile("".join(cell["source"]), f"{NOTEBOOK.name} cell {number}", "exec"), namespace)  # noqa: S102 (our notebook)
    import pandas as pd

    frames = {name: value for name, value in namespace.items() if isinstance(value, pd.DataFrame)}
    assert {"readable", "daily", "by_state"} <= frames.keys()
    for name, frame in frames.items():
        assert not frame.empty, name
    listed = set(frames["readable"]["table_schema"] + "." + frames["readable"]["table_name"])
    assert {"silver.sales", "gold.daily_sales"} <= listed
    assert not listed & set(ANALYST.never)
    refused = {"raw.sales", "raw.quarantine", "campaign.recipients", "gold.campaign_messages"}
    assert set(namespace["refused"]) == refused
