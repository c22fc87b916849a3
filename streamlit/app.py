"""LiftOff Data sales dashboard (read-only consumer of the gold layer).

Started by `make up` (http://127.0.0.1:8501). Reads gold tables only, through the warehouse URL in
LIFTOFF_DASHBOARD_URL (a read-only role in production) or the local stack's warehouse variables.
"""

from __future__ import annotations

import os

import pandas as pd

import streamlit as st

st.set_page_config(page_title="LiftOff Data — Vendas", page_icon="📈", layout="wide")


def dashboard_url() -> str:
    if "LIFTOFF_DASHBOARD_URL" in os.environ:
        return os.environ["LIFTOFF_DASHBOARD_URL"]
    from urllib.parse import quote

    user = quote(os.environ.get("LIFTOFF_WAREHOUSE_USER", "postgres"), safe="")
    password = quote(os.environ.get("LIFTOFF_WAREHOUSE_PASSWORD", ""), safe="")
    host = os.environ.get("LIFTOFF_WAREHOUSE_HOST", "127.0.0.1")
    port = os.environ.get("LIFTOFF_WAREHOUSE_PORT", "55432")
    database = os.environ.get("LIFTOFF_WAREHOUSE_DB", "warehouse")
    return f"postgresql://{user}:{password}@{host}:{port}/{database}"


@st.cache_data(ttl=300, show_spinner=False)
def daily_sales() -> pd.DataFrame | None:
    """Gold daily sales, or None when the warehouse or the table is not there yet."""
    import psycopg

    try:
        with psycopg.connect(dashboard_url(), connect_timeout=5) as conn:
            if conn.execute("select to_regclass('gold.daily_sales')").fetchone()[0] is None:
                return None
            rows = conn.execute(
                "select sale_date, revenue, items_sold, sales_count from gold.daily_sales order by sale_date"
            ).fetchall()
    except psycopg.OperationalError:
        return None
    frame = pd.DataFrame(rows, columns=["sale_date", "revenue", "items_sold", "sales_count"])
    return frame.astype({"revenue": float})


st.title("LiftOff Data — Vendas")
sales = daily_sales()
if sales is None or sales.empty:
    st.info("Ainda não há dados no gold. Rode `make demo` (ou os DAGs no Airflow) e recarregue.")
else:
    revenue, count, items = st.columns(3)
    revenue.metric("Receita", f"R$ {sales['revenue'].sum():,.2f}")
    count.metric("Vendas", f"{int(sales['sales_count'].sum()):,}")
    items.metric("Itens vendidos", f"{int(sales['items_sold'].sum()):,}")
    st.subheader("Receita diária")
    st.line_chart(sales, x="sale_date", y="revenue")
