"""dbt in this process (dbtRunner), against the warehouse at a libpq URL.

include/dbt/profiles.yml reads the warehouse from LIFTOFF_WAREHOUSE_* variables, and dbtRunner
has no way to pass a profile but the environment: so the variables are set for the call and put
back after it (a task, a test or a benchmark goes on with its own environment).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any


def profile_env(url: str) -> dict[str, str]:
    """The variables include/dbt/profiles.yml reads, for the warehouse at `url`."""
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(url)
    return {
        "LIFTOFF_WAREHOUSE_HOST": parts.hostname or "127.0.0.1",
        "LIFTOFF_WAREHOUSE_PORT": str(parts.port or 5432),
        "LIFTOFF_WAREHOUSE_USER": unquote(parts.username or ""),
        "LIFTOFF_WAREHOUSE_PASSWORD": unquote(parts.password or ""),
        "LIFTOFF_WAREHOUSE_DB": parts.path.lstrip("/"),
    }


def invoke(dsn: str, arguments: Sequence[str]) -> Any:
    """`dbt <arguments>` in this process against the warehouse at `dsn`; dbt's result (check
    `.success`). The environment is as it was afterwards, whatever dbt did."""
    from dbt.cli.main import dbtRunner

    with environment(profile_env(dsn)):
        return dbtRunner().invoke(list(arguments))


@contextmanager
def environment(variables: Mapping[str, str]) -> Iterator[None]:
    """`variables` set in this process's environment for the block, and put back as they were
    after it (unset ones unset again), whatever the block did."""
    saved = {key: os.environ.get(key) for key in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
