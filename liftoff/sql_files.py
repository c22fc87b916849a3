"""The SQL kept in `include/sql/`: one loader, one placeholder style.

Every file writes its parameters as psycopg's named placeholders, `%(name)s`, so its text goes to
the driver as it is (values are always bound, never formatted into the text) and sqlfluff lints
it as it is (the placeholder templater, pyformat, with sample values in include/sql/.sqlfluff).
A literal % must be written `%%`, as psycopg expects whenever parameters are passed; a lone one is
refused when the file is loaded rather than failing in the driver with a less helpful message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from typing import TYPE_CHECKING, Any

from liftoff import settings

if TYPE_CHECKING:
    import psycopg
    from psycopg import sql

# A named placeholder, or an escaped percent sign (the only two uses of % a file may make).
_PERCENT = re.compile(r"%\((?P<name>[A-Za-z_][A-Za-z0-9_]*)\)s|%%")


@cache
def read(name: str) -> str:
    """The text of `include/sql/<name>` (a path relative to that folder), checked: every % in it
    is a `%(name)s` placeholder or `%%`."""
    path = settings.SQL_DIR / name
    if not path.is_file():
        raise FileNotFoundError(f"SQL file {path} does not exist")
    text = path.read_text()
    for number, line in enumerate(text.splitlines(), start=1):
        if "%" in _PERCENT.sub("", line):
            raise ValueError(
                f"{path}:{number}: a lone % would be read as a placeholder; write %% for a literal one"
            )
    return text


def placeholders(name: str) -> set[str]:
    """The parameter names the file expects."""
    return {match["name"] for match in _PERCENT.finditer(read(name)) if match["name"]}


def query(name: str, parameters: Mapping[str, Any]) -> str:
    """The file's text for psycopg with `parameters`; names a placeholder left without a value
    here, before the driver would fail on it with a bare KeyError."""
    missing = placeholders(name) - parameters.keys()
    if missing:
        raise KeyError(f"{name}: no value for the placeholder(s) {', '.join(sorted(missing))}")
    return read(name)


def execute(conn: psycopg.Connection, name: str, parameters: Mapping[str, Any]) -> psycopg.Cursor:
    """Run the file on `conn` with `parameters` bound by the driver."""
    return conn.execute(query(name, parameters), parameters)


def compose(name: str, **parts: sql.Composable) -> sql.Composed:
    """The file with its placeholders filled by psycopg.sql pieces instead of bound values.

    For statements that take no bound parameters, such as `create role` or `grant` (whose role
    and database are identifiers): an Identifier is quoted as one, a Literal as a value.
    """
    from psycopg import sql

    missing = placeholders(name) - parts.keys()
    if missing:
        raise KeyError(f"{name}: no value for the placeholder(s) {', '.join(sorted(missing))}")
    text = read(name).replace("{", "{{").replace("}", "}}")
    template = _PERCENT.sub(lambda match: f"{{{match['name']}}}" if match["name"] else "%", text)
    return sql.SQL(template).format(**parts)
