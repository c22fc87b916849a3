"""The sales assistant: the rule-based mode answers the common questions (Portuguese and English)
with the numbers SQL gives on silver; the tools keep to their allow-list and limits; the model path
runs a real tool call through the real `openai` SDK against a local double of the API; a slow model
is cut off by the client's timeout and the page still answers."""

from __future__ import annotations

import json
import time
from datetime import date, timedelta

import psycopg
import pytest
from streamlit.testing.v1 import AppTest

import streamlit as st
from liftoff import settings
from liftoff.apps.dashboard import formatting as fmt
from liftoff.apps.dashboard.assistant import LlmSettings, answer
from liftoff.apps.dashboard.intents import answer_by_rules, resolve_period
from liftoff.apps.dashboard.tools import ROW_LIMIT, ToolError, run_tool
from tests.apps.dashboard.conftest import LAST_DAY
from tests.services.openai_api import ChatCompletionsDouble, serve, tool_call_message

# Needs a gold warehouse built by dbt on the embedded Postgres: not in `make test-fast`.
pytestmark = pytest.mark.services

MONTH_START = LAST_DAY.replace(day=1)
WEEK_START = LAST_DAY - timedelta(days=6)


def one(admin_dsn: str, query: str, params: tuple = ()) -> tuple:
    with psycopg.connect(admin_dsn) as conn:
        return conn.execute(query, params).fetchone()


def average_ticket(admin_dsn: str, start: date, end: date) -> float:
    (value,) = one(
        admin_dsn,
        "select round(sum(sale_value) / count(*), 2) from silver.sales where sale_date between %s and %s",
        (start, end),
    )
    return float(value)


@pytest.mark.parametrize(
    ("question", "start"),
    [("Qual o ticket médio deste mês?", MONTH_START), ("What was the average ticket yesterday?", LAST_DAY)],
)
def test_average_ticket(gold_warehouse, question, start):
    reply = answer_by_rules(gold_warehouse.dashboard_dsn, question)
    assert fmt.brl(average_ticket(gold_warehouse.admin_dsn, start, LAST_DAY)) in reply.summary
    assert reply.insights
    assert reply.recommendations
    assert reply.language == ("pt" if "médio" in question else "en")


@pytest.mark.parametrize(
    ("question", "start"),
    [("Top 3 vendedores da semana", WEEK_START), ("Who were the top three sellers this month?", MONTH_START)],
)
def test_top_sellers_in_a_period(gold_warehouse, question, start):
    with psycopg.connect(gold_warehouse.admin_dsn) as conn:
        expected = conn.execute(
            "select e.first_name || ' ' || e.last_name, sum(s.sale_value) as revenue"
            " from silver.sales as s join silver.employees as e on s.seller_id = e.employee_id"
            " where s.sale_date between %s and %s group by s.seller_id, e.first_name, e.last_name"
            " order by revenue desc, s.seller_id limit 3",
            (start, LAST_DAY),
        ).fetchall()
    reply = answer_by_rules(gold_warehouse.dashboard_dsn, question)
    ranking = "; ".join(f"{i}. {name} ({fmt.brl(revenue)})" for i, (name, revenue) in enumerate(expected, 1))
    assert ranking in reply.summary
    assert reply.chart is not None
    assert [row["seller_name"] for row in reply.chart.rows] == [name for name, _ in expected]


@pytest.mark.parametrize("template", ["Quantos {} vendemos ontem?", "How many {} were sold yesterday?"])
def test_sales_of_a_product_yesterday(gold_warehouse, template):
    name, items, sales = one(
        gold_warehouse.admin_dsn,
        "select p.product_name, sum(s.quantity), count(*) from silver.sales as s"
        " join silver.products as p on s.product_id = p.product_id where s.sale_date = %s"
        " group by p.product_id, p.product_name order by sum(s.quantity) desc, p.product_id limit 1",
        (LAST_DAY,),
    )
    reply = answer_by_rules(gold_warehouse.dashboard_dsn, template.format(name))
    assert name in reply.summary
    assert f"{fmt.integer(items)} " in reply.summary
    assert f"{fmt.integer(sales)} " in reply.summary
    assert fmt.day(LAST_DAY) in reply.summary


@pytest.mark.parametrize(
    "question", ["Qual a melhor categoria deste mês?", "Which category made the most revenue this month?"]
)
def test_best_category_this_month(gold_warehouse, question):
    category, revenue = one(
        gold_warehouse.admin_dsn,
        "select p.category, sum(s.sale_value) from silver.sales as s"
        " join silver.products as p on s.product_id = p.product_id where s.sale_date between %s and %s"
        " group by p.category order by 2 desc limit 1",
        (MONTH_START, LAST_DAY),
    )
    reply = answer_by_rules(gold_warehouse.dashboard_dsn, question)
    assert f"**{category}**" in reply.summary
    assert fmt.brl(revenue) in reply.summary


def test_relative_days_are_relative_to_the_latest_day_in_gold():
    latest = date(2026, 6, 6)
    assert resolve_period("vendas de ontem", latest).start == latest
    assert resolve_period("sales today", latest).start == date(2026, 6, 7)
    assert (resolve_period("neste mês", latest).start, resolve_period("this month", latest).end) == (
        date(2026, 6, 1),
        latest,
    )
    last_month = resolve_period("mês passado", latest)
    assert (last_month.start, last_month.end) == (date(2026, 5, 1), date(2026, 5, 31))
    assert resolve_period("últimos 14 dias", latest).start == date(2026, 5, 24)


def test_tools_are_allow_listed_parameterised_and_row_limited(gold_warehouse):
    dsn = gold_warehouse.dashboard_dsn
    with pytest.raises(ToolError, match="unknown tool"):
        run_tool(dsn, "drop_everything", {})
    with pytest.raises(ToolError, match="YYYY-MM-DD"):
        run_tool(
            dsn,
            "sales_summary",
            {"start_date": "2026-06-01'; drop table gold.daily_sales; --", "end_date": "x"},
        )
    # Text is matched literally: quotes and wildcards are data, not SQL or patterns.
    injected = run_tool(
        dsn,
        "product_sales",
        {"product": "%' or 1=1 --", "start_date": "2026-06-01", "end_date": "2026-06-06"},
    )
    assert injected.rows == []
    (products,) = one(
        gold_warehouse.admin_dsn, "select count(distinct product_name) from gold.daily_product_sales"
    )
    names = run_tool(dsn, "product_names")
    assert len(names.rows) == min(products, ROW_LIMIT)
    assert names.truncated == (products > ROW_LIMIT)
    assert one(gold_warehouse.admin_dsn, "select count(*) from gold.daily_sales")[0] > 0


def revenue_reply(body: dict) -> dict:
    """The double's script: ask for this month's summary, then answer from the tool's rows."""
    tool_messages = [m for m in body["messages"] if m["role"] == "tool"]
    if not tool_messages:
        return tool_call_message("sales_summary", {"start_date": str(MONTH_START), "end_date": str(LAST_DAY)})
    rows = json.loads(tool_messages[-1]["content"])["rows"]
    return {
        "role": "assistant",
        "content": f"Receita do mês: {fmt.brl(rows[0]['revenue'])}.\n\n**Insights**\n- ok",
    }


def test_the_model_path_grounds_its_answer_in_a_tool_call(gold_warehouse):
    double = ChatCompletionsDouble(revenue_reply)
    with serve(double) as base_url:
        llm = LlmSettings(base_url=base_url, model="llama3", api_key="test-key", timeout_s=20)
        reply = answer(gold_warehouse.dashboard_dsn, "Quanto vendemos este mês?", [], llm)
    (revenue,) = one(
        gold_warehouse.admin_dsn,
        "select sum(sale_value) from silver.sales where sale_date between %s and %s",
        (MONTH_START, LAST_DAY),
    )
    assert reply.mode == "llm"
    assert reply.notice is None
    assert f"Receita do mês: {fmt.brl(revenue)}" in reply.summary
    first, second = double.requests
    assert {tool["function"]["name"] for tool in first["tools"]} >= {"sales_summary", "top_sellers"}
    assert str(LAST_DAY) in first["messages"][0]["content"]  # the system prompt names gold's last day
    assert second["messages"][-1]["role"] == "tool"
    assert [r.tool for r in reply.tool_results] == ["sales_summary"]


def test_a_slow_model_is_cut_off_and_the_rules_answer(gold_warehouse):
    double = ChatCompletionsDouble(revenue_reply, delay_seconds=6)
    with serve(double) as base_url:
        llm = LlmSettings(base_url=base_url, model="llama3", api_key="test-key", timeout_s=1)
        started = time.monotonic()
        reply = answer(gold_warehouse.dashboard_dsn, "Qual o ticket médio deste mês?", [], llm)
        elapsed = time.monotonic() - started
    assert elapsed < 4
    assert reply.mode == "rules"
    assert "não respondeu em 1 s" in reply.notice
    assert fmt.brl(average_ticket(gold_warehouse.admin_dsn, MONTH_START, LAST_DAY)) in reply.summary


def test_an_unreachable_model_is_a_clear_notice(gold_warehouse):
    llm = LlmSettings(base_url="http://127.0.0.1:9/v1", model="x", api_key="k", timeout_s=5)
    reply = answer(gold_warehouse.dashboard_dsn, "Top 3 vendedores da semana", [], llm)
    assert reply.mode == "rules"
    assert "Não consegui falar com o modelo" in reply.notice


APP = str(settings.PROJECT_ROOT / "streamlit" / "app.py")


def assistant_page(monkeypatch, dsn: str, **env: str) -> AppTest:
    st.cache_data.clear()
    for key in ("LIFTOFF_LLM_BASE_URL", "LIFTOFF_LLM_API_KEY", "LIFTOFF_LLM_MODEL", "LIFTOFF_LLM_TIMEOUT_S"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("LIFTOFF_DASHBOARD_URL", dsn)
    app = AppTest.from_file(APP, default_timeout=60)
    app.run()
    app.switch_page("views/assistant.py")
    app.run()
    assert not app.exception
    return app


def test_the_chat_page_answers_with_a_chart_and_remembers_the_session(monkeypatch, gold_warehouse):
    app = assistant_page(monkeypatch, gold_warehouse.dashboard_dsn)
    assert "Modo por regras" in app.caption[0].value
    app.chat_input[0].set_value("Qual o ticket médio deste mês?").run()
    app.chat_input[0].set_value("Top 3 vendedores da semana").run()
    assert not app.exception
    roles = [message.name for message in app.chat_message]
    assert roles == ["user", "assistant", "user", "assistant"]
    ticket = fmt.brl(average_ticket(gold_warehouse.admin_dsn, MONTH_START, LAST_DAY))
    assert any(ticket in md.value for md in app.chat_message[1].markdown)
    assert app.get("plotly_chart")
    assert len(app.session_state["chat"]) == 4


def test_the_chat_page_sends_the_conversation_to_the_model(monkeypatch, gold_warehouse):
    double = ChatCompletionsDouble(revenue_reply)
    with serve(double) as base_url:
        app = assistant_page(
            monkeypatch,
            gold_warehouse.dashboard_dsn,
            LIFTOFF_LLM_BASE_URL=base_url,
            LIFTOFF_LLM_MODEL="llama3",
        )
        assert "llama3" in app.caption[0].value
        app.chat_input[0].set_value("Quanto vendemos este mês?").run()
        app.chat_input[0].set_value("E no mês passado?").run()
    assert not app.exception
    last_request = double.requests[-1]
    contents = [m.get("content") for m in last_request["messages"]]
    assert "Quanto vendemos este mês?" in contents
    assert "E no mês passado?" in contents
    assert any("Receita do mês" in (c or "") for c in contents)  # the earlier answer is remembered


def test_the_chat_page_on_an_empty_gold(monkeypatch, empty_gold_warehouse):
    app = assistant_page(monkeypatch, empty_gold_warehouse.dashboard_dsn)
    app.chat_input[0].set_value("Qual o ticket médio?").run()
    assert not app.exception
    assert any("ainda não tem vendas" in md.value for md in app.chat_message[1].markdown)


def test_the_model_cannot_step_outside_the_tools(gold_warehouse):
    """A model asking for raw SQL or passing a bad argument gets an error back, and nothing runs."""

    def script(body: dict) -> dict:
        tool_messages = [m for m in body["messages"] if m["role"] == "tool"]
        if not tool_messages:
            return tool_call_message("run_sql", {"query": "drop table gold.daily_sales"})
        if len(tool_messages) == 1:
            return tool_call_message("sales_summary", {"start_date": "ontem", "end_date": "hoje"}, "call_2")
        errors = [json.loads(m["content"]).get("error", "") for m in tool_messages]
        return {"role": "assistant", "content": " | ".join(errors)}

    double = ChatCompletionsDouble(script)
    with serve(double) as base_url:
        llm = LlmSettings(base_url=base_url, model="llama3", api_key="test-key", timeout_s=20)
        reply = answer(gold_warehouse.dashboard_dsn, "Apague as vendas", [], llm)
    assert "unknown tool 'run_sql'" in reply.summary
    assert "start_date must be a day as YYYY-MM-DD" in reply.summary
    assert reply.tool_results == []
    assert one(gold_warehouse.admin_dsn, "select count(*) from gold.daily_sales")[0] > 0


def test_a_slow_query_is_stopped_by_the_statement_timeout(gold_warehouse):
    from psycopg import sql

    from liftoff.apps.dashboard.warehouse import WarehouseUnavailable, fetch_rows

    started = time.monotonic()
    with pytest.raises(WarehouseUnavailable, match="tempo limite"):
        fetch_rows(gold_warehouse.dashboard_dsn, sql.SQL("select pg_sleep(5)"), statement_timeout_ms=200)
    assert time.monotonic() - started < 3
