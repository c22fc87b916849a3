"""The rule-based assistant on the questions it used to answer with the generic sales summary:
"most sold" ranks by units unless revenue is asked for; payroll, staff and new customers are
answered from gold; a comparison asked for is given (both figures and the change); forecasts and
writes are refused with the reason and the list of what it can answer. Expected values are
computed here from the warehouse's own rows (gold, or silver below it), never copied from the code.
"""

from __future__ import annotations

import re
from datetime import timedelta

import psycopg
import pytest

from liftoff.apps.dashboard import formatting as fmt
from liftoff.apps.dashboard.intents import answer_by_rules
from tests.apps.dashboard.conftest import LAST_DAY

pytestmark = pytest.mark.services

MONTH_START = LAST_DAY.replace(day=1)
WEEK_START = LAST_DAY - timedelta(days=6)


def rows(admin_dsn: str, query: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(admin_dsn) as conn:
        return conn.execute(query, params).fetchall()


def change(now: float, before: float, up: str, down: str) -> str:
    ratio = (now - before) / before
    return f"{up if ratio >= 0 else down}{fmt.percent(abs(ratio))}"


def numbers_in(text: str) -> set[str]:
    """The money and counts a text shows (R$ 1.234,56; 12,3%; 1.234), to check what it is grounded in."""
    return set(re.findall(r"R\$ [\d.]+,\d{2}|[\d.]+,\d%|\b\d[\d.]*\b", text))


def assert_grounded(reply) -> None:
    """Insights and recommendations exist and each cites a figure of this answer's own numbers."""
    assert reply.insights
    assert reply.recommendations
    shown = numbers_in(reply.summary + " ".join(reply.insights))
    for line in reply.recommendations:
        assert numbers_in(line) & shown, line


# -- "most sold" means units ---------------------------------------------------------------------

RANKING_SQL = (
    "select product_name, sum(items_sold), sum(revenue) from gold.daily_product_sales"
    " where sale_date between %s and %s group by product_id, product_name"
    " order by {} desc, {} desc, product_id limit 5"
)


def test_most_sold_means_units_and_revenue_only_when_asked(gold_warehouse):
    by_units = rows(
        gold_warehouse.admin_dsn,
        RANKING_SQL.format("sum(items_sold)", "sum(revenue)"),
        (MONTH_START, LAST_DAY),
    )
    by_revenue = rows(
        gold_warehouse.admin_dsn,
        RANKING_SQL.format("sum(revenue)", "sum(items_sold)"),
        (MONTH_START, LAST_DAY),
    )
    assert [r[0] for r in by_units] != [r[0] for r in by_revenue]  # the data tells the two apart

    units = answer_by_rules(gold_warehouse.dashboard_dsn, "Qual o produto mais vendido deste mês?")
    expected = "; ".join(
        f"{i}. {name} ({fmt.integer(items)} itens)" for i, (name, items, _) in enumerate(by_units, 1)
    )
    assert expected in units.summary
    assert [row["product_name"] for row in units.chart.rows] == [r[0] for r in by_units]
    assert_grounded(units)

    english = answer_by_rules(gold_warehouse.dashboard_dsn, "What were the best-selling products this month?")
    assert f"1. {by_units[0][0]} ({fmt.integer(by_units[0][1])} items)" in english.summary

    revenue = answer_by_rules(
        gold_warehouse.dashboard_dsn, "Qual o produto mais vendido em faturamento deste mês?"
    )
    expected = "; ".join(
        f"{i}. {name} ({fmt.brl(money)})" for i, (name, _, money) in enumerate(by_revenue, 1)
    )
    assert expected in revenue.summary


def test_the_category_that_sold_most_is_counted_in_units(gold_warehouse):
    [(category, items, _revenue)] = rows(
        gold_warehouse.admin_dsn,
        "select category, sum(items_sold), sum(revenue) from gold.daily_product_sales"
        " where sale_date between %s and %s group by category"
        " order by sum(items_sold) desc, sum(revenue) desc, category limit 1",
        (MONTH_START, LAST_DAY),
    )
    reply = answer_by_rules(gold_warehouse.dashboard_dsn, "Which category sold best this month?")
    assert f"**{category}**, with **{fmt.integer(items)} items**" in reply.summary
    assert_grounded(reply)


def test_who_sold_most_ranks_sellers_by_units(gold_warehouse):
    expected = rows(
        gold_warehouse.admin_dsn,
        "select seller_name, sum(items_sold) from gold.daily_seller_sales"
        " where sale_date between %s and %s group by seller_id, seller_name"
        " order by sum(items_sold) desc, sum(revenue) desc, seller_id limit 3",
        (WEEK_START, LAST_DAY),
    )
    reply = answer_by_rules(gold_warehouse.dashboard_dsn, "Who sold the most this week? Top 3")
    ranking = "; ".join(
        f"{i}. {name} ({fmt.integer(items)} items)" for i, (name, items) in enumerate(expected, 1)
    )
    week = f"({fmt.day(WEEK_START)} – {fmt.day(LAST_DAY)})"
    assert f"Top 3 sellers by items sold in the last 7 days {week}: {ranking}." in reply.summary
    assert_grounded(reply)


# -- questions the rules used to answer with a summary of something else ------------------------


def test_payroll_is_answered_from_gold(gold_warehouse):
    (latest_month, employees, payroll), (previous_month, _, previous) = rows(
        gold_warehouse.admin_dsn,
        "select month_start, employees, payroll from gold.monthly_payroll order by month_start desc limit 2",
    )
    reply = answer_by_rules(gold_warehouse.dashboard_dsn, "Como está a folha de pagamento?")
    assert f"folha de pagamento de {fmt.month(latest_month)} é **{fmt.brl(payroll)}**" in reply.summary
    assert f"{fmt.integer(employees)} funcionários" in reply.summary
    assert fmt.brl(float(payroll) / employees) in reply.summary
    comparison = next(line for line in reply.insights if fmt.month(previous_month) in line)
    assert fmt.brl(previous) in comparison
    assert change(float(payroll), float(previous), "alta de ", "queda de ") in comparison
    assert "sales_summary" not in [result.tool for result in reply.tool_results]
    assert_grounded(reply)


def test_staff_questions_are_answered_from_gold(gold_warehouse):
    genders = rows(
        gold_warehouse.admin_dsn, "select gender, employees from gold.employees_by_gender order by gender"
    )
    reply = answer_by_rules(gold_warehouse.dashboard_dsn, "Quantos funcionários temos?")
    assert f"**{fmt.integer(sum(n for _, n in genders))} funcionários**" in reply.summary
    for gender, count in genders:
        assert f"{gender} {fmt.integer(count)}" in reply.summary
    [(month, hires)] = rows(
        gold_warehouse.admin_dsn,
        "select month_start, hires from gold.hires_per_month order by month_start desc limit 1",
    )
    assert f"{fmt.integer(hires)} em {fmt.month(month)}" in " ".join(reply.insights)
    assert_grounded(reply)

    [(title, salary)] = rows(
        gold_warehouse.admin_dsn,
        "select job_title, average_salary from gold.average_salary_by_title"
        " order by average_salary desc, job_title limit 1",
    )
    titles = answer_by_rules(gold_warehouse.dashboard_dsn, "What is the average salary by job title?")
    assert f"{title} {fmt.brl(salary)}" in titles.summary
    assert_grounded(titles)


def test_new_customers_this_week(gold_warehouse):
    """New = first purchase in the week, counted from silver's sales (below the gold mart)."""
    [(new, buyers)] = rows(
        gold_warehouse.admin_dsn,
        "with firsts as (select customer_id, min(sale_date) as first_day from silver.sales"
        "   where sale_date <= %s group by customer_id),"
        " daily as (select sale_date, count(distinct customer_id) as customers from silver.sales"
        "   where sale_date between %s and %s group by sale_date)"
        " select (select count(*) from firsts where first_day between %s and %s),"
        "        (select sum(customers) from daily)",
        (LAST_DAY, WEEK_START, LAST_DAY, WEEK_START, LAST_DAY),
    )
    assert new > 0
    reply = answer_by_rules(gold_warehouse.dashboard_dsn, "Quantos clientes novos tivemos esta semana?")
    assert f"**{fmt.integer(new)} clientes novos**" in reply.summary
    assert fmt.day(WEEK_START) in reply.summary
    assert fmt.day(LAST_DAY) in reply.summary
    share = next(line for line in reply.insights if "eram novos" in line)
    assert f"{fmt.percent(new / buyers)} dos clientes" in share
    assert f"({fmt.integer(new)} de {fmt.integer(buyers)}" in share
    assert "sales_summary" not in [result.tool for result in reply.tool_results]
    assert_grounded(reply)


@pytest.mark.parametrize(
    ("question", "up", "down"),
    [
        ("revenue yesterday compared to the day before", "up ", "down "),
        ("Receita de ontem em relação a anteontem", "alta de ", "queda de "),
    ],
)
def test_a_comparison_asked_for_is_given(gold_warehouse, question, up, down):
    day_before = LAST_DAY - timedelta(days=1)
    (now, sales_now), (before, sales_before) = rows(
        gold_warehouse.admin_dsn,
        "select revenue, sales_count from gold.daily_sales where sale_date in (%s, %s)"
        " order by sale_date desc",
        (LAST_DAY, day_before),
    )
    reply = answer_by_rules(gold_warehouse.dashboard_dsn, question)
    summary = reply.summary
    assert f"**{fmt.brl(now)}**" in summary
    assert f"**{fmt.brl(before)}**" in summary
    assert summary.index(fmt.brl(now)) < summary.index(fmt.brl(before))  # the asked day first
    assert fmt.day(LAST_DAY) in summary
    assert fmt.day(day_before) in summary
    assert change(float(now), float(before), up, down) in summary
    difference = float(now) - float(before)
    assert f"({'+' if difference >= 0 else '-'}{fmt.brl(abs(difference))})" in summary
    sales_line = next(line for line in reply.insights if line.startswith(("Vendas", "Sales")))
    assert f"{fmt.integer(sales_now)} × {fmt.integer(sales_before)}" in sales_line
    assert [row["revenue"] for row in reply.chart.rows] == [float(before), float(now)]
    assert_grounded(reply)


def test_a_products_comparison_gives_the_products_figures(gold_warehouse):
    day_before = LAST_DAY - timedelta(days=1)
    [(name,)] = rows(  # a product sold on both days, so there is a change to state
        gold_warehouse.admin_dsn,
        "select product_name from gold.daily_product_sales where sale_date in (%s, %s)"
        " group by product_id, product_name having count(distinct sale_date) = 2"
        " order by sum(items_sold) desc, product_id limit 1",
        (LAST_DAY, day_before),
    )
    items = dict(
        rows(
            gold_warehouse.admin_dsn,
            "select sale_date, sum(items_sold) from gold.daily_product_sales"
            " where product_name = %s and sale_date in (%s, %s) group by sale_date",
            (name, LAST_DAY, day_before),
        )
    )
    now, before = items[LAST_DAY], items[day_before]
    reply = answer_by_rules(gold_warehouse.dashboard_dsn, f"Vendas de {name} ontem em relação a anteontem")
    assert f"{name}: **{fmt.integer(now)} itens** ontem" in reply.summary
    assert f"**{fmt.integer(before)} itens** anteontem" in reply.summary
    assert change(now, before, "alta de ", "queda de ") in reply.summary
    assert_grounded(reply)


# -- what it cannot answer ------------------------------------------------------------------------


def test_a_forecast_is_refused_with_the_reason_and_what_it_can_answer(gold_warehouse):
    reply = answer_by_rules(gold_warehouse.dashboard_dsn, "Qual a previsão de vendas para dezembro?")
    assert reply.summary.startswith("Não faço previsões")
    assert "O que eu sei responder" in reply.summary
    assert "folha de pagamento" in reply.summary
    assert "clientes novos" in reply.summary
    assert "R$" not in reply.summary  # no figure of some other question
    assert reply.tool_results == []
    assert reply.chart is None


def test_a_write_is_refused_and_nothing_changes(gold_warehouse):
    before = rows(gold_warehouse.admin_dsn, "select count(*), sum(revenue) from gold.daily_sales")
    reply = answer_by_rules(gold_warehouse.dashboard_dsn, "Delete all sales")
    assert reply.language == "en"
    assert reply.summary.startswith("I cannot delete or change data: I am a read-only assistant")
    assert "What I can answer from gold" in reply.summary
    assert reply.tool_results == []
    assert rows(gold_warehouse.admin_dsn, "select count(*), sum(revenue) from gold.daily_sales") == before


@pytest.mark.parametrize(
    ("question", "opening"),
    [
        ("Qual a cor do logotipo da empresa?", "Não sei responder a essa pergunta"),
        ("What is the weather like in Recife?", "I cannot answer that question"),
    ],
)
def test_an_uncovered_question_says_so_and_lists_what_it_can_answer(gold_warehouse, question, opening):
    reply = answer_by_rules(gold_warehouse.dashboard_dsn, question)
    assert reply.summary.startswith(opening)
    assert "R$" not in reply.summary
    assert reply.chart is None
    assert {result.tool for result in reply.tool_results} <= {"data_window", "products_named_in"}
