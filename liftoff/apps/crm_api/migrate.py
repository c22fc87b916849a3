"""Alembic, driven from Python: `upgrade head` on start-up of `make up` and in the tests.

The schema is never created with `create_all`: every change is a migration in `migrations/versions`,
so a CRM database that already holds data moves forward without losing it.
"""

from __future__ import annotations

from pathlib import Path

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(libpq_url: str):
    from alembic.config import Config

    from liftoff.apps.crm_api.database import sqlalchemy_url

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Alembic's config is an INI parser: a literal % (URL-encoded passwords) must be doubled.
    config.set_main_option("sqlalchemy.url", sqlalchemy_url(libpq_url).replace("%", "%%"))
    return config


def head() -> str | None:
    """The latest revision in migrations/versions."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("postgresql://")).get_current_head()


def upgrade(libpq_url: str, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(alembic_config(libpq_url), revision)


def downgrade(libpq_url: str, revision: str) -> None:
    from alembic import command

    command.downgrade(alembic_config(libpq_url), revision)
