"""The CRM database's roles: the owner migrations run as, the API's lesser serving role, and a
read-only reader (the campaign's opt-outs; include/sql/crm_roles.sql).

    python -m liftoff.apps.crm_api.roles "postgresql://postgres@host:5432/crm"

applies them as a superuser (or a CREATEROLE role owning the database). The local stack applies
them on every `make up` / `prepare`, migrates as the owner, serves the API as `liftoff_crm_api`
and points the `crm` connection at `liftoff_crm_reader`. Passwords come from the environment or
are generated once into the state folder, as the warehouse readers' are
(liftoff.warehouse.roles.DatabaseRole). Needs psycopg only (the compose file's one-shot roles
job applies them from a slim image).
"""

from __future__ import annotations

import sys

from liftoff import settings, sql_files
from liftoff.warehouse.roles import DatabaseRole

ROLE_SQL = "crm_roles.sql"

OWNER = DatabaseRole(
    default_name="liftoff_crm_owner",
    name_env="LIFTOFF_CRM_OWNER_ROLE",
    password_env="LIFTOFF_CRM_OWNER_PASSWORD",  # noqa: S106 (the variable's name, not a password)
    credentials_file="crm_owner.password",
    url_env="LIFTOFF_CRM_OWNER_URL",  # the migrations'
)
API = DatabaseRole(
    default_name="liftoff_crm_api",
    name_env="LIFTOFF_CRM_API_ROLE",
    password_env="LIFTOFF_CRM_API_PASSWORD",  # noqa: S106 (the variable's name, not a password)
    credentials_file="crm_api.password",
    url_env="LIFTOFF_CRM_DATABASE_URL",  # what the API serves on
)
READER = DatabaseRole(
    default_name="liftoff_crm_reader",
    name_env="LIFTOFF_CRM_READER_ROLE",
    password_env="LIFTOFF_CRM_READER_PASSWORD",  # noqa: S106 (the variable's name, not a password)
    credentials_file="crm_reader.password",
    url_env="",  # the campaign's opt-out sync reads through the `crm` Airflow connection instead
)
ROLES = (OWNER, API, READER)


def apply_roles(admin_dsn: str) -> None:
    """Create or update the three roles and their grants in the CRM database `admin_dsn` points at."""
    import psycopg
    from psycopg import sql

    parts: dict[str, sql.Composable] = {"schema": sql.Identifier(settings.CRM_SCHEMA)}
    parts["schema_name"] = sql.Literal(settings.CRM_SCHEMA)
    for key, role in (("owner", OWNER), ("api", API), ("reader", READER)):
        parts[key] = sql.Identifier(role.name())
        parts[f"{key}_name"] = sql.Literal(role.name())
        parts[f"{key}_password"] = sql.Literal(role.password())
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        parts["database"] = sql.Identifier(conn.execute("select current_database()").fetchone()[0])
        with conn.transaction():
            # Concurrent prepares (two worktrees, a test and `make up`) must not race on create role.
            conn.execute("select pg_advisory_xact_lock(hashtext('liftoff.crm_roles'))")
            conn.execute(sql_files.compose(ROLE_SQL, **parts))


def apply_and_migrate(admin_dsn: str) -> None:
    """The roles, the migrations as their owner, then the roles again: a migration's new tables get
    their grants from the owner's default privileges, but the version table it creates first must
    lose the API's."""
    from liftoff.apps.crm_api.migrate import upgrade

    apply_roles(admin_dsn)
    upgrade(OWNER.url(admin_dsn))
    apply_roles(admin_dsn)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__)
        return 2
    apply_roles(argv[0])
    print(f"liftoff: roles {', '.join(role.name() for role in ROLES)} applied")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
