"""sqlfluff's stand-in for dbt's `dbt` macro namespace (dbt.dateadd, dbt.cast, ...).

The lint renders the models with sqlfluff's jinja templater, offline and without dbt (.sqlfluff):
these give each cross-database macro the models call a Postgres spelling of the same shape, so
the rendered SQL parses and its layout is linted. dbt itself never imports this file.
"""


def dateadd(datepart: str, interval: object, from_date_or_timestamp: str) -> str:
    return f"{from_date_or_timestamp} + ((interval '1 {datepart}') * ({interval}))"


def cast(field: str, type: str) -> str:
    return f"cast({field} as {type})"


def date_trunc(datepart: str, date: str) -> str:
    return f"date_trunc('{datepart}', {date})"


def last_day(date: str, datepart: str) -> str:
    return f"cast(date_trunc('{datepart}', {date}) + interval '1 {datepart}' - interval '1 day' as date)"


def bool_or(expression: str) -> str:
    return f"bool_or({expression})"
