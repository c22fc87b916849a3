"""Notify: the channels (e-mail, Telegram) shared by the quality gate's alerts and the campaign.

Only the clients live here (connections, sessions, how a server's refusal reads); what is sent
to whom, and the record of it, belongs to the caller. Nothing here imports the campaign or the
quality gate.
"""

from __future__ import annotations


class PermanentDeliveryError(Exception):
    """The server refused this one message (bad address, blocked chat): record it, go on."""


def connection_exists(conn_id: str) -> bool:
    """Whether Airflow knows the connection: a channel without one is off (the caller logs it)."""
    try:
        from airflow.sdk import BaseHook

        BaseHook.get_connection(conn_id)
    except Exception:  # not found, whatever the secrets backend raises
        return False
    return True
