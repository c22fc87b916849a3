"""What the DAG files share: default arguments, Assets, the dbt/Cosmos configuration.

DAG files import this at parse time, so it holds declarations only: no connection, Variable or
database is touched here. Functions that do touch them run inside tasks.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from airflow.sdk import Asset

from liftoff import settings

OWNER = "liftoff-data"
START_DATE = datetime(2026, 1, 1)
TIMEZONE = settings.BUSINESS_TIMEZONE

DEFAULT_ARGS: dict[str, Any] = {
    "owner": OWNER,
    "retries": 2,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=10),
}

# Appended to every DAG's doc_md, so the Airflow UI says what the README says about pausing.
PAUSE_NOTE = """

**Paused or not.** In the local stack (`make up`, `make demo`) this DAG starts un-paused. On Astro
and in production it starts paused (Airflow's default): un-pause all four DAGs (`ingest_crm`,
`transform_warehouse`, `quality_gate`, `cross_sell_campaign`), or a trigger waits `queued` and the
Asset chain stops at the first paused DAG.
"""

# The CRM's entities in load order (referenced entities first), as in liftoff.contracts, which
# DAG files do not import at parse time (a test keeps the two in step).
ENTITIES: tuple[str, ...] = ("suppliers", "products", "employees", "customers", "sales")
# Loads that must wait for others of the same day: their records reference those entities.
LOAD_AFTER: dict[str, tuple[str, ...]] = {
    "products": ("suppliers",),
    "sales": ("products", "employees", "customers"),
}


def raw_asset(entity: str) -> Asset:
    """The Asset a load task emits when raw.<entity> has new data for a logical date."""
    return Asset(name=f"raw.{entity}", uri=f"liftoff://warehouse/{settings.RAW_SCHEMA}/{entity}")


# Emitted by the transform. Extra: {"since_date", "logical_date", "run_days": [ISO dates]}: the day
# partitions it rebuilt (liftoff.transform.window.days_from_event_extra reads them).
GOLD_ASSET = Asset(name="gold", uri="liftoff://warehouse/gold")
# Emitted by the quality gate once gold passed its Great Expectations suites for a window: the only
# Asset customer-facing work (the campaign) may run on. Extra: {"since_date", "logical_date"}.
CERTIFIED_GOLD_ASSET = Asset(name="gold.certified", uri="liftoff://warehouse/gold/certified")


def logical_date_of(day: date) -> datetime:
    """The logical date of business day `day`'s run: midnight UTC of that date.

    The date as a user writes it: `airflow dags trigger --logical-date 2026-11-28`, a backfill's
    `--to-date 2026-11-28` and the REST API's `2026-11-28T00:00:00Z` all name this instant, and the
    ingest DAG's timetable (`liftoff.orchestration.timetables`) schedules day D's run on it.
    """
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def day_of(logical_date: datetime) -> date:
    """The business day a logical date names: its calendar date in UTC, whatever its time.

    The inverse of `logical_date_of`. Reading the UTC date (not the Brasília one) keeps a date typed
    as UTC midnight on its own day; midnight in Brasília (03:00Z) and the cron schedule's old
    01:00 Brasília (04:00Z) name the same day too.
    """
    if logical_date.tzinfo is None or logical_date.utcoffset() is None:
        raise ValueError(f"logical date {logical_date.isoformat()} has no time zone: say UTC (Z)")
    return logical_date.astimezone(UTC).date()


def logical_day(context: dict[str, Any]) -> date:
    """The business day (Brasília calendar) a run processes.

    Scheduled, backfilled and manual runs carry a logical date: the day is its UTC date (`day_of`).
    Asset-triggered runs do not (Airflow 3): they take the day from the triggering events, which
    the ingest DAG stamps with `logical_date`. A run with neither (a manual trigger without a
    logical date) processes the last complete day in Brasília.
    """
    dag_run = context["dag_run"]
    if dag_run.logical_date is not None:
        return day_of(dag_run.logical_date)
    days = [
        date.fromisoformat(event.extra["logical_date"])
        for events in context["triggering_asset_events"].values()
        for event in events
        if "logical_date" in (event.extra or {})
    ]
    if days:
        return max(days)
    return (dag_run.run_after.astimezone(ZoneInfo(TIMEZONE)) - timedelta(days=1)).date()


def logical_window(context: dict[str, Any]) -> tuple[date, date]:
    """(since, until): the business days a transform run rebuilds.

    An asset-triggered run covers every day its triggering events name (a backfill of the ingest
    DAG queues several); a manual run covers its logical date, or from the `since_date` Param.
    """
    until = logical_day(context)
    since = min([*triggering_days(context), until])
    requested = (context.get("params") or {}).get("since_date")
    if requested:
        since = min(since, date.fromisoformat(requested))
    return since, until


def triggering_days(context: dict[str, Any]) -> list[date]:
    """The logical dates the run's triggering Asset events name (none for a scheduled run)."""
    events = context.get("triggering_asset_events") or {}
    return [
        date.fromisoformat(event.extra["logical_date"])
        for queued in events.values()
        for event in queued
        if "logical_date" in (event.extra or {})
    ]


def days_to_check(context: dict[str, Any]) -> list[date]:
    """The business days a quality gate run checks, ascending: the days the transform rebuilt.

    Each triggering `gold` event names them: its "run_days" when present (the exact, possibly
    non-contiguous set: a late record's day plus today), else every day from its "since_date" to
    its "logical_date". A run without events (manual, or `dag.test`) checks its `logical_window`.
    """
    from liftoff.transform.window import days_from_event_extra

    days: set[date] = set()
    for queued in (context.get("triggering_asset_events") or {}).values():
        for event in queued:
            days.update(days_from_event_extra(event.extra))
    if not days:
        since, until = logical_window(context)
        days.update(since + timedelta(days=n) for n in range((until - since).days + 1))
    return sorted(days)
