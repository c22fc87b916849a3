"""The SQL kept in `include/sql/`: read a query."""

from __future__ import annotations

from liftoff import settings


def read(name: str) -> str:
    """The text of `include/sql/<name>` (a path relative to that folder)."""
    return (settings.SQL_DIR / name).read_text()
