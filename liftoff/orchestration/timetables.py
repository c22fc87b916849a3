"""The ingest DAG's timetable: one run per business day, addressed by that day's date.

Why not a cron schedule: `CronDataIntervalTimetable("0 1 * * *", timezone="America/Sao_Paulo")`
puts day D's logical date at 01:00 in Brasília (04:00Z), so `airflow backfill create --to-date D`
(read as D 00:00 UTC) leaves D out, and a run triggered at D 00:00Z processes D-1. No built-in
timetable (Airflow 3.3) separates the two moments that matter. A data-interval timetable
(`CronDataIntervalTimetable`, `DeltaDataIntervalTimetable`) runs when its interval ends: a day
starting at 00:00Z ends at 21:00 in Brasília, before the business day does. A trigger timetable
(`CronTriggerTimetable`/`DeltaTriggerTimetable` with an `interval`) dates a run at its run time
minus the interval, and a backfill's bounds select run times, so `--to-date D` still leaves D out.
`CronPartitionTimetable` keys runs by partition and gives them no logical date at all.

Here, business day D's run has:

* logical date D 00:00 UTC (`logical_date_of`): the date as a user writes it, so
  `--logical-date 2026-11-28`, a backfill's `--from-date`/`--to-date` (both inclusive) and the REST
  API's `logical_date` name the day, and `logical_day` reads it back (`day_of`);
* data interval [D 00:00 UTC, D+1 00:00 UTC): the calendar date D, a label;
* run after D+1 at `run_at` in `timezone` (01:00 in Brasília): once the business day is over.

A backfill's bound names the day of its UTC date, whatever its time, so a bound typed as
Brasília midnight (03:00Z) covers the same days as one typed as UTC midnight.

Custom timetables must be registered by a plugin so the scheduler can deserialize them:
`plugins/liftoff_timetables.py`.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pendulum
from airflow.timetables.base import DagRunInfo, DataInterval, TimeRestriction, Timetable
from airflow.utils.types import DagRunType

from liftoff.orchestration import TIMEZONE, day_of, logical_date_of


def _now() -> pendulum.DateTime:
    """The wall clock, for runs without catchup (a function of its own, so tests can set it)."""
    return pendulum.now("UTC")


class BusinessDayTimetable(Timetable):
    """Day D's run: logical date D 00:00 UTC, run after D+1 at `run_at` in `timezone`."""

    def __init__(self, timezone: str = TIMEZONE, run_at: time = time(1)) -> None:
        try:
            self._zone = ZoneInfo(timezone)
        except (ValueError, KeyError) as unknown:  # ZoneInfoNotFoundError is a KeyError
            raise ValueError(f"BusinessDayTimetable: unknown time zone {timezone!r}") from unknown
        if run_at.tzinfo is not None:
            raise ValueError(f"BusinessDayTimetable: run_at {run_at} is a wall-clock time in {timezone}")
        self._timezone = timezone
        self._run_at = run_at
        self.description = (
            f"Day D at {run_at:%H:%M} on D+1 ({timezone}); logical date D 00:00 UTC, the day's date"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BusinessDayTimetable):
            return NotImplemented
        return (self._timezone, self._run_at) == (other._timezone, other._run_at)

    def __hash__(self) -> int:
        return hash((self._timezone, self._run_at))

    @property
    def summary(self) -> str:
        return f"day D at D+1 {self._run_at:%H:%M} {self._timezone}"

    def serialize(self) -> dict[str, Any]:
        return {"timezone": self._timezone, "run_at": self._run_at.isoformat(timespec="minutes")}

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> BusinessDayTimetable:
        return cls(data["timezone"], time.fromisoformat(data["run_at"]))

    def run_after(self, day: date) -> pendulum.DateTime:
        """When day `day`'s run may start: the next day at `run_at`, local time."""
        local = datetime.combine(day + timedelta(days=1), self._run_at, tzinfo=self._zone)
        return pendulum.instance(local).in_timezone("UTC")

    def dagrun_info(self, day: date) -> DagRunInfo:
        """Day `day`'s run: its logical date, data interval and run time."""
        start = pendulum.instance(logical_date_of(day))
        end = pendulum.instance(logical_date_of(day + timedelta(days=1)))
        return DagRunInfo(run_after=self.run_after(day), data_interval=DataInterval(start, end))

    def last_complete_day(self, now: datetime) -> date:
        """The newest day whose run time has come at `now`."""
        day = now.astimezone(self._zone).date() - timedelta(days=1)
        while self.run_after(day) > now:
            day -= timedelta(days=1)
        return day

    def infer_manual_data_interval(self, *, run_after: datetime) -> DataInterval:
        # Airflow passes the trigger time, not the run's logical date: the last complete day then.
        return self.dagrun_info(self.last_complete_day(run_after)).data_interval

    def next_dagrun_info(
        self,
        *,
        last_automated_data_interval: DataInterval | None,
        restriction: TimeRestriction,
    ) -> DagRunInfo | None:
        candidates = []
        if last_automated_data_interval is not None:
            candidates.append(day_of(last_automated_data_interval.start) + timedelta(days=1))
        if restriction.earliest is not None:
            candidates.append(day_of(restriction.earliest))
        if not restriction.catchup:  # no catchup: nothing older than the newest complete day
            candidates.append(self.last_complete_day(_now()))
        if not candidates:
            return None
        day = max(candidates)
        if restriction.latest is not None and day > day_of(restriction.latest):
            return None
        return self.dagrun_info(day)

    def generate_run_id(
        self,
        *,
        run_type: DagRunType,
        run_after: pendulum.DateTime,
        data_interval: DataInterval | None,
        **extra: Any,
    ) -> str:
        """A scheduled run is named after its day (`scheduled__2026-11-28T00:00:00+00:00`), not
        after its run time, which falls on the next day; other runs keep Airflow's names."""
        if run_type == DagRunType.SCHEDULED and data_interval is not None:
            return run_type.generate_run_id(suffix=data_interval.start.isoformat())
        return super().generate_run_id(
            run_type=run_type, run_after=run_after, data_interval=data_interval, **extra
        )
