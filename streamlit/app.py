"""LiftOff Data — the read-only sales app: dashboard, pipeline status, campaigns, AI sales assistant.

Started by `make up` (http://127.0.0.1:8501) or `streamlit run streamlit/app.py`. Reads gold only,
as the read-only role whose URL is in LIFTOFF_DASHBOARD_URL (README, Dashboard). The pages in
`views/` are thin: the questions, formatting and the assistant live in `liftoff.apps.dashboard`.
"""

from __future__ import annotations

import streamlit as st

st.set_page_config(page_title="LiftOff Data — Vendas", page_icon="📈", layout="wide")

page = st.navigation(
    [
        st.Page("views/dashboard.py", title="Dashboard de vendas", icon=":material/bar_chart:", default=True),
        st.Page("views/pipeline_status.py", title="Status do pipeline", icon=":material/monitor_heart:"),
        st.Page("views/campaigns.py", title="Campanhas", icon=":material/campaign:"),
        st.Page("views/assistant.py", title="Assistente de vendas (IA)", icon=":material/chat:"),
    ]
)
page.run()
