"""Pipeline status: which day gold holds and whether it is complete, and what the last campaign did
(gold.campaign_summaries)."""

from __future__ import annotations

import streamlit as st
from liftoff.apps.dashboard import cached, queries
from liftoff.apps.dashboard import formatting as fmt
from liftoff.apps.dashboard.warehouse import WarehouseUnavailable, dashboard_dsn


def show_freshness(fresh: queries.Freshness) -> None:
    """Which day gold holds, whether that day is complete (over in Brasília), and how far behind."""
    latest, today = fresh.latest_sale_date, fresh.today
    behind = fresh.days_behind or 0
    day, state, age = st.columns(3)
    day.metric("Última data de venda no gold", fmt.day(latest), border=True)
    state.metric(
        "Esse dia está",
        "completo" if fresh.latest_is_complete else "em andamento",
        border=True,
        help=f"Hoje em Brasília é {fmt.day(today)}; um dia está completo quando já terminou.",
    )
    age.metric("Atraso", f"{max(behind, 0)} dia(s)", border=True)
    if latest > today:
        st.warning(
            f"O gold tem vendas datadas de {fmt.day(latest)}, depois de hoje ({fmt.day(today)} em Brasília): "
            "dados de demonstração ou um relógio adiantado na origem."
        )
    elif not fresh.latest_is_complete:
        st.success(
            f"Gold em dia: contém as vendas de hoje ({fmt.day(latest)}) até a última carga; o dia ainda "
            f"está em andamento, então os números de hoje são parciais. O último dia completo é "
            f"{fmt.day(fresh.last_complete_day)}."
        )
    elif fresh.up_to_date:
        st.success(f"Gold em dia: contém o último dia completo, {fmt.day(latest)} (ontem).")
    else:
        st.warning(
            f"Gold atrasado: o último dia que ele contém é {fmt.day(latest)}, {behind} dias atrás "
            f"(hoje é {fmt.day(today)} em Brasília). Verifique os DAGs ingest_crm e transform_warehouse "
            "no Airflow."
        )


def render() -> None:
    st.title("Status do pipeline")
    dsn = dashboard_dsn()
    fresh = cached.freshness(dsn, queries.business_today())
    st.subheader("Atualização do gold")
    if fresh.latest_sale_date is None:
        st.info("O gold ainda não tem vendas: o pipeline não rodou neste warehouse.")
    else:
        show_freshness(fresh)
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
