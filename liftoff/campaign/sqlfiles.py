"""SQL files of include/sql with `{{ name }}` parameters, bound by psycopg.

The files are linted by sqlfluff's jinja templater, so parameters are written `{{ name }}`; here
each becomes a psycopg named placeholder (`%(name)s`), so values are always bound by the driver,
never formatted into the text.
"""

from __future__ import annotations

import re
from functools import cache

from liftoff import settings

_PARAMETER = re.compile(r"\{\{\s*([a-z_][a-z0-9_]*)\s*\}\}")


@cache
def load(name: str) -> str:
    """The text of include/sql/<name> with its parameters as psycopg named placeholders."""
    path = settings.SQL_DIR / name
    if not path.is_file():
        raise FileNotFoundError(f"SQL file {path} does not exist")
    text = path.read_text()
    if "%" in _PARAMETER.sub("", text):
        raise ValueError(f"{path}: a literal % would be read as a placeholder; write %% instead")
    return _PARAMETER.sub(r"%(\1)s", text)


def parameters(name: str) -> set[str]:
    """The parameter names a SQL file expects (to name a missing one before the driver does)."""
    return set(_PARAMETER.findall((settings.SQL_DIR / name).read_text()))
