"""The simulator is a pure function of (seed, day), realistic in the ways the platform relies on,
and its dirty-data knob injects exactly the defects it reports."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from liftoff.contracts import CONTRACTS
from liftoff.contracts.engine import ValidationContext, end_of_day, validate_table
from liftoff.ingest import simulator
from liftoff.ingest.simulator import SimulatorConfig, activity, days_between, defects_of, snapshot

CONFIG = SimulatorConfig(sales_per_day=200)
DAY = date(2026, 5, 4)


@pytest.mark.parametrize("entity", sorted(CONTRACTS))
def test_same_seed_and_day_give_identical_rows(entity):
    first = activity(entity, DAY, CONFIG)
    simulator.clear_caches()
    assert first.equals(activity(entity, DAY, CONFIG))


def test_other_seed_or_day_give_other_rows():
    base = activity("sales", DAY, CONFIG)
    assert not base.equals(activity("sales", DAY + timedelta(days=1), CONFIG))
    assert not base.equals(activity("sales", DAY, SimulatorConfig(seed=7, sales_per_day=200)))


def test_a_range_day_by_day_equals_the_range_at_once():
    days = days_between(date(2026, 4, 1), date(2026, 4, 14))
    at_once = simulator.activity_between("sales", days[0], days[-1], CONFIG)
    simulator.clear_caches()
    backwards = {day: activity("sales", day, CONFIG) for day in reversed(days)}
    assert at_once.equals(pa.concat_tables(backwards[day] for day in days))


def test_before_the_crm_opened_there_is_nothing():
    with pytest.raises(ValueError, match="opened on 2024-01-01"):
        activity("sales", date(2023, 12, 31), CONFIG)


def test_every_clean_record_passes_its_contract():
    known = {e: pa.array(np.arange(1, 10**6)) for e in ("customers", "products", "employees", "suppliers")}
    context = ValidationContext(as_of=end_of_day(DAY, "America/Sao_Paulo"), references=known)
    for entity, contract in CONTRACTS.items():
        table = snapshot(entity, DAY, CONFIG) if entity != "sales" else activity(entity, DAY, CONFIG)
        outcome = validate_table(contract, table, context)
        assert outcome.violations == [], f"{entity}: {outcome.violations[:3]}"


def test_sales_reference_records_that_exist_that_day():
    sales = activity("sales", DAY, CONFIG)
    for entity, column in (
        ("customers", "customer_id"),
        ("products", "product_id"),
        ("employees", "seller_id"),
    ):
        ids = snapshot(entity, DAY, CONFIG).column(CONTRACTS[entity].natural_key)
        assert pc.all(pc.is_in(sales.column(column), value_set=ids)).as_py(), column
    sellers = snapshot("employees", DAY, CONFIG)
    active = sellers.filter(pc.is_null(sellers.column("termination_date")))
    assert pc.all(pc.is_in(sales.column("seller_id"), value_set=active.column("employee_id"))).as_py()


def test_sales_are_skewed_and_seasonal_like_real_ones():
    days = days_between(date(2026, 3, 2), date(2026, 3, 29))  # four whole weeks
    sales = simulator.activity_between("sales", days[0], days[-1], CONFIG)
    by_product = sorted(Counter(sales.column("product_id").to_pylist()).values(), reverse=True)
    top_fifth = sum(by_product[: max(1, len(by_product) // 5)])
    assert top_fifth / sum(by_product) > 0.5, "a fifth of the products make most sales"
    by_seller = sorted(Counter(sales.column("seller_id").to_pylist()).values(), reverse=True)
    assert by_seller[0] > 3 * by_seller[-1], "some sellers sell far more than others"
    purchases = Counter(sales.column("customer_id").to_pylist())
    assert sum(1 for n in purchases.values() if n >= 2) > 50, "returning customers (cross-sell targets)"
    per_day = Counter(
        d.date() for d in pc.subtract(sales.column("date"), pa.scalar(timedelta(hours=3))).to_pylist()
    )
    saturdays = np.mean([per_day[d] for d in days if d.weekday() == 5])
    sundays = np.mean([per_day[d] for d in days if d.weekday() == 6])
    assert saturdays > sundays
    december = len(activity("sales", date(2026, 12, 12), CONFIG))  # a Saturday before Christmas
    assert december > per_day[date(2026, 3, 7)]  # a Saturday in March


def test_the_crm_changes_over_time():
    early, late = date(2024, 6, 1), date(2026, 6, 1)
    for entity in ("suppliers", "products", "employees", "customers"):
        assert len(snapshot(entity, late, CONFIG)) > len(snapshot(entity, early, CONFIG)), entity
    employees = snapshot("employees", late, CONFIG)
    assert pc.sum(pc.is_valid(employees.column("termination_date"))).as_py() > 0, "people leave"
    leaving_days = [
        d
        for d in days_between(date(2026, 1, 1), date(2026, 6, 1))
        if pc.sum(pc.is_valid(activity("employees", d, CONFIG).column("termination_date"))).as_py()
    ]
    assert leaving_days, "a termination shows up as a change on the day it happens"


@pytest.mark.parametrize("entity", ["suppliers", "products", "employees", "customers", "sales"])
def test_dirty_knob_injects_exactly_what_it_reports(entity):
    config = SimulatorConfig(sales_per_day=200, dirty_rate=0.2, seed=11)
    table = snapshot(entity, DAY, config) if entity != "sales" else activity(entity, DAY, config)
    defects = defects_of(table)
    assert sum(defects.values()) > 0
    known = {e: pa.array(np.arange(1, 10**6)) for e in ("customers", "products", "employees", "suppliers")}
    context = ValidationContext(as_of=end_of_day(DAY, "America/Sao_Paulo"), references=known)
    outcome = validate_table(CONTRACTS[entity], table, context)
    assert outcome.invalid_rows.num_rows == sum(defects.values())
