"""The CRM's operational tables (SQLAlchemy Core), derived from the contracts, and its connection.

The columns follow the contracts field by field (one place for the shape); Alembic migrations in
`migrations/` create them, and a test keeps the migrations and these tables in step. Rules live in
the contracts only: the database holds types, keys and the one thing a contract cannot check
alone (an e-mail used by two live employees or customers).
"""

from __future__ import annotations

import json
import os
import select
import time
from datetime import date, datetime
from functools import partial
from typing import Any
from urllib.parse import quote

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Double,
    ForeignKey,
    Identity,
    Index,
    MetaData,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.engine import Engine

from liftoff import settings
from liftoff.apps.crm_api.roles import API, OWNER
from liftoff.contracts import CRM_CONTRACTS, field_shapes
from liftoff.contracts.engine import Contract

# The CRM's keys start at 10^12, so they never meet the simulator's (dimensions count from 1,
# simulated sale ids are day × 10^7 + n, below 10^12 until the year 2273) when both feed one warehouse.
KEY_START = 1_000_000_000_000
# Fields the server sets; a client never sends them.
SERVER_FIELDS = ("created_at", "updated_at")
# An e-mail names one live person: two live employees (or customers) cannot share one.
UNIQUE_LIVE_EMAIL = ("employees", "customers")
# The API's serving URL (its lesser role), and the migrations' (the role that owns the schema;
# without it they run on the serving URL).
CRM_URL_ENV = API.url_env
CRM_OWNER_URL_ENV = OWNER.url_env
CRM_CONN_ENV = f"AIRFLOW_CONN_{settings.CRM_CONN_ID.upper()}"

_SQL_TYPES = {int: BigInteger, float: Double, str: Text, bool: Boolean, date: Date}

metadata = MetaData(schema=settings.CRM_SCHEMA)


def _table(contract: type[Contract]) -> Table:
    columns: list[Column] = []
    for name, shape in field_shapes(contract).items():
        base, nullable = shape.python_type, not shape.required
        if name == contract.natural_key:
            columns.append(Column(name, BigInteger, Identity(start=KEY_START), primary_key=True))
            continue
        if name in SERVER_FIELDS:
            continue
        sql_type = DateTime(timezone=True) if base is datetime else _SQL_TYPES[base]()
        foreign = [
            ForeignKey(f"{settings.CRM_SCHEMA}.{ref.entity}.{CRM_CONTRACTS[ref.entity].natural_key}")
            for ref in contract.references
            if ref.field == name
        ]
        columns.append(Column(name, sql_type, *foreign, nullable=nullable))
    columns += [
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("deleted_at", DateTime(timezone=True), nullable=True),
    ]
    table = Table(contract.entity, metadata, *columns)
    # The extraction reads a day of changes by updated_at.
    Index(f"{contract.entity}_updated_at_idx", table.c.updated_at)
    if contract.entity in UNIQUE_LIVE_EMAIL:
        Index(
            f"{contract.entity}_live_email_key",
            table.c.email,
            unique=True,
            postgresql_where=text("deleted_at is null"),
        )
    return table


TABLES: dict[str, Table] = {entity: _table(contract) for entity, contract in CRM_CONTRACTS.items()}

api_keys = Table(
    "api_keys",
    metadata,
    Column("api_key_id", BigInteger, Identity(), primary_key=True),
    Column("name", Text, nullable=False),
    # The first characters of the key, to tell keys apart in listings; never enough to use it.
    Column("key_prefix", Text, nullable=False),
    Column("key_sha256", Text, nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    # What the key may do beyond ordinary data entry (`auth.SCOPES`); migration 0002.
    Column("scope", Text, nullable=False, server_default=text("'standard'")),
    CheckConstraint("scope in ('standard', 'admin')", name="api_keys_scope_check"),
)


def crm_database_url(env: dict[str, str] | None = None) -> str:
    """libpq URL of the CRM database: LIFTOFF_CRM_DATABASE_URL, else the `crm` Airflow connection
    from the environment (URI or JSON, as the local stack and Astro set it)."""
    env = dict(os.environ) if env is None else env
    if env.get(CRM_URL_ENV):
        return env[CRM_URL_ENV]
    raw = env.get(CRM_CONN_ENV)
    if not raw:
        raise RuntimeError(
            f"no CRM database configured: set {CRM_URL_ENV} (a postgresql:// URL) or the Airflow "
            f"connection {settings.CRM_CONN_ID!r} ({CRM_CONN_ENV}); `make up` sets it for the embedded stack"
        )
    if not raw.lstrip().startswith("{"):
        return raw.replace("postgres://", "postgresql://", 1)
    conn = json.loads(raw)
    auth = quote(conn.get("login", ""), safe="")
    if conn.get("password"):
        auth += ":" + quote(conn["password"], safe="")
    return f"postgresql://{auth}@{conn['host']}:{conn.get('port', 5432)}/{conn.get('schema', '')}"


def migration_url(env: dict[str, str] | None = None) -> str:
    """libpq URL the migrations run on: LIFTOFF_CRM_OWNER_URL (the owner role; the API serves as a
    lesser one that may not create or alter tables), else the serving URL (a single-role setup)."""
    env = dict(os.environ) if env is None else env
    return env.get(CRM_OWNER_URL_ENV) or crm_database_url(env)


def sqlalchemy_url(libpq_url: str) -> str:
    """The same database for SQLAlchemy, through psycopg 3."""
    return libpq_url.replace("postgresql://", "postgresql+psycopg://", 1)


# A pooled connection idle longer than this is pinged (a round trip) before use; one used more
# recently is only checked for a closed socket (no round trip). See `_alive_at_checkout`.
PING_AFTER_IDLE_SECONDS = 10.0
_IDLE_SINCE = "liftoff_idle_since"


def make_engine(libpq_url: str) -> Engine:
    from sqlalchemy import create_engine, event

    # Every session in UTC: timestamps leave the API as ISO 8601 with +00:00.
    engine = create_engine(
        sqlalchemy_url(libpq_url),
        connect_args={"options": "-c timezone=UTC"},
    )
    event.listen(engine, "checkout", partial(_alive_at_checkout, engine.dialect))
    event.listen(engine, "connect", _idle_from_now)  # new: no ping needed
    event.listen(engine, "checkin", _idle_from_now)
    return engine


def _idle_from_now(_dbapi_connection: Any, record: Any) -> None:
    record.info[_IDLE_SINCE] = time.monotonic()


def _alive_at_checkout(dialect: Any, dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """A pooled connection is handed out only if it looks alive: SQLAlchemy's pre-ping cost a round
    trip on every checkout (one of a read's two). Instead, no round trip for a connection back in
    the pool less than PING_AFTER_IDLE_SECONDS ago, unless psycopg knows it broken or its socket
    has something to read (an idle connection never does, except the server's goodbye: a
    restart, `pg_terminate_backend`, an idle timeout); a longer idle one is pinged, as pre-ping
    did. DisconnectionError makes the pool replace the connection and try again."""
    from sqlalchemy.exc import DisconnectionError

    if dbapi_connection.closed or dbapi_connection.broken:
        raise DisconnectionError("the connection is closed")
    try:
        poller = select.poll()  # not select.select: a busy process's descriptors pass 1024
        poller.register(dbapi_connection.fileno(), select.POLLIN)
        readable = poller.poll(0)
    except (OSError, ValueError):
        raise DisconnectionError("the connection's socket is gone") from None
    if readable:
        raise DisconnectionError("the server wrote to an idle connection (it is closing it)")
    if time.monotonic() - record.info.get(_IDLE_SINCE, 0.0) <= PING_AFTER_IDLE_SECONDS:
        return
    try:
        dialect.do_ping(dbapi_connection)
    except Exception as error:
        raise DisconnectionError(f"the connection did not answer a ping: {error}") from None
