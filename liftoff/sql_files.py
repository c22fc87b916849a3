"""The SQL kept in `include/sql/`: read a query, apply a DDL file once however many tasks race."""

from __future__ import annotations

from liftoff import settings


def read(name: str) -> str:
    """The text of `include/sql/<name>` (a path relative to that folder)."""
    return (settings.SQL_DIR / name).read_text()


def apply_ddl(dsn: str, name: str) -> None:
    """Run the idempotent DDL in `include/sql/<name>`.

    Concurrent first runs (several tasks at once) must not race on CREATE ... IF NOT EXISTS, so the
    file runs under a transaction-level advisory lock named after it.
    """
    import psycopg

    with psycopg.connect(dsn) as conn:
        conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (f"liftoff.{name}",))
        conn.execute(read(name))
