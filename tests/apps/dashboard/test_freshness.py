"""Which day gold holds and whether it is complete, judged against today in Brasília."""

from datetime import date

from liftoff.apps.dashboard.queries import Freshness

TODAY = date(2026, 6, 10)


def test_a_day_is_complete_once_it_is_over():
    yesterday = Freshness(date(2026, 6, 9), TODAY)
    assert (yesterday.latest_is_complete, yesterday.up_to_date, yesterday.days_behind) == (True, True, 1)
    assert yesterday.last_complete_day == date(2026, 6, 9)
    current = Freshness(TODAY, TODAY)
    assert (current.latest_is_complete, current.up_to_date, current.days_behind) == (False, True, 0)
    assert current.last_complete_day == date(2026, 6, 9)
    late = Freshness(date(2026, 6, 7), TODAY)
    assert (late.latest_is_complete, late.up_to_date, late.days_behind) == (True, False, 3)
    empty = Freshness(None, TODAY)
    assert (empty.latest_is_complete, empty.up_to_date, empty.last_complete_day) == (False, False, None)
