"""The query layer behind Streamlit's data cache: one place sets the time to live.

Gold changes once per pipeline run, so a few minutes of staleness costs nothing and spares the
warehouse every rerun a widget triggers. Failures (an unreachable warehouse) are not cached: the
next rerun tries again.
"""

from __future__ import annotations

import streamlit as st
from liftoff.apps.dashboard import queries

TTL_S = 300

sale_date_bounds = st.cache_data(ttl=TTL_S, show_spinner=False)(queries.sale_date_bounds)
hire_date_bounds = st.cache_data(ttl=TTL_S, show_spinner=False)(queries.hire_date_bounds)
kpis = st.cache_data(ttl=TTL_S, show_spinner=False)(queries.kpis)
daily_sales = st.cache_data(ttl=TTL_S, show_spinner=False)(queries.daily_sales)
sales_by_product = st.cache_data(ttl=TTL_S, show_spinner=False)(queries.sales_by_product)
top_sellers = st.cache_data(ttl=TTL_S, show_spinner=False)(queries.top_sellers)
monthly_payroll = st.cache_data(ttl=TTL_S, show_spinner=False)(queries.monthly_payroll)
employees_by_gender = st.cache_data(ttl=TTL_S, show_spinner=False)(queries.employees_by_gender)
average_salary_by_title = st.cache_data(ttl=TTL_S, show_spinner=False)(queries.average_salary_by_title)
hires_per_month = st.cache_data(ttl=TTL_S, show_spinner=False)(queries.hires_per_month)
birthdays_of_the_month = st.cache_data(ttl=TTL_S, show_spinner=False)(queries.birthdays_of_the_month)
freshness = st.cache_data(ttl=60, show_spinner=False)(queries.freshness)
last_campaign = st.cache_data(ttl=60, show_spinner=False)(queries.last_campaign)
