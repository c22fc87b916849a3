"""Alembic, driven from Python: every task that writes the warehouse's own tables upgrades first.

Tasks call `upgrade` before they touch raw, quality or campaign tables, so a warehouse reaches the
latest migration whichever DAG runs first, and a new column reaches an existing warehouse. Several
tasks start at once (one load per entity), hence the advisory lock taken by the migration
environment (migrations/env.py): the first runs the migrations, the others wait, then find the
warehouse at head and do nothing. At head, `upgrade` costs one connection and two queries, and
Alembic is not run at all. There is no alembic.ini: the configuration is built here.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from liftoff import settings

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# In the warehouse's own raw schema (which the user may create in, unlike `public` since Postgres
# 15), under a name of its own: the CRM's Alembic keeps `crm.alembic_version`.
VERSION_SCHEMA = settings.RAW_SCHEMA
VERSION_TABLE = "alembic_version_warehouse"
# The lock every upgrade of a warehouse holds while it migrates (its transaction).
LOCK_NAME = "liftoff.warehouse.migrate"


def alembic_config(dsn: str):
    """Alembic's configuration for the warehouse at the libpq `dsn` (URL or key=value string)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Handed to env.py as is: no SQLAlchemy URL to build, no INI escaping of a password's `%`.
    config.attributes["dsn"] = dsn
    return config


@cache
def head() -> str | None:
    """The latest revision in migrations/versions."""
    from alembic.script import ScriptDirectory

    config = alembic_config("")
    return ScriptDirectory.from_config(config).get_current_head()


def current(dsn: str) -> str | None:
    """The revision the warehouse is at; None if it never ran a migration."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(dsn) as conn:
        table = f"{VERSION_SCHEMA}.{VERSION_TABLE}"
        if conn.execute("select to_regclass(%s)", (table,)).fetchone()[0] is None:
            return None
        query = sql.SQL("select version_num from {}").format(sql.Identifier(VERSION_SCHEMA, VERSION_TABLE))
        row = conn.execute(query).fetchone()
    return row[0] if row else None


def upgrade(dsn: str, revision: str = "head") -> None:
    """Bring the warehouse to `revision` (the latest by default); a no-op when it is there already."""
    if revision == "head" and current(dsn) == head():
        return
    from alembic import command

    command.upgrade(alembic_config(dsn), revision)
