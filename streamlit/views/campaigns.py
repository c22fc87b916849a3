"""Campanhas: each cross-sell campaign's counts per channel and state, each segment's copy (and
which copywriter wrote it), the e-mails actually sent, previewed from the local outbox, and the
Telegram messages recorded instead of sent (no bot configured), never counted as delivered.

Reads gold through the dashboard's role (gold.campaign_summaries and the views gold.campaign_copy
and gold.campaign_messages) and the outbox Maildir read-only; the logic is
`liftoff.apps.dashboard.campaigns`.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

import streamlit as st
from liftoff import settings
from liftoff.apps.dashboard import campaigns as data
from liftoff.apps.dashboard import formatting as fmt
from liftoff.apps.dashboard.warehouse import WarehouseUnavailable, dashboard_dsn

TTL_S = 30  # a campaign being sent moves quickly; the outbox index has its own key (its mtime)

NO_CAMPAIGN = (
    "Nenhuma campanha ainda. Para rodar uma: `make demo` (roda a campanha cross-sell do dia mais "
    "recente depois do quality gate) ou, com `make up`, dispare o DAG `cross_sell_campaign` no "
    "Airflow (http://127.0.0.1:8080). No campaign has run yet."
)
CHANNELS = {"email": "E-mail", "telegram": "Telegram"}
SKIP_REASONS = {
    "skipped_opted_out": "descadastro",
    "skipped_contact_cap": "limite de contato",
    "skipped_already_bought": "já comprou",
    "skipped_no_channel": "canal desligado",
    "skipped_stale_day": "dia antigo",
    "skipped_not_in_audience": "fora do público",
}

summaries = st.cache_data(ttl=TTL_S, show_spinner=False)(data.campaign_summaries)
segment_copy = st.cache_data(ttl=TTL_S, show_spinner=False)(data.segment_copy)
sent_emails = st.cache_data(ttl=TTL_S, show_spinner=False)(data.sent_emails)
recorded_telegram = st.cache_data(ttl=TTL_S, show_spinner=False)(data.recorded_telegram)

RECORDED_LABEL = "registradas, não enviadas"
NO_BOT = (
    "Nenhum bot do Telegram configurado: estas mensagens foram registradas, não enviadas (nenhum "
    "cliente as recebeu, e não contam como enviadas). Para enviar, configure a conexão "
    "`telegram_default` com o token do bot (docs/campaign.md); uma mensagem já registrada não é "
    "reenviada, a próxima campanha envia as suas."
)


@st.cache_data(show_spinner=False, max_entries=4)
def outbox_index(directory: str, signature: tuple) -> dict[str, str]:
    """The outbox's index, rebuilt only when a message arrives (`signature` changes)."""
    return data.outbox_index(Path(directory))


def campaign_overview(frame: pd.DataFrame) -> None:
    table = frame.assign(
        logical_date=frame["logical_date"].map(fmt.day),
        campaign_status=frame["campaign_status"].map(data.campaign_state_label),
        channel=frame["channel"].map(lambda c: CHANNELS.get(c, c)),
        finished_at=frame["finished_at"].map(lambda t: f"{t:%d/%m/%Y %H:%M}" if pd.notna(t) else "—"),
    )
    st.dataframe(
        table[["campaign_id", "logical_date", "campaign_status", "channel", "audience_size", "sent",
               "recorded", "skipped", "failed", "pending", "finished_at"]].rename(
            columns={
                "campaign_id": "Campanha", "logical_date": "Dia dos dados", "campaign_status": "Estado",
                "channel": "Canal", "audience_size": "Público", "sent": "Enviadas",
                "recorded": RECORDED_LABEL.capitalize(), "skipped": "Ignoradas",
                "failed": "Falhas", "pending": "Pendentes", "finished_at": "Concluída em",
            }
        ),
        hide_index=True,
        key="campaign_overview",
    )  # fmt: skip


def channel_counts(campaign: pd.DataFrame) -> None:
    for _, row in campaign.iterrows():
        name = CHANNELS.get(row["channel"], row["channel"])
        columns = st.columns(6)
        columns[0].metric(f"{name} · público", fmt.integer(row["audience_size"]), border=True)
        columns[1].metric(f"{name} · enviadas", fmt.integer(row["sent"]), border=True)
        columns[2].metric(f"{name} · {RECORDED_LABEL}", fmt.integer(row["recorded"]), border=True)
        columns[3].metric(f"{name} · ignoradas", fmt.integer(row["skipped"]), border=True)
        columns[4].metric(f"{name} · falhas", fmt.integer(row["failed"]), border=True)
        columns[5].metric(f"{name} · pendentes", fmt.integer(row["pending"]), border=True)
        if row["recorded"]:
            st.caption(
                f"{name}: {fmt.integer(row['recorded'])} mensagem(ns) {RECORDED_LABEL} (sem bot "
                "configurado), fora das enviadas; veja abaixo o texto de cada uma."
            )
        reasons = [
            f"{label}: {fmt.integer(row[column])}" for column, label in SKIP_REASONS.items() if row[column]
        ]
        if reasons:
            st.caption(f"{name}, ignoradas por motivo: " + " · ".join(reasons))


def copy_section(dsn: str, campaign_id: str) -> None:
    st.subheader("Textos por segmento")
    copy = segment_copy(dsn, campaign_id)
    if copy.empty:
        st.info("Esta campanha não tem textos (nenhum segmento, ou a campanha não chegou a escrevê-los).")
        return
    sources = copy["copy_source"].map(data.copy_source_label).value_counts()
    st.caption(
        f"{fmt.integer(len(copy))} segmento(s) (categoria da última compra × produto recomendado); "
        "escritos por: " + ", ".join(f"{label} {fmt.integer(count)}" for label, count in sources.items())
    )
    st.dataframe(
        copy.assign(
            copy_source=copy["copy_source"].map(data.copy_source_label),
            fallback_reason=copy["fallback_reason"].fillna(""),
        )[
            ["last_category", "recommended_product_name", "recipients", "copy_source", "subject",
             "email_copy", "telegram_text", "fallback_reason"]
        ].rename(
            columns={
                "last_category": "Categoria", "recommended_product_name": "Produto recomendado",
                "recipients": "Clientes", "copy_source": "Escrito por", "subject": "Assunto",
                "email_copy": "Texto do e-mail", "telegram_text": "Texto do Telegram",
                "fallback_reason": "Por que o modelo (template)",
            }
        ),
        hide_index=True,
        key="segment_copy",
    )  # fmt: skip


def message_preview(dsn: str, campaign_id: str) -> None:
    st.subheader("E-mails enviados")
    sent, truncated = sent_emails(dsn, campaign_id)
    if sent.empty:
        st.info("Nenhum e-mail desta campanha foi aceito pelo servidor SMTP.")
        return
    if truncated:
        st.caption(f"Os primeiros {fmt.integer(len(sent))} e-mails enviados, na ordem de envio.")
    labels = {
        row.message_id: (
            f"Cliente {row.customer_id} · segmento {row.segment_key} · {row.sent_at:%d/%m/%Y %H:%M}"
        )
        for row in sent.itertuples()
    }
    chosen = st.selectbox("Mensagem", list(labels), format_func=labels.get, key="message")
    outbox = settings.outbox_dir()
    signature = data.outbox_signature(outbox)
    if not signature:
        st.info(
            f"Não há outbox local em {outbox}: os e-mails foram entregues ao servidor SMTP configurado "
            "(conexão smtp_default), que não guarda cópia aqui para pré-visualizar."
        )
        return
    message = data.find_message(outbox, chosen, outbox_index(str(outbox), signature))
    if message is None:
        st.warning(
            f"A mensagem {chosen} não está no outbox local ({outbox}): foi entregue a outro servidor "
            "SMTP, ou o outbox foi esvaziado."
        )
        return
    customer = sent.loc[sent["message_id"] == chosen, "customer_id"].iloc[0]
    st.caption(f"Cliente {customer} · Message-ID {message.message_id}")
    headers = [
        ("Assunto", message.subject), ("De", message.sender), ("Para", message.to), ("Data", message.date),
        ("Descadastro (List-Unsubscribe)", message.list_unsubscribe or "—"),
    ]  # fmt: skip
    # A table, not markdown: a subject (an LLM may have written it) is shown as text, never markup.
    st.dataframe(pd.DataFrame(headers, columns=["Cabeçalho", "Valor"]), hide_index=True, key="headers")
    html_tab, text_tab = st.tabs(["HTML", "Texto"])
    with html_tab:
        if message.html is None:
            st.info("Esta mensagem não tem parte HTML.")
        else:
            # Our own iframe tag in st.iframe; the message itself inside it, strictly sandboxed.
            st.iframe(data.preview_document(message.html), height=660)
    with text_tab:
        if message.text is None:
            st.info("Esta mensagem não tem parte de texto.")
        else:
            st.code(message.text, language=None, wrap_lines=True)


def recorded_section(dsn: str, campaign_id: str) -> None:
    recorded, truncated = recorded_telegram(dsn, campaign_id)
    if recorded.empty:
        return
    st.subheader(f"Telegram: mensagens {RECORDED_LABEL}")
    st.caption(NO_BOT)
    if truncated:
        st.caption(f"As primeiras {fmt.integer(len(recorded))} mensagens registradas, por cliente.")
    st.dataframe(
        recorded[list(data.RECORDED_COLUMNS)].rename(
            columns={
                "customer_id": "Cliente",
                "segment_key": "Segmento",
                "recorded_text": "Texto (não enviado)",
            }
        ),
        hide_index=True,
        key="recorded_telegram",
    )


def render() -> None:
    st.title("Campanhas")
    dsn = dashboard_dsn()
    frame = summaries(dsn)
    if frame.empty:
        st.info(NO_CAMPAIGN)
        return
    st.subheader("Campanhas por canal")
    campaign_overview(frame)
    ids = list(dict.fromkeys(frame["campaign_id"]))
    campaign_id = st.selectbox("Campanha", ids, key="campaign")
    campaign = frame[frame["campaign_id"] == campaign_id]
    first = campaign.iloc[0]
    finished = first["finished_at"]
    st.caption(
        f"Campanha {campaign_id} · dia dos dados {fmt.day(first['logical_date'])} · "
        f"{data.campaign_state_label(first['campaign_status'])}"
        + (f" · concluída em {finished:%d/%m/%Y %H:%M}" if pd.notna(finished) else "")
    )
    channel_counts(campaign)
    copy_section(dsn, campaign_id)
    message_preview(dsn, campaign_id)
    recorded_section(dsn, campaign_id)


try:
    render()
except WarehouseUnavailable as problem:
    st.error(str(problem))
