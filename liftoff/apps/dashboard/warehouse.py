"""Reading gold: one bounded, read-only connection per query, and errors a reader can act on.

Every connection the dashboard opens is read-only and has a statement timeout, on top of the
role's own grants (belt and braces: the role can read gold only, the session cannot write at all).
The timeout is the app's own, not the session's: any role may `SET statement_timeout = 0` in its
session or `ALTER ROLE` itself, so the client cancels a query that outlives STATEMENT_TIMEOUT_MS
whatever the server was told (docs/security.md, Databases and roles).
A missing table is an empty result (gold not built yet), never a traceback; an unreachable
warehouse is one `WarehouseUnavailable` with a sentence the page shows as it is.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import pandas as pd
import psycopg
from psycopg import errors, sql

from liftoff.apps.dashboard.role import URL_ENV

CONNECT_TIMEOUT_S = 5
STATEMENT_TIMEOUT_MS = 15_000


class WarehouseUnavailable(RuntimeError):
    """The warehouse cannot be reached or read; the message is meant for the dashboard's reader."""


def dashboard_dsn() -> str:
    """The read-only role's libpq URL (set by `make up`; in production by the deployment)."""
    dsn = os.environ.get(URL_ENV, "").strip()
    if not dsn:
        raise WarehouseUnavailable(
            f"{URL_ENV} is not set: start the dashboard with `make up`, or set it to the read-only "
            "role's URL (README, Dashboard)."
        )
    return dsn


def connect(dsn: str, statement_timeout_ms: int = STATEMENT_TIMEOUT_MS) -> psycopg.Connection:
    try:
        return psycopg.connect(
            dsn,
            connect_timeout=CONNECT_TIMEOUT_S,
            autocommit=True,
            options=f"-c default_transaction_read_only=on -c statement_timeout={int(statement_timeout_ms)}",
            application_name="liftoff-dashboard",
        )
    except psycopg.OperationalError as error:
        raise WarehouseUnavailable(
            "O warehouse (Postgres) não está acessível agora; tente de novo em instantes. "
            f"The warehouse cannot be reached: {str(error).strip().splitlines()[0]}"
        ) from None


@contextmanager
def deadline(conn: psycopg.Connection, timeout_ms: int) -> Iterator[None]:
    """Cancel what `conn` runs once `timeout_ms` has passed, from the client: the server's
    statement_timeout is a session setting the role itself can lift. A cancelled query raises
    QueryCanceled, as a server-side timeout does."""
    timer = threading.Timer(int(timeout_ms) / 1000, conn.cancel_safe)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def fetch_rows(
    dsn: str,
    query: sql.Composable,
    params: Mapping[str, Any] | None = None,
    *,
    max_rows: int | None = None,
    statement_timeout_ms: int = STATEMENT_TIMEOUT_MS,
) -> tuple[list[str], list[tuple], bool]:
    """(columns, rows, truncated): rows of a read-only query; a missing gold table gives no rows.

    `max_rows` caps what is read from the server (the rest is never fetched) and says so.
    """
    try:
        with (
            connect(dsn, statement_timeout_ms) as conn,
            deadline(conn, statement_timeout_ms),
            conn.cursor() as cursor,
        ):
            cursor.execute(query, params or {})
            columns = [column.name for column in cursor.description or ()]
            if max_rows is None:
                return columns, cursor.fetchall(), False
            rows = cursor.fetchmany(max_rows + 1)
            return columns, rows[:max_rows], len(rows) > max_rows
    except (errors.UndefinedTable, errors.InvalidSchemaName):
        return [], [], False
    except errors.InsufficientPrivilege as error:
        raise WarehouseUnavailable(
            "O papel do dashboard não pode ler esta tabela do gold; aplique as permissões "
            f"(`make up` ou `python -m liftoff.apps.dashboard.role`). ({error.diag.message_primary})"
        ) from None
    except errors.QueryCanceled:
        raise WarehouseUnavailable(
            "A consulta passou do tempo limite; reduza o período filtrado. (statement timeout)"
        ) from None
    except psycopg.OperationalError as error:
        raise WarehouseUnavailable(
            f"A conexão com o warehouse caiu durante a consulta. ({str(error).strip()[:200]})"
        ) from None


def fetch_frame(
    dsn: str, query: sql.Composable, params: Mapping[str, Any] | None = None, columns: Sequence[str] = ()
) -> pd.DataFrame:
    """A query's rows as a DataFrame with numeric columns as floats (what charts and math want).

    A missing table gives an empty frame with `columns`, so pages test `.empty` and nothing else.
    """
    names, rows, _ = fetch_rows(dsn, query, params)
    frame = pd.DataFrame(rows, columns=names or list(columns))
    for name in frame.columns:
        if frame[name].dtype == object and any(isinstance(value, Decimal) for value in frame[name]):
            frame[name] = frame[name].astype(float)  # None becomes NaN
    return frame


def gold(table: str) -> sql.Identifier:
    return sql.Identifier("gold", table)
