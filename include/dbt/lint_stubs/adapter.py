"""sqlfluff's stand-in for dbt's `adapter` (see dbt.py here): `adapter.dispatch(name)` renders the
macro as a function call with its arguments, SQL of the same shape as every engine's version."""

from collections.abc import Callable


def dispatch(macro_name: str, macro_namespace: str | None = None) -> Callable[..., str]:
    def call(*arguments: object) -> str:
        return f"{macro_name}({', '.join(str(argument) for argument in arguments)})"

    return call
