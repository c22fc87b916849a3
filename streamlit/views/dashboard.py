"""Sales dashboard: KPI cards, the seven charts and the birthdays table over gold, filtered by sale
and hire dates."""

from __future__ import annotations

from datetime import date

import streamlit as st
from liftoff.apps.dashboard import cached, charts, queries
from liftoff.apps.dashboard import formatting as fmt
from liftoff.apps.dashboard.warehouse import WarehouseUnavailable, dashboard_dsn

EMPTY_GOLD = (
    "Ainda não há vendas no gold. Rode `make demo` (ou os DAGs no Airflow) e recarregue a página. "
    "No sales in gold yet."
)


# The pickers reach this far beyond the data: a range outside it is a choice the page answers
# with an empty state (the data's span), not a field the browser turns red and ignores.
PICKER_MARGIN_YEARS = 5


def date_range(label: str, first: date, last: date, key: str) -> tuple[date, date]:
    """A range picker starting on the data's span; while the user has picked one end only, that day."""
    picked = st.sidebar.date_input(
        label,
        value=(first, last),
        min_value=date(first.year - PICKER_MARGIN_YEARS, 1, 1),
        max_value=date(max(last, queries.business_today()).year + 1, 12, 31),
        key=key,
        format="DD/MM/YYYY",
    )
    if isinstance(picked, date):
        return picked, picked
    if len(picked) == 1:
        return picked[0], picked[0]
    return picked[0], picked[1]


def empty_range(nothing: str, held: str, bounds: queries.DateBounds) -> None:
    """The empty state of a range without data: what is missing, and the span gold does hold."""
    st.info(
        f"{nothing}. O gold tem {held} de {fmt.day(bounds.first)} a {fmt.day(bounds.last)}: "
        "escolha um período dentro desse intervalo."
    )


def chart_or_empty(frame, build, empty_text: str = "Sem dados para este filtro.") -> None:
    if frame.empty:
        st.info(empty_text)
    else:
        st.plotly_chart(build(frame), width="stretch")


def render() -> None:
    st.title("Vendas")
    dsn = dashboard_dsn()
    sales_bounds = cached.sale_date_bounds(dsn)
    if sales_bounds.empty:
        st.info(EMPTY_GOLD)
        return
    hire_bounds = cached.hire_date_bounds(dsn)
    st.sidebar.header("Filtros")
    start, end = date_range("Período das vendas", sales_bounds.first, sales_bounds.last, "sale_range")
    if hire_bounds.empty:
        hire_start, hire_end = date.min, date.max
        st.sidebar.caption("Sem funcionários no gold ainda.")
    else:
        hire_start, hire_end = date_range(
            "Período de contratação", hire_bounds.first, hire_bounds.last, "hire_range"
        )
    st.caption(f"Vendas de {fmt.day(start)} a {fmt.day(end)} · dados até {fmt.day(sales_bounds.last)}")

    kpi = cached.kpis(dsn, start, end, hire_start, hire_end)
    if kpi.sales == 0:
        empty_range(f"Nenhuma venda de {fmt.day(start)} a {fmt.day(end)}", "vendas", sales_bounds)
    if kpi.employees == 0 and not hire_bounds.empty:
        empty_range(
            f"Ninguém do quadro foi contratado de {fmt.day(hire_start)} a {fmt.day(hire_end)}",
            "contratações",
            hire_bounds,
        )
    cards = st.columns([1, 1.7, 1, 1, 1])  # money needs the room
    cards[0].metric("Produtos vendidos", fmt.integer(kpi.products_sold), border=True)
    cards[1].metric("Receita", fmt.brl_card(kpi.revenue), border=True, help=fmt.brl(kpi.revenue))
    cards[2].metric("Vendas", fmt.integer(kpi.sales), border=True)
    cards[3].metric("Itens vendidos", fmt.integer(kpi.items_sold), border=True)
    cards[4].metric("Funcionários", fmt.integer(kpi.employees), border=True)

    left, right = st.columns(2)
    with left:
        chart_or_empty(cached.daily_sales(dsn, start, end), charts.sales_over_time)
    with right:
        chart_or_empty(cached.sales_by_product(dsn, start, end), charts.sales_by_product)
    left, right = st.columns(2)
    with left:
        chart_or_empty(cached.top_sellers(dsn, start, end), charts.top_sellers)
    with right:
        chart_or_empty(cached.monthly_payroll(dsn), charts.monthly_payroll)
    left, right = st.columns(2)
    with left:
        chart_or_empty(cached.employees_by_gender(dsn, hire_start, hire_end), charts.employees_by_gender)
    with right:
        chart_or_empty(
            cached.average_salary_by_title(dsn, hire_start, hire_end), charts.average_salary_by_title
        )
    left, right = st.columns(2)
    with left:
        chart_or_empty(cached.hires_per_month(dsn, hire_start, hire_end), charts.hires_per_month)
    with right:
        st.subheader("Aniversariantes do mês")
        birthdays = cached.birthdays_of_the_month(dsn)
        if birthdays.empty:
            st.info("Nenhum aniversariante neste mês (ou sem funcionários no gold).")
        else:
            st.dataframe(
                birthdays.rename(
                    columns={
                        "birthday": "Dia", "employee_name": "Nome", "job_title": "Cargo",
                        "birth_date": "Nascimento",
                    }
                ),
                hide_index=True,
                width="stretch",
                column_config={"Nascimento": st.column_config.DateColumn(format="DD/MM/YYYY")},
            )  # fmt: skip


try:
    render()
except WarehouseUnavailable as problem:
    st.error(str(problem))
