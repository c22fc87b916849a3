"""`make up` serves Airflow, Streamlit and the CRM API on localhost; `make down` leaves no process behind."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from liftoff import settings
from liftoff.devstack import stack as stack_module


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (localhost only)
        return response.status, response.read().decode()


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.slow
def test_up_serves_airflow_streamlit_and_the_crm_api_and_down_stops_everything(tmp_path):
    # A stack of its own, as on a fresh machine: own state folder, own Postgres, own ports.
    airflow_port, streamlit_port, pg_port, crm_api_port = free_port(), free_port(), free_port(), free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in (stack_module.WAREHOUSE_CONN_ENV, stack_module.METADATA_ENV, "AIRFLOW_HOME")
        and not key.startswith("LIFTOFF_")
    }
    env |= {
        "LIFTOFF_STATE_DIR": str(tmp_path / "state"),
        "LIFTOFF_PG_PORT": str(pg_port),
        "LIFTOFF_AIRFLOW_PORT": str(airflow_port),
        "LIFTOFF_STREAMLIT_PORT": str(streamlit_port),
        "LIFTOFF_CRM_API_PORT": str(crm_api_port),
    }
    stack = [sys.executable, "-m", "liftoff.devstack"]
    run_dir = tmp_path / "state" / "run"
    pids: dict[str, int] = {}
    try:
        subprocess.run([*stack, "up"], env=env, check=True, timeout=300, cwd=settings.PROJECT_ROOT)
        pids = {
            name: int((run_dir / f"{name}.pid").read_text()) for name in ("airflow", "streamlit", "crm-api")
        }

        status, body = get(f"http://127.0.0.1:{airflow_port}/api/v2/monitor/health")
        assert status == 200
        assert "metadatabase" in body
        status, body = get(f"http://127.0.0.1:{streamlit_port}/_stcore/health")
        assert status == 200
        assert body.strip() == "ok"
        # The CRM API migrated its database on start and answers; its data needs a key.
        assert get(f"http://127.0.0.1:{crm_api_port}/health") == (200, '{"status":"ok"}')
        with pytest.raises(urllib.error.HTTPError, match="401"):
            get(f"http://127.0.0.1:{crm_api_port}/sales")
    finally:
        subprocess.run([*stack, "down"], env=env, check=True, timeout=120, cwd=settings.PROJECT_ROOT)

    time.sleep(0.5)
    assert set(pids) == {"airflow", "streamlit", "crm-api"}
    for name, pid in pids.items():
        assert not group_alive(pid), f"{name} (process group {pid}) still runs after down"
        assert not (run_dir / f"{name}.pid").exists()
    assert not (tmp_path / "state" / "postgres" / "data" / "postmaster.pid").exists(), "Postgres still runs"
