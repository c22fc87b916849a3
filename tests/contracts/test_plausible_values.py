"""Plausible values end to end: after the hostile corpus is loaded and dbt builds (a full build and
an incremental day), every column of every bronze, silver and gold relation reads back through
psycopg and pandas, and every dashboard query answers over the data's whole date range.

Why: a sale dated 0001-01-01 used to pass the contracts and, after a full build, sit in
gold.daily_sales as a day in year 1 BC (its Brasília date), which psycopg cannot turn into a Python
date (`DataError: date too small`): the dashboard's date-range query failed for every reader.
"""

from __future__ import annotations

import inspect
from datetime import date, timedelta

import pandas as pd
import psycopg
import pytest
import sqlalchemy
from psycopg import sql

from liftoff.apps.dashboard import queries
from liftoff.apps.dashboard.role import apply_dashboard_role, dashboard_url
from liftoff.ingest.daily import load_landed_day
from liftoff.ingest.simulator import SimulatorConfig
from tests import hostile_records
from tests.contracts.test_hostile_input import base_records
from tests.warehouses import dbt_build, simulate_days

FIRST, HOSTILE = date(2026, 4, 13), date(2026, 4, 15)
CONFIG = SimulatorConfig(sales_per_day=30, dirty_rate=0.0, seed=11)
LAYERS = ("bronze", "silver", "gold")


def relations(dsn: str) -> list[tuple[str, str]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "select table_schema, table_name from information_schema.tables"
            " where table_schema = any(%s) order by 1, 2",
            (list(LAYERS),),
        ).fetchall()


def unreadable(dsn: str) -> dict[str, str]:
    """Every relation of the layers read whole through psycopg and through pandas: what failed."""
    failures: dict[str, str] = {}
    engine = sqlalchemy.create_engine(dsn.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        for schema, name in relations(dsn):
            query = sql.SQL("select * from {}").format(sql.Identifier(schema, name))
            try:
                with psycopg.connect(dsn) as conn:
                    conn.execute(query).fetchall()
            except psycopg.Error as error:
                failures[f"psycopg {schema}.{name}"] = str(error).splitlines()[0]
            try:
                with engine.connect() as conn:
                    pd.read_sql(sqlalchemy.text(f'select * from "{schema}"."{name}"'), conn)
            except Exception as error:  # any failure to read is the finding
                failures[f"pandas {schema}.{name}"] = str(error).splitlines()[0]
    finally:
        engine.dispose()
    return failures


def dashboard_answers(dsn: str) -> dict[str, object]:
    """Every query function of the dashboard called over the data's whole range (as the read-only
    role). A new query function with a parameter not listed here fails the test until it is."""
    sales, hires = queries.sale_date_bounds(dsn), queries.hire_date_bounds(dsn)
    assert not sales.empty
    assert not hires.empty
    arguments = {
        "dsn": dsn,
        "start": sales.first,
        "end": sales.last,
        "hire_start": hires.first,
        "hire_end": hires.last,
        "today": sales.last + timedelta(days=1),
    }
    answers = {}
    for name, function in inspect.getmembers(queries, inspect.isfunction):
        if name.startswith("_") or function.__module__ != queries.__name__:
            continue
        parameters = inspect.signature(function).parameters
        missing = [p for p, spec in parameters.items() if p not in arguments and spec.default is spec.empty]
        assert not missing, f"queries.{name}: say how to call it (parameters {missing})"
        answers[name] = function(**{p: arguments[p] for p in parameters if p in arguments})
    return answers


@pytest.mark.parametrize("build", ["full", "incremental"])
def test_after_the_hostile_corpus_every_column_and_dashboard_query_reads(warehouse, lake, build):
    simulate_days(warehouse, lake, FIRST, HOSTILE - timedelta(days=1), CONFIG)
    hostile_records.land(lake, HOSTILE, base_records(FIRST, CONFIG))
    for entity in ("suppliers", "products", "employees", "customers", "sales"):
        load_landed_day(warehouse, lake, entity, HOSTILE, run_id="hostile")
    if build == "full":
        dbt_build(warehouse, FIRST, HOSTILE, "--full-refresh")
    else:  # the days before, then the hostile day alone, as the daily schedule runs it
        dbt_build(warehouse, FIRST, HOSTILE - timedelta(days=1))
        dbt_build(warehouse, HOSTILE, HOSTILE)
    apply_dashboard_role(warehouse)

    assert len(relations(warehouse)) > 20
    assert unreadable(warehouse) == {}
    answers = dashboard_answers(dashboard_url(warehouse))
    assert {"kpis", "daily_sales", "sales_by_product", "top_sellers", "freshness"} <= set(answers)
    with psycopg.connect(warehouse) as conn:
        [(first, last)] = conn.execute(
            "select min(sale_date), max(sale_date) from gold.daily_sales"
        ).fetchall()
        [(oldest_hire,)] = conn.execute("select min(hire_date) from silver.employees").fetchall()
    assert FIRST <= first <= last <= HOSTILE
    assert oldest_hire >= date(1950, 1, 1)
    assert answers["daily_sales"]["sale_date"].min() == first
