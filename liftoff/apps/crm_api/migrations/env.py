"""Alembic environment of the CRM database: online migrations only, version table in `crm`."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool, text

from liftoff import settings
from liftoff.apps.crm_api.database import metadata

config = context.config


def run_migrations_online() -> None:
    engine = create_engine(config.get_main_option("sqlalchemy.url"), poolclass=pool.NullPool)
    with engine.connect() as connection:
        connection.execute(text(f"create schema if not exists {settings.CRM_SCHEMA}"))
        connection.commit()
        context.configure(
            connection=connection,
            target_metadata=metadata,
            version_table_schema=settings.CRM_SCHEMA,
            include_schemas=True,
            include_name=lambda name, type_, _: type_ != "schema" or name == settings.CRM_SCHEMA,
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("the CRM migrations run online only: `python -m liftoff.apps.crm_api migrate`")
run_migrations_online()
