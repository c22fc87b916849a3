"""The dashboard's read-only Postgres role: SELECT on the gold schema and nothing else.

The grants live in include/sql/dashboard_role.sql; this module fills its placeholders with
psycopg.sql (identifiers as identifiers, values as literals) and applies it. The local stack applies
it on every `make up` / `prepare`; in production run, as the role dbt builds gold with:

    LIFTOFF_DASHBOARD_PASSWORD=... python -m liftoff.apps.dashboard.role "postgresql://dbt_user@host/warehouse"

The password comes from LIFTOFF_DASHBOARD_PASSWORD, or is generated once into the state folder
(`.liftoff/postgres/dashboard.password`, mode 0600) like the embedded superuser's. Never in git.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

from liftoff import settings, sql_files

DEFAULT_ROLE = "liftoff_dashboard"
ROLE_SQL = "dashboard_role.sql"
PASSWORD_ENV = "LIFTOFF_DASHBOARD_PASSWORD"  # noqa: S105 (the variable name, not a password)
ROLE_ENV = "LIFTOFF_DASHBOARD_ROLE"
URL_ENV = "LIFTOFF_DASHBOARD_URL"


def role_name() -> str:
    return os.environ.get(ROLE_ENV, DEFAULT_ROLE)


def password_file() -> Path:
    return settings.state_dir() / "postgres" / "dashboard.password"


def dashboard_password() -> str:
    """The role's password: the environment's, else one generated once into the state folder."""
    if os.environ.get(PASSWORD_ENV):
        return os.environ[PASSWORD_ENV]
    path = password_file()
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    password = secrets.token_urlsafe(24)
    path.write_text(password + "\n")
    return password


def role_statements(database: str, role: str, password: str, owner: str):
    """include/sql/dashboard_role.sql with its placeholders filled safely."""
    from psycopg import sql

    return sql_files.compose(  # the file is ours; every value is quoted by psycopg
        ROLE_SQL,
        role=sql.Identifier(role),
        role_name=sql.Literal(role),
        password=sql.Literal(password),
        database=sql.Identifier(database),
        owner=sql.Identifier(owner),
    )


def apply_dashboard_role(admin_dsn: str, role: str | None = None, password: str | None = None) -> None:
    """Create or update the role and its grants in the warehouse `admin_dsn` points at.

    Run as the role that owns gold (dbt's): the default privileges are that role's, so every table
    dbt re-creates in gold is readable by the dashboard without re-granting.
    """
    import psycopg

    role = role or role_name()
    password = password or dashboard_password()
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        database, owner = conn.execute("select current_database(), current_user").fetchone()
        with conn.transaction():
            # Concurrent prepares (two worktrees, a test and `make up`) must not race on create role.
            conn.execute("select pg_advisory_xact_lock(hashtext('liftoff.dashboard_role'))")
            conn.execute(role_statements(database, role, password, owner))


def dashboard_url(admin_dsn: str, role: str | None = None, password: str | None = None) -> str:
    """The admin URL with the dashboard role's credentials instead (same host, port, database)."""
    parts = urlsplit(admin_dsn)
    credentials = f"{quote(role or role_name(), safe='')}:{quote(password or dashboard_password(), safe='')}"
    host = parts.hostname or ""
    netloc = f"{credentials}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__)
        sys.exit(2)
    apply_dashboard_role(sys.argv[1])
    print(f"liftoff: role {role_name()} can read gold only")
