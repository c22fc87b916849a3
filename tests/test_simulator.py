"""The simulator is a pure function of (seed, day): the base of every reproducible test."""

from __future__ import annotations

from datetime import date

import pyarrow as pa

from liftoff.simulator import CATEGORIES, SimulatorConfig, days_between, sales_for_day

CONFIG = SimulatorConfig(sales_per_day=200)


def test_same_seed_and_day_give_identical_rows():
    assert sales_for_day(date(2026, 5, 4), CONFIG).equals(sales_for_day(date(2026, 5, 4), CONFIG))


def test_other_seed_or_day_give_other_rows():
    base = sales_for_day(date(2026, 5, 4), CONFIG)
    assert not base.equals(sales_for_day(date(2026, 5, 5), CONFIG))
    assert not base.equals(sales_for_day(date(2026, 5, 4), SimulatorConfig(seed=7, sales_per_day=200)))


def test_a_day_does_not_depend_on_what_was_generated_before():
    days = days_between(date(2026, 5, 1), date(2026, 5, 7))
    in_order = pa.concat_tables(sales_for_day(day, CONFIG) for day in days)
    backwards = [sales_for_day(day, CONFIG) for day in reversed(days)]
    assert in_order.equals(pa.concat_tables(reversed(backwards)))


def test_sales_are_consistent_and_unique():
    table = sales_for_day(date(2026, 5, 4), CONFIG).to_pydict()
    assert len(set(table["sale_id"])) == len(table["sale_id"])
    for unit, quantity, total in zip(table["unit_price"], table["quantity"], table["price"], strict=True):
        assert quantity > 0
        assert unit > 0
        assert abs(unit * quantity - total) < 0.01
    assert all(day.date() in (date(2026, 5, 4), date(2026, 5, 5)) for day in table["date"])
    assert CATEGORIES[0] == "Eletrônico"
