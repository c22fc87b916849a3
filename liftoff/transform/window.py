"""Which business days a transform run rebuilds: what was loaded since the last successful one.

A day's window taken from the logical date alone loses late records: a sale dated three days back
(a late CRM sync, a back-dated entry through the CRM API, an Airbyte re-sync) lands in raw.sales
and no run ever rebuilds its day. So the run's days come from the load ledger (`raw.loads`,
written by every load in its own transaction, see `liftoff.ingest.loader.record_load`):

    run days = the data days of every load no successful transform has covered yet
             ∪ the days the triggering Asset events name ∪ [since_date Param .. logical date]
             ∪ {logical date}
             ∪ the ripple: days after a run day, within the outlier rule's 28-day reference
               window, that have sales (silver_sales flags a sale against the 28 days ending on
               its date, so a changed day changes the flags of the 27 days after it).

The run remembers which ledger rows it covered (each by its `loaded_at`) and marks them
transformed only when gold is published (`mark_transformed`, from the DAG's publish task). A
failed transform marks nothing: the next run picks its loads up. A partition loaded again while
the transform ran has a new `loaded_at`, stays pending and is rebuilt by the next run. This is a
per-load marker rather than one watermark timestamp on purpose: a load that commits after the run
read the ledger but with an earlier clock cannot slip under a timestamp.

The logical date keeps its meaning: the "as of" day of the gold marts (latest purchase, last 7
days, 3 months); `since_date` is the oldest run day.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

# silver_sales' outlier rule: a sale is judged against its product's sales of the 28 days ending
# on its date (include/dbt/models/silver/silver_sales.sql; keep the two in step).
OUTLIER_REFERENCE_DAYS = 28
SILVER_SALES = ("silver", "sales")

# The environment variables the dbt project reads the run's window from while it executes
# (include/dbt/macros/windows.sql, window_value), by dbt var. The transform DAG passes the window
# this way rather than as `--vars`: dbt hashes the command line's vars into its partial-parse
# state, so new vars on every run re-parsed the whole project (docs/benchmarks.md). dbt run by
# hand takes `--vars` (which win over these), as before.
DBT_WINDOW_ENV = {
    "logical_date": "LIFTOFF_DBT_LOGICAL_DATE",
    "since_date": "LIFTOFF_DBT_SINCE_DATE",
    "run_days": "LIFTOFF_DBT_RUN_DAYS",
}


@dataclass(frozen=True)
class PendingLoad:
    """One ledger row a run covers: the partition and the load's time (a newer load differs)."""

    entity: str
    logical_date: date
    loaded_at: datetime


@dataclass(frozen=True)
class RunWindow:
    since: date  # the oldest run day
    until: date  # the logical date: the day "as of" marts describe
    run_days: tuple[date, ...]  # sorted, distinct: the day partitions the run rebuilds
    loads: tuple[PendingLoad, ...] = ()

    def dbt_vars(self) -> dict[str, str]:
        """The dbt vars of the run. run_days is one comma-separated string: that is what an
        Airflow template renders, and the dbt macros read either that or a list."""
        return {
            "since_date": self.since.isoformat(),
            "logical_date": self.until.isoformat(),
            "run_days": ",".join(day.isoformat() for day in self.run_days),
        }

    def dbt_env(self) -> dict[str, str]:
        """The same window as the environment the dbt project reads it from (DBT_WINDOW_ENV)."""
        return {DBT_WINDOW_ENV[name]: value for name, value in self.dbt_vars().items()}

    def asset_extra(self) -> dict[str, Any]:
        """The `gold` Asset event's extra: the gate checks these days (`days_from_event_extra`)."""
        return {
            "since_date": self.since.isoformat(),
            "logical_date": self.until.isoformat(),
            "run_days": [day.isoformat() for day in self.run_days],
        }

    def as_xcom(self) -> dict[str, Any]:
        return self.asset_extra() | {
            "loads": [[load.entity, load.logical_date.isoformat(), load.loaded_at.isoformat()]
                      for load in self.loads],
        }  # fmt: skip

    @classmethod
    def from_xcom(cls, value: Mapping[str, Any]) -> RunWindow:
        return cls(
            since=date.fromisoformat(value["since_date"]),
            until=date.fromisoformat(value["logical_date"]),
            run_days=tuple(date.fromisoformat(day) for day in value["run_days"]),
            loads=tuple(
                PendingLoad(entity, date.fromisoformat(day), datetime.fromisoformat(loaded_at))
                for entity, day, loaded_at in value.get("loads", [])
            ),
        )


def days_between(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def days_from_event_extra(extra: Mapping[str, Any] | None) -> list[date]:
    """The days a `gold` Asset event says the transform rebuilt, sorted.

    Its `run_days` when present; else (events of an older transform) every day from `since_date`
    (default: the logical date) to `logical_date`; no `logical_date` at all: no day.
    """
    extra = extra or {}
    if extra.get("run_days"):
        return sorted({date.fromisoformat(day) for day in extra["run_days"]})
    if "logical_date" not in extra:
        return []
    until = date.fromisoformat(extra["logical_date"])
    return days_between(date.fromisoformat(extra.get("since_date") or extra["logical_date"]), until)


def pending_loads(cursor) -> list[tuple[PendingLoad, list[date]]]:
    rows = cursor.execute(
        "select entity, logical_date, loaded_at, data_days from raw.loads"
        " where transformed_at is null order by entity, logical_date"
    ).fetchall()
    return [(PendingLoad(entity, day, loaded_at), list(days)) for entity, day, loaded_at, days in rows]


def ripple_days(cursor, changed: Iterable[date]) -> set[date]:
    """Days after a changed day, within the outlier reference window, that silver has sales on."""
    changed = set(changed)
    last = date.max - timedelta(days=OUTLIER_REFERENCE_DAYS)
    candidates = {
        day + timedelta(days=n) for day in changed if day <= last for n in range(1, OUTLIER_REFERENCE_DAYS)
    } - changed
    relation = ".".join(SILVER_SALES)
    if not candidates or cursor.execute("select to_regclass(%s)", (relation,)).fetchone()[0] is None:
        return set()
    from psycopg import sql

    query = sql.SQL(
        "select day from unnest(%s::date[]) as day where exists (select from {} where sale_date = day)"
    ).format(sql.Identifier(*SILVER_SALES))
    return {day for (day,) in cursor.execute(query, (sorted(candidates),)).fetchall()}


def resolve(
    dsn: str, logical_date: date, event_days: Iterable[date] = (), since_date: date | None = None
) -> RunWindow:
    """The run's days (see the module docstring) and the ledger rows it covers."""
    import psycopg

    from liftoff.ingest.loader import ensure_raw_tables

    ensure_raw_tables(dsn)  # a warehouse from before the ledger gets it (empty: nothing pending)
    with psycopg.connect(dsn) as conn, conn.cursor() as cursor:
        pending = pending_loads(cursor)
        days = {logical_date, *event_days}
        if since_date is not None and since_date <= logical_date:
            days.update(days_between(since_date, logical_date))
        for _, data_days in pending:
            days.update(data_days)
        days |= ripple_days(cursor, days)
    run_days = tuple(sorted(days))
    return RunWindow(run_days[0], logical_date, run_days, tuple(load for load, _ in pending))


def mark_transformed(dsn: str, loads: Sequence[PendingLoad], run_id: str) -> int:
    """Mark the ledger rows a successful run covered; a row loaded again since keeps pending."""
    import psycopg

    if not loads:
        return 0
    with psycopg.connect(dsn) as conn:
        marked = conn.execute(
            "update raw.loads set transformed_at = clock_timestamp(), transform_run_id = %s"
            " where (entity, logical_date, loaded_at) in"
            " (select * from unnest(%s::text[], %s::date[], %s::timestamptz[]))",
            (
                run_id,
                [load.entity for load in loads],
                [load.logical_date for load in loads],
                [load.loaded_at for load in loads],
            ),
        ).rowcount
    return marked
