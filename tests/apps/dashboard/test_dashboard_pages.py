"""The Streamlit pages through AppTest on a real warehouse: they render with data, the date filters
change the numbers (checked against SQL on the layers below gold), and an empty, a missing or an
unreachable warehouse shows a friendly message, never an exception."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest
from streamlit.testing.v1 import AppTest

import streamlit as st
from liftoff import settings
from liftoff.apps.dashboard import formatting as fmt
from tests.apps.dashboard.conftest import FIRST_DAY, LAST_DAY

# Needs a gold warehouse built by dbt on the embedded Postgres: not in `make test-fast`.
pytestmark = pytest.mark.services

APP = str(settings.PROJECT_ROOT / "streamlit" / "app.py")


@pytest.fixture(autouse=True)
def fresh_cache():
    """Each test sees the warehouse as it is now, not a frame cached by an earlier test."""
    st.cache_data.clear()
    yield
    st.cache_data.clear()


def open_page(monkeypatch, dsn: str, page: str | None = None) -> AppTest:
    monkeypatch.setenv("LIFTOFF_DASHBOARD_URL", dsn)
    app = AppTest.from_file(APP, default_timeout=60)
    app.run()
    if page:
        app.switch_page(page)
        app.run()
    assert not app.exception, app.exception
    return app


def metric(app: AppTest, label: str) -> str:
    [value] = [m.value for m in app.metric if m.label == label]
    return value


def plotly_charts(app: AppTest) -> list:
    return app.get("plotly_chart")


def plotly_values(values) -> list:
    """Plotly writes numeric arrays as base64 typed arrays ({"dtype", "bdata"}); plain lists as they are."""
    if isinstance(values, dict):
        import base64

        import numpy as np

        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"]).tolist()
    return list(values)


def sales_totals(admin_dsn: str, start: date, end: date) -> tuple[float, int, int, int]:
    """Revenue, sales, items and distinct products straight from silver (below gold)."""
    with psycopg.connect(admin_dsn) as conn:
        revenue, sales, items, products = conn.execute(
            "select sum(sale_value), count(*), sum(quantity), count(distinct product_id)"
            " from silver.sales where sale_date between %s and %s",
            (start, end),
        ).fetchone()
    return float(revenue), sales, items, products


def staff_hired(admin_dsn: str, hire_start: date, hire_end: date) -> int:
    with psycopg.connect(admin_dsn) as conn:
        return conn.execute(
            "select count(*) from silver.employees where hire_date between %s and %s"
            " and hire_date <= %s and (termination_date is null or termination_date > %s)",
            (hire_start, hire_end, LAST_DAY, LAST_DAY),
        ).fetchone()[0]


def test_dashboard_renders_the_kpis_the_seven_charts_and_the_birthdays_table(monkeypatch, gold_warehouse):
    app = open_page(monkeypatch, gold_warehouse.dashboard_dsn)
    revenue, sales, items, products = sales_totals(gold_warehouse.admin_dsn, FIRST_DAY, LAST_DAY)
    assert metric(app, "Receita") == fmt.brl(revenue)
    assert metric(app, "Vendas") == fmt.integer(sales)
    assert metric(app, "Itens vendidos") == fmt.integer(items)
    assert metric(app, "Produtos vendidos") == fmt.integer(products)
    assert metric(app, "Funcionários") == fmt.integer(
        staff_hired(gold_warehouse.admin_dsn, date.min, date.max)
    )
    # Seven Plotly charts; the eighth (birthdays) is a table, or a note when nobody has one.
    assert len(plotly_charts(app)) == 7
    assert len(app.dataframe) == 1 or any("aniversariante" in i.value for i in app.info)
    assert not app.error
    # Sales over time: one point per day, and the mean of those days as the reference line.
    with psycopg.connect(gold_warehouse.admin_dsn) as conn:
        daily = conn.execute(
            "select sum(sale_value) from silver.sales group by sale_date order by sale_date"
        ).fetchall()
        top = conn.execute(
            "select e.first_name || ' ' || e.last_name from silver.sales as s"
            " join silver.employees as e on s.seller_id = e.employee_id"
            " group by s.seller_id, e.first_name, e.last_name"
            " order by sum(s.sale_value) desc, s.seller_id limit 10"
        ).fetchall()
    over_time, _, sellers, *_ = [json.loads(chart.proto.spec) for chart in plotly_charts(app)]
    assert plotly_values(over_time["data"][0]["y"]) == pytest.approx([float(v) for (v,) in daily])
    [mean_line] = over_time["layout"]["shapes"]
    assert mean_line["y0"] == pytest.approx(sum(float(v) for (v,) in daily) / len(daily))
    # Top 10 sellers, drawn bottom-up (the best on top).
    assert list(reversed(plotly_values(sellers["data"][0]["y"]))) == [name for (name,) in top]


def test_the_sale_date_filter_changes_the_numbers(monkeypatch, gold_warehouse):
    app = open_page(monkeypatch, gold_warehouse.dashboard_dsn)
    everything = metric(app, "Receita")
    app.date_input(key="sale_range").set_value((LAST_DAY, LAST_DAY)).run()
    assert not app.exception
    revenue, sales, _, products = sales_totals(gold_warehouse.admin_dsn, LAST_DAY, LAST_DAY)
    assert metric(app, "Receita") == fmt.brl(revenue) != everything
    assert metric(app, "Vendas") == fmt.integer(sales)
    assert metric(app, "Produtos vendidos") == fmt.integer(products)
    # One day on the date axis: one label, that day (Plotly alone printed it five times, hours apart).
    over_time = json.loads(plotly_charts(app)[0].proto.spec)
    assert over_time["layout"]["xaxis"]["ticktext"] == [fmt.day(LAST_DAY)]
    assert len(over_time["layout"]["xaxis"]["tickvals"]) == 1


def test_a_range_without_sales_shows_an_empty_state(monkeypatch, gold_warehouse):
    """A range the data does not cover can be picked and says so, with the span gold holds."""
    app = open_page(monkeypatch, gold_warehouse.dashboard_dsn)
    picker = app.date_input(key="sale_range")
    start, end = FIRST_DAY - timedelta(days=40), FIRST_DAY - timedelta(days=30)
    assert picker.min <= start  # the browser accepts the range (no red, ignored field)
    picker.set_value((start, end)).run()
    assert not app.exception
    assert not app.error
    [empty] = [info.value for info in app.info if "Nenhuma venda" in info.value]
    assert f"Nenhuma venda de {fmt.day(start)} a {fmt.day(end)}" in empty
    assert f"de {fmt.day(FIRST_DAY)} a {fmt.day(LAST_DAY)}" in empty
    assert metric(app, "Receita") == fmt.brl(0)
    # The three sales charts give way to notes; the staff charts (hire filter) stay.
    assert len(plotly_charts(app)) == 4
    assert sum("Sem dados para este filtro" in info.value for info in app.info) == 3
    # The same for a hire range in which nobody on the staff was hired.
    with psycopg.connect(gold_warehouse.admin_dsn) as conn:
        [(first, last)] = conn.execute("select min(hire_date), max(hire_date) from gold.staff_by_hire_date")
    hire_start, hire_end = first - timedelta(days=400), first - timedelta(days=300)
    app.date_input(key="hire_range").set_value((hire_start, hire_end)).run()
    assert not app.exception
    [nobody] = [info.value for info in app.info if "Ninguém do quadro" in info.value]
    assert f"contratado de {fmt.day(hire_start)} a {fmt.day(hire_end)}" in nobody
    assert f"de {fmt.day(first)} a {fmt.day(last)}" in nobody
    assert metric(app, "Funcionários") == "0"


def test_the_hire_date_filter_changes_the_staff_numbers(monkeypatch, gold_warehouse):
    app = open_page(monkeypatch, gold_warehouse.dashboard_dsn)
    with psycopg.connect(gold_warehouse.admin_dsn) as conn:
        [(first, last)] = conn.execute("select min(hire_date), max(hire_date) from gold.staff_by_hire_date")
    middle = first + (last - first) / 2
    before = metric(app, "Funcionários")
    app.date_input(key="hire_range").set_value((first, middle)).run()
    assert not app.exception
    expected = staff_hired(gold_warehouse.admin_dsn, first, middle)
    assert metric(app, "Funcionários") == fmt.integer(expected) != before
    # The sales numbers do not move with the hire filter.
    revenue, *_ = sales_totals(gold_warehouse.admin_dsn, FIRST_DAY, LAST_DAY)
    assert metric(app, "Receita") == fmt.brl(revenue)


def test_an_empty_gold_shows_a_friendly_empty_state(monkeypatch, empty_gold_warehouse):
    app = open_page(monkeypatch, empty_gold_warehouse.dashboard_dsn)
    assert any("Ainda não há vendas no gold" in info.value for info in app.info)
    assert not plotly_charts(app)
    assert not app.error
    status = open_page(monkeypatch, empty_gold_warehouse.dashboard_dsn, "views/pipeline_status.py")
    assert any("ainda não tem vendas" in info.value for info in status.info)


def test_a_warehouse_without_gold_shows_a_friendly_empty_state(monkeypatch, no_gold_warehouse):
    app = open_page(monkeypatch, no_gold_warehouse.dashboard_dsn)
    assert any("Ainda não há vendas no gold" in info.value for info in app.info)
    assert not app.error


def test_an_unreachable_warehouse_is_one_clear_message(monkeypatch, gold_warehouse):
    from liftoff.devstack.loopback import free_port

    port = free_port()  # nothing listens there (a fixed port was once the test cluster's own)
    down = f"postgresql://liftoff_dashboard:x@127.0.0.1:{port}/warehouse"
    for page in (None, "views/pipeline_status.py"):
        app = open_page(monkeypatch, down, page)
        [error] = app.error
        assert "não está acessível" in error.value


def test_pipeline_status_shows_freshness_and_the_last_campaign(monkeypatch, gold_warehouse):
    app = open_page(monkeypatch, gold_warehouse.dashboard_dsn, "views/pipeline_status.py")
    assert metric(app, "Última data de venda no gold") == fmt.day(LAST_DAY)
    assert any("Nenhuma campanha" in info.value for info in app.info)
    # The dbt model gold.campaign_summaries is empty until a campaign runs; its summarise step
    # rebuilds it then, and the role reads the rebuilt table without a new grant.
    with psycopg.connect(gold_warehouse.admin_dsn) as conn:
        conn.execute(
            "insert into gold.campaign_summaries"
            " (campaign_id, logical_date, channel, audience_size, sent, skipped, failed, finished_at)"
            " values"
            " ('old', '2026-06-05', 'email', 50, 50, 0, 0, %s),"
            " ('new', '2026-06-06', 'email', 40, 35, 3, 2, %s),"
            " ('new', '2026-06-06', 'telegram', 40, 10, 30, 0, %s)",
            (datetime(2026, 6, 5, 9, tzinfo=UTC), datetime(2026, 6, 6, 9, tzinfo=UTC),
             datetime(2026, 6, 6, 9, 5, tzinfo=UTC)),
        )  # fmt: skip
    try:
        st.cache_data.clear()
        app = open_page(monkeypatch, gold_warehouse.dashboard_dsn, "views/pipeline_status.py")
        assert metric(app, "Enviadas") == "45"
        assert metric(app, "Falhas") == "2"
        assert metric(app, "Público") == "40"
        assert "Campanha new" in app.caption[0].value
    finally:
        with psycopg.connect(gold_warehouse.admin_dsn) as conn:
            conn.execute("delete from gold.campaign_summaries")


def test_pipeline_status_says_which_day_gold_holds_and_whether_it_is_complete(monkeypatch, gold_warehouse):
    """Gold's latest day (06/06/2026) is long over: complete, and behind; once gold holds today
    (in Brasília), the page says today is still in progress and names the last complete day."""
    today = datetime.now(ZoneInfo(settings.BUSINESS_TIMEZONE)).date()
    app = open_page(monkeypatch, gold_warehouse.dashboard_dsn, "views/pipeline_status.py")
    assert metric(app, "Esse dia está") == "completo"
    assert metric(app, "Atraso") == f"{(today - LAST_DAY).days} dia(s)"
    [late] = app.warning
    assert f"o último dia que ele contém é {fmt.day(LAST_DAY)}" in late.value
    assert not app.success
    with psycopg.connect(gold_warehouse.admin_dsn) as conn:
        conn.execute(
            "insert into gold.daily_sales (sale_date, revenue, items_sold, sales_count, distinct_products,"
            " distinct_customers) values (%s, 10, 1, 1, 1, 1)",
            (today,),
        )
    try:
        st.cache_data.clear()
        app = open_page(monkeypatch, gold_warehouse.dashboard_dsn, "views/pipeline_status.py")
        assert metric(app, "Última data de venda no gold") == fmt.day(today)
        assert metric(app, "Esse dia está") == "em andamento"
        [current] = app.success
        assert "parciais" in current.value
        assert f"O último dia completo é {fmt.day(today - timedelta(days=1))}" in current.value
        assert "contém o último dia completo" not in current.value
        assert not app.warning
    finally:
        with psycopg.connect(gold_warehouse.admin_dsn) as conn:
            conn.execute("delete from gold.daily_sales where sale_date = %s", (today,))
