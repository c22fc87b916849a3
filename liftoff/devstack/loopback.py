"""The host name the embedded stack's Airflow records for its task instances: 127.0.0.1.

Airflow fetches a running task's log from `http://<task host>:<log server port>`; the local stack
serves logs on loopback only (liftoff.devstack.stack.LOOPBACK_SETTINGS), so the recorded host must
be the loopback address, not the machine's name (which may resolve to a public interface).
Set as `[core] hostname_callable`.
"""

from __future__ import annotations


def hostname() -> str:
    return "127.0.0.1"
