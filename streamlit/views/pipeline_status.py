"""Pipeline status: how fresh gold is, and what the last campaign did (gold.campaign_summaries)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import streamlit as st
from liftoff.apps.dashboard import cached
from liftoff.apps.dashboard import formatting as fmt
from liftoff.apps.dashboard.warehouse import WarehouseUnavailable, dashboard_dsn

# Business days are Brasília days (the pipeline's timezone).
TODAY = datetime.now(ZoneInfo("America/Sao_Paulo")).date()
# Gold holds complete days: the day before today is the freshest it can be.
FRESH_DAYS = 1


def render() -> None:
    st.title("Status do pipeline")
    dsn = dashboard_dsn()
    fresh = cached.freshness(dsn, TODAY)
    st.subheader("Atualização do gold")
    if fresh.latest_sale_date is None:
        st.info("O gold ainda não tem vendas: o pipeline não rodou neste warehouse.")
    else:
        behind = fresh.days_behind or 0
        column, age = st.columns(2)
        column.metric("Última data de venda no gold", fmt.day(fresh.latest_sale_date), border=True)
        age.metric("Atraso", f"{behind} dia(s)", border=True)
        if behind <= FRESH_DAYS:
            st.success("Gold em dia: contém o último dia completo.")
        else:
            st.warning(
                f"Gold atrasado: a última venda é de {fmt.day(fresh.latest_sale_date)}, {behind} dias atrás. "
                "Verifique os DAGs ingest_crm e transform_warehouse no Airflow."
            )
    st.subheader("Última campanha")
    campaign = cached.last_campaign(dsn)
    if campaign.empty:
        st.info("Nenhuma campanha registrada ainda (gold.campaign_summaries não existe ou está vazia).")
        return
    first = campaign.iloc[0]
    st.caption(
        f"Campanha {first['campaign_id']} · data lógica {fmt.day(first['logical_date'])} · "
        f"concluída em {first['finished_at']:%d/%m/%Y %H:%M}"
    )
    total = st.columns(4)
    total[0].metric("Público", fmt.integer(campaign["audience_size"].max()), border=True)
    total[1].metric("Enviadas", fmt.integer(campaign["sent"].sum()), border=True)
    total[2].metric("Ignoradas", fmt.integer(campaign["skipped"].sum()), border=True)
    total[3].metric("Falhas", fmt.integer(campaign["failed"].sum()), border=True)
    st.dataframe(
        campaign[["channel", "audience_size", "sent", "skipped", "failed"]].rename(
            columns={
                "channel": "Canal", "audience_size": "Público", "sent": "Enviadas",
                "skipped": "Ignoradas", "failed": "Falhas",
            }
        ),
        hide_index=True,
    )  # fmt: skip


try:
    render()
except WarehouseUnavailable as problem:
    st.error(str(problem))
