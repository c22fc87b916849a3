"""The warehouse's own schemas under Alembic: a warehouse built by the `create ... if not exists`
files of before (tests/warehouse/fixtures, from commit 25bbcca) is upgraded in place, data kept,
to exactly the schema a new warehouse gets; at head an upgrade does nothing; tasks that upgrade
at the same moment all succeed."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from liftoff.warehouse import migrate

FIXTURES = Path(__file__).resolve().parent / "fixtures"
# Applied in the order the tasks of before applied them: the loader (raw, campaign), then the gate.
PREVIOUS_DDL = ("raw_tables.sql", "campaign_tables.sql", "quality_tables.sql")
SCHEMAS = ["raw", "quality", "campaign"]


def build_previous_warehouse(dsn: str) -> None:
    with psycopg.connect(dsn) as conn:
        for name in PREVIOUS_DDL:
            conn.execute((FIXTURES / name).read_text())


def schema_of(dsn: str) -> dict[str, list[tuple]]:
    """Everything about the tables of raw, quality and campaign that a migration could change."""
    queries = {
        "relations": "select table_schema, table_name, table_type from information_schema.tables"
        " where table_schema = any(%(schemas)s)",
        "columns": "select table_schema, table_name, ordinal_position, column_name, data_type, udt_name,"
        " character_maximum_length, numeric_precision, numeric_scale, is_nullable, column_default,"
        " is_identity from information_schema.columns where table_schema = any(%(schemas)s)",
        "indexes": "select schemaname, tablename, indexname, indexdef from pg_catalog.pg_indexes"
        " where schemaname = any(%(schemas)s)",
        "constraints": "select n.nspname, c.conrelid::regclass::text, c.conname, c.contype,"
        " pg_catalog.pg_get_constraintdef(c.oid) from pg_catalog.pg_constraint as c"
        " inner join pg_catalog.pg_namespace as n on c.connamespace = n.oid"
        " where n.nspname = any(%(schemas)s)",
        "views": "select schemaname, viewname, definition from pg_catalog.pg_views"
        " where schemaname = any(%(schemas)s)",
        "sequences": "select schemaname, sequencename, data_type::text, increment_by"
        " from pg_catalog.pg_sequences where schemaname = any(%(schemas)s)",
    }
    with psycopg.connect(dsn) as conn:
        return {
            name: sorted(conn.execute(query, {"schemas": SCHEMAS}).fetchall(), key=repr)
            for name, query in queries.items()
        }


def rows_of(dsn: str) -> dict[str, list[str]]:
    """Every row of every base table in raw, quality and campaign, as text."""
    with psycopg.connect(dsn) as conn:
        tables = conn.execute(
            "select table_schema, table_name from information_schema.tables"
            " where table_schema = any(%s) and table_type = 'BASE TABLE'",
            (SCHEMAS,),
        ).fetchall()
        return {
            f"{schema}.{table}": sorted(
                row
                for (row,) in conn.execute(
                    sql.SQL("select t::text from {} as t").format(sql.Identifier(schema, table))
                ).fetchall()
            )
            for schema, table in tables
        }


def insert_a_few_rows(dsn: str) -> None:
    """Rows in each schema, as a load, a gate and a campaign of before left them."""
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "insert into raw.sales (_liftoff_logical_date, sale_id, customer_id, product_id, quantity,"
            " price, date) values ('2026-11-30', 1, 10, 100, 2, 19.90, '2026-11-30 12:00-03')"
        )
        conn.execute(
            "insert into raw.customers (_liftoff_logical_date, customer_id, first_name, email)"
            " values ('2026-11-30', 10, 'Ana', 'ana@example.com')"
        )
        conn.execute(
            "insert into raw.quarantine (entity, natural_key, field, reason, violations, source_file,"
            " logical_date, run_id) values ('sales', '2', 'price', 'negative', '[]', 'sales.jsonl',"
            " '2026-11-30', 'run-1')"
        )
        conn.execute(
            "insert into raw.loads (entity, logical_date, run_id, rows_loaded, data_days)"
            " values ('sales', '2026-11-30', 'run-1', 1, '{2026-11-30}')"
        )
        conn.execute(
            "insert into quality.results (logical_date, suite, expectation, success, arguments, run_id)"
            " values ('2026-11-30', 'silver_sales', 'expect_column_values_to_not_be_null', true, '{}',"
            " 'run-1')"
        )
        conn.execute(
            "insert into campaign.campaigns (campaign_id, logical_date) values ('c-1', '2026-11-30')"
        )
        conn.execute(
            "insert into campaign.send_log (campaign_id, customer_id, channel, logical_date, status, sent_at)"
            " values ('c-1', 10, 'email', '2026-11-30', 'sent', now())"
        )
        conn.execute(
            "insert into campaign.opt_outs (customer_id, channel, reason, source)"
            " values (11, 'all', 'asked', 'unsubscribe link')"
        )


def test_a_warehouse_built_by_the_previous_ddl_is_upgraded_in_place(warehouse):
    from tests.warehouses import scratch_database

    build_previous_warehouse(warehouse)
    insert_a_few_rows(warehouse)
    before = rows_of(warehouse)
    assert migrate.current(warehouse) is None

    migrate.upgrade(warehouse, "0001")  # the adoption: every row kept as it was
    after = rows_of(warehouse)
    assert after.pop(f"{migrate.VERSION_SCHEMA}.{migrate.VERSION_TABLE}") == ["(0001)"]
    assert after == before
    assert sum(map(len, after.values())) == 8

    migrate.upgrade(warehouse)  # later revisions may add columns and tables; they keep every row
    assert migrate.current(warehouse) == migrate.head()
    at_head = rows_of(warehouse)
    at_head.pop(f"{migrate.VERSION_SCHEMA}.{migrate.VERSION_TABLE}")
    assert {table: len(rows) for table, rows in at_head.items() if table in before} == {
        table: len(rows) for table, rows in before.items()
    }
    assert {table: rows for table, rows in at_head.items() if table not in before and rows} == {}
    with scratch_database("wh_fresh") as (_, fresh):
        migrate.upgrade(fresh)
        assert schema_of(warehouse) == schema_of(fresh)


def test_at_head_an_upgrade_runs_no_migration(warehouse, monkeypatch):
    import alembic.command

    migrate.upgrade(warehouse)
    schema, rows = schema_of(warehouse), rows_of(warehouse)

    def no_alembic(*args, **kwargs):
        raise AssertionError("Alembic ran on a warehouse at head")

    monkeypatch.setattr(alembic.command, "upgrade", no_alembic)
    migrate.upgrade(warehouse)
    assert (schema_of(warehouse), rows_of(warehouse)) == (schema, rows)


def test_running_the_migrations_again_at_head_changes_nothing(warehouse):
    """Alembic itself, asked to upgrade a warehouse at head (what a task that waited for the lock
    does once the first has migrated), leaves it as it is."""
    from alembic import command

    migrate.upgrade(warehouse)
    schema, rows = schema_of(warehouse), rows_of(warehouse)
    command.upgrade(migrate.alembic_config(warehouse), "head")
    assert (schema_of(warehouse), rows_of(warehouse)) == (schema, rows)


def test_concurrent_upgrades_of_an_empty_warehouse_all_succeed(warehouse):
    """Two tasks (processes) find the warehouse empty and migrate at once: one waits for the other."""
    code = "import sys; from liftoff.warehouse.migrate import upgrade; upgrade(sys.argv[1])"
    with psycopg.connect(warehouse) as holder:
        # Hold the migrations' lock so that both get past the version check before either migrates.
        holder.execute("select pg_advisory_xact_lock(hashtext(%s))", (migrate.LOCK_NAME,))
        tasks = [
            subprocess.Popen([sys.executable, "-c", code, warehouse], env=os.environ.copy(), text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for _ in range(2)
        ]  # fmt: skip
        deadline = time.monotonic() + 120
        with psycopg.connect(warehouse, autocommit=True) as observer:
            while True:
                waiting = observer.execute(
                    "select count(*) from pg_catalog.pg_locks where locktype = 'advisory' and not granted"
                    " and database = (select oid from pg_catalog.pg_database"
                    " where datname = current_database())"
                ).fetchone()[0]
                if waiting == 2:
                    break
                exited = [task.returncode for task in tasks if task.poll() is not None]
                if exited or time.monotonic() > deadline:
                    for task in tasks:
                        task.kill()
                    pytest.fail(f"both upgrades should wait for the migrations' lock (exited: {exited})")
                time.sleep(0.1)
    # The holder's transaction is over: both go on, one after the other.
    outcomes = [task.communicate(timeout=300) for task in tasks]
    assert [task.returncode for task in tasks] == [0, 0], [err[-2000:] for _, err in outcomes]
    assert migrate.current(warehouse) == migrate.head()
    with psycopg.connect(warehouse) as conn:
        versions = conn.execute(
            sql.SQL("select count(*) from {}").format(
                sql.Identifier(migrate.VERSION_SCHEMA, migrate.VERSION_TABLE)
            )
        ).fetchone()[0]
    assert versions == 1


def test_the_crm_and_the_warehouse_keep_their_versions_apart(warehouse):
    """One database holding both (a small deployment): neither migration history sees the other's."""
    from liftoff.apps.crm_api.migrate import head as crm_head
    from liftoff.apps.crm_api.migrate import upgrade as upgrade_crm

    upgrade_crm(warehouse)
    migrate.upgrade(warehouse)
    assert migrate.current(warehouse) == migrate.head()
    with psycopg.connect(warehouse) as conn:
        assert conn.execute("select version_num from crm.alembic_version").fetchall() == [(crm_head(),)]
