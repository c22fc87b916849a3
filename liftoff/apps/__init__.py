"""Apps: the long-running services beside Airflow: the CRM data-entry API and the dashboard's logic.

The Streamlit pages themselves live in `streamlit/`; they import `apps.dashboard`.
"""
