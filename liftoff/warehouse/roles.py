"""The warehouse's read-only reader roles: one description each, one SQL file for all of them.

    python -m liftoff.warehouse.roles "postgresql://dbt_user@host:5432/warehouse"

applies every reader (the dashboard's and the analysts'), run as the role that owns the layers
(dbt's): the default privileges it sets are that role's, so what dbt re-creates stays readable.
The local stack applies them on every `make up` / `prepare` and exports each one's URL.

- `liftoff_dashboard` (the Streamlit app): gold only.
- `liftoff_analyst` (notebooks, docs/analysts.md): silver and gold, except the relations in
  `ANALYST.never`: gold.campaign_messages is the campaign's per-recipient message log (who got
  which message, opted-out skips, the rendered text with the recipient's first name and a working
  unsubscribe token). Raw (and its quarantine payloads), bronze, audit (dbt's failing rows),
  quality (failing samples), campaign (addresses, chat ids) and the airflow/crm databases are
  never granted to either.

The grants are include/sql/reader_role.sql. Each role's password comes from its environment
variable, or is generated once into the state folder (`.liftoff/postgres/<file>`, mode 0600, written
atomically by liftoff.private_files) like the embedded superuser's. Never in git.
"""

from __future__ import annotations

import os
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

from liftoff import settings, sql_files
from liftoff.private_files import generated_secret

ROLE_SQL = "reader_role.sql"


@dataclass(frozen=True)
class DatabaseRole:
    """A login role the project creates: its name, and where its password and URL come from.

    The warehouse's readers below and the CRM's roles (liftoff.apps.crm_api.roles) are ones.
    """

    default_name: str
    name_env: str  # overrides the role's name
    password_env: str
    credentials_file: str  # under the state folder's postgres/
    url_env: str  # where the local stack exports its connection URL

    def name(self) -> str:
        return os.environ.get(self.name_env, self.default_name)

    def password_file(self) -> Path:
        return settings.state_dir() / "postgres" / self.credentials_file

    def password(self) -> str:
        """The environment's password, else one generated once into the state folder."""
        if os.environ.get(self.password_env):
            return os.environ[self.password_env]
        return generated_secret(self.password_file(), lambda: secrets.token_urlsafe(24) + "\n")

    def url(self, admin_dsn: str, name: str | None = None, password: str | None = None) -> str:
        """The admin URL with this role's credentials instead (same host, port, database)."""
        parts = urlsplit(admin_dsn)
        user = quote(name or self.name(), safe="")
        credentials = f"{user}:{quote(password or self.password(), safe='')}"
        netloc = f"{credentials}@{parts.hostname or ''}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


@dataclass(frozen=True)
class ReaderRole(DatabaseRole):
    """A read-only role of the warehouse: what it may read, what it must never see."""

    schemas: tuple[str, ...] = ()  # usage and select on every table and view, now and re-created
    never: tuple[str, ...] = ()  # schema.relation in those schemas it must not read
    statement_timeout: str = "15s"


DASHBOARD = ReaderRole(
    default_name="liftoff_dashboard",
    name_env="LIFTOFF_DASHBOARD_ROLE",
    password_env="LIFTOFF_DASHBOARD_PASSWORD",  # noqa: S106 (the variable's name, not a password)
    credentials_file="dashboard.password",
    url_env="LIFTOFF_DASHBOARD_URL",
    schemas=("gold",),
)
ANALYST = ReaderRole(
    default_name="liftoff_analyst",
    name_env="LIFTOFF_ANALYST_ROLE",
    password_env="LIFTOFF_ANALYST_PASSWORD",  # noqa: S106 (the variable's name, not a password)
    credentials_file="analyst.password",
    url_env="LIFTOFF_ANALYST_URL",
    schemas=("silver", "gold"),
    never=("gold.campaign_messages",),
    # Longer than the dashboard's: ad hoc questions scan silver; a runaway join still stops.
    statement_timeout="1min",
)
READERS = (DASHBOARD, ANALYST)


def role_statements(reader: ReaderRole, database: str, name: str, password: str, owner: str):
    """include/sql/reader_role.sql for `reader`, its placeholders filled safely."""
    from psycopg import sql

    return sql_files.compose(  # the file is ours; every value is quoted by psycopg
        ROLE_SQL,
        role=sql.Identifier(name),
        role_name=sql.Literal(name),
        password=sql.Literal(password),
        statement_timeout=sql.Literal(reader.statement_timeout),
        database=sql.Identifier(database),
        owner=sql.Identifier(owner),
        owner_name=sql.Literal(owner),
        schemas=sql.Literal(list(reader.schemas)),
        never=sql.Literal(list(reader.never)),
    )


def apply_role(
    reader: ReaderRole, admin_dsn: str, name: str | None = None, password: str | None = None
) -> None:
    """Create or update `reader` and its grants in the warehouse `admin_dsn` points at."""
    import psycopg

    name = name or reader.name()
    password = password or reader.password()
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        database, owner = conn.execute("select current_database(), current_user").fetchone()
        with conn.transaction():
            # Concurrent prepares (two worktrees, a test and `make up`) must not race on create role.
            conn.execute("select pg_advisory_xact_lock(hashtext('liftoff.reader_roles'))")
            conn.execute(role_statements(reader, database, name, password, owner))


def apply_all(admin_dsn: str) -> None:
    """Every reader role, as `python -m liftoff.warehouse.roles` and the local stack apply them."""
    for reader in READERS:
        apply_role(reader, admin_dsn)


def urls(admin_dsn: str) -> dict[str, str]:
    """Each reader's URL under its environment variable (the user's own value wins)."""
    return {
        reader.url_env: os.environ[reader.url_env] if reader.url_env in os.environ else reader.url(admin_dsn)
        for reader in READERS
    }


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__)
        return 2
    apply_all(argv[0])
    for reader in READERS:
        readable = " and ".join(reader.schemas)
        hidden = f" except {', '.join(reader.never)}" if reader.never else ""
        print(f"liftoff: role {reader.name()} can read {readable}{hidden} only")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
