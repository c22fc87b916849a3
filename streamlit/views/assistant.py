"""AI sales assistant: a chat grounded in gold, with memory for the browser session."""

from __future__ import annotations

import pandas as pd

import streamlit as st
from liftoff.apps.dashboard import charts
from liftoff.apps.dashboard.answers import Answer
from liftoff.apps.dashboard.assistant import LlmSettings, answer
from liftoff.apps.dashboard.tools import ToolError
from liftoff.apps.dashboard.warehouse import WarehouseUnavailable, dashboard_dsn

EXAMPLES = (
    "Qual o ticket médio deste mês?",
    "Top 3 vendedores da semana",
    "Qual o produto mais vendido deste mês?",
    "Quantos <produto> vendemos ontem?",
    "Receita de ontem em relação a anteontem",
    "Quantos clientes novos tivemos esta semana?",
    "Como está a folha de pagamento?",
)


def show(message: dict) -> None:
    with st.chat_message(message["role"]):
        if message.get("notice"):
            st.warning(message["notice"])
        st.markdown(message["content"])
        chart = message.get("chart")
        if chart is not None:
            figure = charts.assistant_chart(
                pd.DataFrame(chart.rows), chart.x, chart.y, chart.title, chart.kind, chart.money
            )
            st.plotly_chart(figure, width="stretch")


def as_message(reply: Answer) -> dict:
    return {"role": "assistant", "content": reply.markdown(), "chart": reply.chart, "notice": reply.notice}


llm = LlmSettings.from_env()
st.title("Assistente de vendas")
st.caption(
    f"Modelo: {llm.model}" + (f" em {llm.base_url}" if llm.base_url else "")
    if llm
    else "Modo por regras (nenhum modelo configurado: LIFTOFF_LLM_API_KEY / LIFTOFF_LLM_BASE_URL). "
    "Exemplos: " + " · ".join(EXAMPLES)
)
chat: list[dict] = st.session_state.setdefault("chat", [])
if st.sidebar.button("Limpar conversa"):
    chat.clear()
for message in chat:
    show(message)

question = st.chat_input("Pergunte sobre vendas, clientes novos, folha ou funcionários")
if question:
    user = {"role": "user", "content": question}
    show(user)
    history = [{"role": m["role"], "content": m["content"]} for m in chat]
    chat.append(user)
    try:
        with st.spinner("Consultando o warehouse…"):
            reply = as_message(answer(dashboard_dsn(), question, history, llm))
    except (WarehouseUnavailable, ToolError) as problem:
        reply = {"role": "assistant", "content": f"⚠️ {problem}", "chart": None, "notice": None}
    chat.append(reply)
    show(reply)
