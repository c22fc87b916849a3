"""LiftOff Data — the read-only sales app: dashboard, pipeline status and the AI sales assistant.

Started by `make up` (http://127.0.0.1:8501) or `streamlit run streamlit/app.py`. Reads gold only,
as the read-only role whose URL is in LIFTOFF_DASHBOARD_URL (README, Dashboard). The pages in
`views/` are thin: the questions, formatting and the assistant live in `liftoff.dashboard`.
"""

from __future__ import annotations

import sys
from pathlib import Path

# `streamlit run` puts this folder on sys.path, not the project: make `liftoff` importable.
PROJECT_ROOT = str(Path(__file__).resolve().parent.parent)
if PROJECT_ROOT not in sys.path:
    sys.path.insert(0, PROJECT_ROOT)

import streamlit as st  # noqa: E402

st.set_page_config(page_title="LiftOff Data — Vendas", page_icon="📈", layout="wide")

page = st.navigation(
    [
        st.Page("views/dashboard.py", title="Dashboard de vendas", icon=":material/bar_chart:", default=True),
        st.Page("views/pipeline_status.py", title="Status do pipeline", icon=":material/monitor_heart:"),
        st.Page("views/assistant.py", title="Assistente de vendas (IA)", icon=":material/chat:"),
    ]
)
page.run()
