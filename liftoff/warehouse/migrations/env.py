"""Alembic environment of the warehouse's own schemas: online migrations only, one transaction,
serialised by an advisory lock, version table `raw.alembic_version_warehouse`."""

from __future__ import annotations

import psycopg
from alembic import context
from sqlalchemy import create_engine, pool, text

from liftoff.warehouse.migrate import LOCK_NAME, VERSION_SCHEMA, VERSION_TABLE

config = context.config


def run_migrations_online() -> None:
    dsn = config.attributes["dsn"]
    engine = create_engine(
        "postgresql+psycopg://", creator=lambda: psycopg.connect(dsn), poolclass=pool.NullPool
    )
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            version_table=VERSION_TABLE,
            version_table_schema=VERSION_SCHEMA,
        )
        with context.begin_transaction():
            # Before Alembic reads the version: a task that waited here sees what the one before
            # it committed (at head: nothing to run), and no two create the version table at once.
            connection.execute(text("select pg_advisory_xact_lock(hashtext(:name))"), {"name": LOCK_NAME})
            connection.execute(text(f"create schema if not exists {VERSION_SCHEMA}"))
            context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("the warehouse migrations run online only: liftoff.warehouse.migrate.upgrade(dsn)")
run_migrations_online()
