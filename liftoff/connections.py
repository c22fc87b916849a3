"""libpq URLs of the databases, from Airflow connections, read when a task or a command runs.

Airflow is imported inside the functions, never at module level: command-line tools (the
unsubscribe endpoint, linking a Telegram chat) and tests import this module without loading
Airflow; only when no URL is given do they ask Airflow's connections (environment or metastore).
"""

from __future__ import annotations

from liftoff import settings


class ConnectionMisconfigured(ValueError):
    """An Airflow connection lacks what its use needs; the message names it and what to set. No
    retry can fix it, so tasks fail at once (AirflowFailException)."""


def connection_dsn(conn) -> str:
    """libpq URL of a Postgres Airflow connection (login and password URL-quoted)."""
    from urllib.parse import quote

    auth = quote(conn.login or "", safe="")
    if conn.password:
        auth += ":" + quote(conn.password, safe="")
    return f"postgresql://{auth}@{conn.host}:{conn.port or 5432}/{conn.schema or ''}"


def warehouse_dsn() -> str:
    """libpq URL of the warehouse, from the Airflow connection (call inside a task)."""
    from airflow.sdk import BaseHook

    return connection_dsn(BaseHook.get_connection(settings.WAREHOUSE_CONN_ID))


def crm_dsn() -> str | None:
    """libpq URL of the CRM database from the `crm` Airflow connection, or None when there is none
    (then the campaign has no CRM opt-outs to copy; the ingest DAG reads the CRM through its API, the
    `crm_api` connection). Call inside a task."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        conn = BaseHook.get_connection(settings.CRM_CONN_ID)
    except AirflowNotFoundException:
        return None
    return connection_dsn(conn)


def crm_api_endpoint() -> tuple[str, str] | None:
    """(base URL, API key) of the CRM API from the `crm_api` Airflow connection, or None when there
    is none. The URL is `<conn_type>://host[:port]` (conn_type http or https; a host written as a
    whole URL is kept); the key is the connection's password, so it lives where Airflow keeps
    secrets (environment, metastore or a secrets backend), never in code. Call inside a task.
    A connection without a host or a key raises ConnectionMisconfigured."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        conn = BaseHook.get_connection(settings.CRM_API_CONN_ID)
    except AirflowNotFoundException:
        return None
    where = f"the `{settings.CRM_API_CONN_ID}` connection"
    if not conn.host:
        raise ConnectionMisconfigured(
            f"{where} has no host: set it to the CRM API's address (e.g. http://127.0.0.1:8090)"
        )
    if not conn.password:
        raise ConnectionMisconfigured(
            f"{where} has no password: set it to an admin API key of the CRM API "
            "(make crm-api-key NAME=airbyte SCOPE=admin)"
        )
    if "://" in conn.host:
        url = conn.host.rstrip("/")
    else:
        scheme = conn.conn_type if conn.conn_type in ("http", "https") else "http"
        url = f"{scheme}://{conn.host}"
    if conn.port and f":{conn.port}" not in url.split("://", 1)[1]:
        url += f":{conn.port}"
    return url, conn.password
