"""A day's run is addressed by its date as a user writes it (issue 16).

The ingest DAG's timetable (`liftoff.orchestration.timetables.BusinessDayTimetable`) gives business
day D's run the logical date D 00:00 UTC and runs it at 01:00 in Brasília on D+1; `logical_day`
reads the day back as the logical date's UTC date. Under the former cron schedule a backfill
`--to-date D` dropped D and a trigger at D 00:00Z processed D-1: these tests pin both, first on
the functions and the timetable, then through Airflow's own CLI and REST API (`test_business_day_cli`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pendulum
import pytest

from liftoff.orchestration import TIMEZONE, day_of, logical_date_of, logical_day
from liftoff.orchestration import timetables as timetables_module
from liftoff.orchestration.timetables import BusinessDayTimetable

BRT = ZoneInfo(TIMEZONE)
DAY = date(2026, 11, 28)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        ("2026-11-28T00:00:00+00:00", DAY),  # the date as typed (`--logical-date 2026-11-28`)
        ("2026-11-28T23:59:59+00:00", DAY),
        ("2026-11-27T21:00:00-03:00", DAY),  # the same instant, written in Brasília
        ("2026-11-28T00:00:00-03:00", DAY),  # midnight in Brasília (03:00Z)
        ("2026-11-28T01:00:00-03:00", DAY),  # the former cron schedule's logical date (04:00Z)
        ("2026-11-27T23:59:59+00:00", DAY - timedelta(days=1)),
    ],
)
def test_a_logical_date_names_the_day_of_its_utc_date(moment, expected):
    assert day_of(at(moment)) == expected
    context = {"dag_run": SimpleNamespace(logical_date=at(moment)), "triggering_asset_events": {}}
    assert logical_day(context) == expected


def test_the_logical_date_of_a_day_is_its_utc_midnight_and_reads_back_as_the_day():
    for day in (DAY, date(2026, 2, 28), date(2026, 12, 31), date(2028, 2, 29)):
        assert logical_date_of(day) == datetime(day.year, day.month, day.day, tzinfo=UTC)
        assert day_of(logical_date_of(day)) == day


def test_a_logical_date_without_a_time_zone_is_refused_naming_it():
    with pytest.raises(ValueError, match="2026-11-28T00:00:00 has no time zone"):
        day_of(datetime(2026, 11, 28))


@pytest.mark.parametrize(
    ("run_after", "expected"),
    [
        ("2026-11-29T02:59:00+00:00", DAY - timedelta(days=1)),  # 23:59 on the 28th in Brasília
        ("2026-11-29T03:00:00+00:00", DAY),  # midnight in Brasília: the 28th is over
    ],
)
def test_a_run_without_logical_date_or_events_processes_the_last_complete_brasilia_day(run_after, expected):
    dag_run = SimpleNamespace(logical_date=None, run_after=at(run_after))
    assert logical_day({"dag_run": dag_run, "triggering_asset_events": {}}) == expected


def test_an_asset_triggered_run_takes_the_newest_day_its_events_name():
    events = {"raw.sales": [SimpleNamespace(extra={"logical_date": "2026-11-27"})]}
    events["raw.customers"] = [SimpleNamespace(extra={"logical_date": "2026-11-28"})]
    dag_run = SimpleNamespace(logical_date=None, run_after=at("2026-12-02T10:00:00+00:00"))
    assert logical_day({"dag_run": dag_run, "triggering_asset_events": events}) == DAY


def restriction(earliest, latest, catchup):
    from airflow.timetables.base import TimeRestriction

    return TimeRestriction(earliest=earliest, latest=latest, catchup=catchup)


def days_between(timetable, earliest: datetime, latest: datetime) -> list:
    """What a backfill asks of a timetable: every run from `earliest` to `latest` (catchup)."""
    infos, last = [], None
    while info := timetable.next_dagrun_info(
        last_automated_data_interval=last, restriction=restriction(earliest, latest, True)
    ):
        infos.append(info)
        last = info.data_interval
    return infos


def test_day_d_runs_after_it_ends_in_brasilia_under_the_logical_date_d():
    info = BusinessDayTimetable().dagrun_info(DAY)
    assert info.logical_date == pendulum.datetime(2026, 11, 28, tz="UTC")
    assert info.data_interval.end == pendulum.datetime(2026, 11, 29, tz="UTC")
    assert info.run_after == datetime(2026, 11, 29, 1, tzinfo=BRT)  # 01:00 in Brasília on D+1
    assert info.run_after > datetime(2026, 11, 29, tzinfo=BRT), "before the Brasília day ended"
    later = BusinessDayTimetable(run_at=time(6, 30)).dagrun_info(DAY).run_after
    assert later == datetime(2026, 11, 29, 6, 30, tzinfo=BRT)


@pytest.mark.parametrize(
    ("bounds", "zone"),
    [
        (("2026-11-26", "2026-11-28"), "UTC"),  # Airflow's default time zone: UTC midnights
        (("2026-11-26", "2026-11-28"), TIMEZONE),  # an installation set to Brasília: 03:00Z
    ],
)
def test_a_range_of_days_gives_one_run_per_day_both_ends_included(bounds, zone):
    earliest, latest = (pendulum.parse(bound, tz=zone) for bound in bounds)
    infos = days_between(BusinessDayTimetable(), earliest, latest)
    assert [day_of(info.logical_date) for info in infos] == [DAY - timedelta(days=n) for n in (2, 1, 0)]
    assert [info.logical_date for info in infos] == [
        pendulum.instance(logical_date_of(DAY - timedelta(days=n))) for n in (2, 1, 0)
    ]


def test_without_catchup_the_first_run_is_the_newest_complete_day(monkeypatch):
    timetable = BusinessDayTimetable()
    start = pendulum.datetime(2026, 1, 1, tz="UTC")
    for now, newest in (
        ("2026-12-02T03:59:00+00:00", date(2026, 11, 30)),  # 00:59 in Brasília: the 1st not run yet
        ("2026-12-02T04:00:00+00:00", date(2026, 12, 1)),
        ("2026-12-02T23:00:00+00:00", date(2026, 12, 1)),
    ):
        monkeypatch.setattr(timetables_module, "_now", lambda now=now: pendulum.parse(now))
        info = timetable.next_dagrun_info(
            last_automated_data_interval=None, restriction=restriction(start, None, False)
        )
        assert day_of(info.logical_date) == newest, now
        assert timetable.last_complete_day(pendulum.parse(now)) == newest
        # After that day's run, the next is the day after, when its time comes.
        following = timetable.next_dagrun_info(
            last_automated_data_interval=info.data_interval, restriction=restriction(start, None, False)
        )
        assert day_of(following.logical_date) == newest + timedelta(days=1)


def test_a_manual_run_infers_the_last_complete_day_as_its_data_interval():
    triggered = pendulum.parse("2026-11-29T10:00Z")
    interval = BusinessDayTimetable().infer_manual_data_interval(run_after=triggered)
    assert (interval.start, interval.end) == (logical_date_of(DAY), logical_date_of(DAY + timedelta(days=1)))


def test_a_scheduled_run_is_named_after_its_day():
    from airflow.utils.types import DagRunType

    timetable = BusinessDayTimetable()
    info = timetable.dagrun_info(DAY)
    scheduled = timetable.generate_run_id(
        run_type=DagRunType.SCHEDULED, run_after=info.run_after, data_interval=info.data_interval
    )
    assert scheduled == "scheduled__2026-11-28T00:00:00+00:00"
    manual = timetable.generate_run_id(
        run_type=DagRunType.MANUAL, run_after=info.run_after, data_interval=info.data_interval
    )
    assert manual == "manual__2026-11-29T04:00:00+00:00"


def test_the_timetable_survives_airflows_serialization_through_the_plugin():
    """The scheduler rebuilds the timetable from the serialized DAG: only a plugin-registered
    custom timetable can be rebuilt (plugins/liftoff_timetables.py)."""
    from airflow.serialization.decoders import decode_timetable
    from airflow.serialization.encoders import encode_timetable

    timetable = BusinessDayTimetable(timezone=TIMEZONE, run_at=time(1, 15))
    encoded = encode_timetable(timetable)
    assert encoded["__type"] == "liftoff.orchestration.timetables.BusinessDayTimetable"
    decoded = decode_timetable(encoded)
    assert decoded == timetable
    assert decoded.dagrun_info(DAY) == timetable.dagrun_info(DAY)


def test_an_unknown_time_zone_is_refused_naming_it():
    with pytest.raises(ValueError, match="unknown time zone 'America/Sao_Paolo'"):
        BusinessDayTimetable(timezone="America/Sao_Paolo")


def test_a_run_time_with_its_own_time_zone_is_refused():
    with pytest.raises(ValueError, match="is a wall-clock time in America/Sao_Paulo"):
        BusinessDayTimetable(run_at=time(1, tzinfo=UTC))
