"""The host name the embedded stack's Airflow records for its task instances: 127.0.0.1.

Airflow fetches a running task's log from `http://<task host>:<log server port>`; the local stack
serves logs on loopback only (liftoff.devstack.stack.LOOPBACK_SETTINGS), so the recorded host must
be the loopback address, not the machine's name (which may resolve to a public interface).
Set as `[core] hostname_callable`. Also where a free loopback port comes from, for the servers the
tests and benchmarks start.
"""

from __future__ import annotations

import socket


def hostname() -> str:
    return "127.0.0.1"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (the system's choice; another process may take it later)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
