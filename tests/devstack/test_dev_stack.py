"""`make up` serves Airflow, Streamlit, the CRM API, the unsubscribe endpoint and the mail outbox on
127.0.0.1 only; `make down` leaves no process behind. `make shell` has the venv on PATH."""

from __future__ import annotations

import json
import os
import smtplib
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest

from liftoff import settings
from liftoff.campaign.consent import unsubscribe_token
from liftoff.devstack import stack as stack_module
from liftoff.devstack.loopback import free_port
from liftoff.devstack.outbox import messages

SERVICES = (
    *stack_module.AIRFLOW_COMPONENTS,
    "airflow-logs",
    "streamlit",
    "crm-api",
    "unsubscribe",
    "outbox",
)
LOOPBACK = ("127.0.0.1", "::1")


def get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (localhost only)
        return response.status, response.read().decode()


def get_when_ready(url: str, timeout_s: float = 120) -> tuple[int, str]:
    """GET once the server answers: a port opens before the app behind it has loaded (slow when
    the machine is busy)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return get(url)
        except (TimeoutError, ConnectionError, urllib.error.URLError):
            if time.monotonic() > deadline:
                raise
            time.sleep(2)


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def listening_addresses(pids: list[int]) -> dict[str, list[str]]:
    """Every address a process of `pids` (or any of its children) listens on."""
    found: dict[str, list[str]] = {}
    for pid in pids:
        root = psutil.Process(pid)
        for process in (root, *root.children(recursive=True)):
            try:
                sockets = process.net_connections(kind="inet")
            except psutil.NoSuchProcess:
                continue
            listening = [f"{c.laddr.ip}:{c.laddr.port}" for c in sockets if c.status == psutil.CONN_LISTEN]
            if listening:
                found[f"{process.pid} {' '.join(process.cmdline()[:3])}"] = listening
    return found


def own_stack_env(tmp_path, **ports: int) -> dict[str, str]:
    """A stack of its own, as on a fresh machine: own state folder, own Postgres, own ports."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key
        not in (
            stack_module.WAREHOUSE_CONN_ENV,
            stack_module.METADATA_ENV,
            stack_module.CRM_CONN_ENV,
            stack_module.SMTP_CONN_ENV,
            "AIRFLOW_HOME",
        )
        and not key.startswith("LIFTOFF_")
    }
    env |= {"LIFTOFF_STATE_DIR": str(tmp_path / "state"), "LIFTOFF_PG_PORT": str(free_port())}
    env |= {f"LIFTOFF_{name.upper()}_PORT": str(port) for name, port in ports.items()}
    return env


@pytest.mark.slow
def test_up_serves_every_service_on_loopback_only_and_down_stops_everything(tmp_path):
    ports = {
        name: free_port()
        for name in ("airflow", "airflow_log", "streamlit", "crm_api", "unsubscribe", "outbox")
    }
    env = own_stack_env(tmp_path, **ports)
    # No scheduled run on a fresh stack during the test (the user's own choice wins over the
    # local stack's un-paused default): the machine stays free for the checks below.
    env["AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION"] = "True"
    # The README's commands, as written.
    state = tmp_path / "state"
    run_dir = state / "run"
    pids: dict[str, int] = {}
    try:
        up = subprocess.run(
            ["make", "--no-print-directory", "up"], env=env, check=True, timeout=300,
            cwd=settings.PROJECT_ROOT, capture_output=True, text=True,
        )  # fmt: skip
        pids = {name: int((run_dir / f"{name}.pid").read_text()) for name in SERVICES}
        assert f"http://127.0.0.1:{ports['unsubscribe']}/unsubscribe" in up.stdout
        assert str(state / "outbox") in up.stdout

        status, body = get_when_ready(f"http://127.0.0.1:{ports['airflow']}/api/v2/monitor/health")
        assert status == 200
        assert "metadatabase" in body
        status, body = get_when_ready(f"http://127.0.0.1:{ports['streamlit']}/_stcore/health")
        assert status == 200
        assert body.strip() == "ok"
        # The CRM API migrated its database on start and answers; its data needs a key.
        assert get_when_ready(f"http://127.0.0.1:{ports['crm_api']}/health") == (200, '{"status":"ok"}')
        with pytest.raises(urllib.error.HTTPError, match="401"):
            get(f"http://127.0.0.1:{ports['crm_api']}/sales")
        # The ingest DAG's Airbyte connector reads it with the admin key `up` minted (0600 in the
        # state folder), through the `crm_api` connection Airflow's processes get.
        key_file = state / stack_module.CRM_API_KEY_FILE
        assert key_file.stat().st_mode & 0o777 == 0o600
        key = key_file.read_text().strip()
        deleted_too = urllib.request.Request(
            f"http://127.0.0.1:{ports['crm_api']}/customers?include_deleted=true", headers={"X-API-Key": key}
        )
        with urllib.request.urlopen(deleted_too, timeout=10) as response:  # noqa: S310 (localhost only)
            assert response.status == 200  # an admin key: a standard one gets 403 here
        scheduler_env = psutil.Process(pids["airflow-scheduler"]).environ()
        assert json.loads(scheduler_env[stack_module.CRM_API_CONN_ENV]) == {
            "conn_type": "http",
            "host": "127.0.0.1",
            "port": ports["crm_api"],
            "password": key,
        }

        # The unsubscribe endpoint verifies a link signed with the stack's secret (the one the
        # campaign signs with) and offers the confirmation.
        secret = (state / "campaign-unsubscribe.secret").read_text().strip().encode()
        token = unsubscribe_token(42, "email", "cross_sell-2026-01-02", secret)
        status, body = get(f"http://127.0.0.1:{ports['unsubscribe']}/unsubscribe?token={token}")
        assert status == 200
        assert "Confirmar descadastro" in body

        # The outbox accepts mail and keeps it.
        with smtplib.SMTP("127.0.0.1", ports["outbox"], timeout=10) as client:
            client.sendmail("loja@example.com", ["cliente@example.com"], b"Subject: Oi\r\n\r\nOla\r\n")
        assert [m["Subject"] for m in messages(state / "outbox")] == ["Oi"]

        # Nothing the stack started listens beyond this machine (the api-server's default is
        # 0.0.0.0; Airflow's own log servers bind every interface).
        postgres = int((state / "postgres" / "data" / "postmaster.pid").read_text().split()[0])
        listening = listening_addresses([*pids.values(), postgres])
        exposed = {
            process: addresses
            for process, addresses in listening.items()
            if any(address.rsplit(":", 1)[0] not in LOOPBACK for address in addresses)
        }
        assert exposed == {}
        every_port = {int(a.rsplit(":", 1)[1]) for addresses in listening.values() for a in addresses}
        assert set(ports.values()) <= every_port
    finally:
        subprocess.run(
            ["make", "--no-print-directory", "down"],
            env=env,
            check=True,
            timeout=120,
            cwd=settings.PROJECT_ROOT,
        )

    time.sleep(0.5)
    assert set(pids) == set(SERVICES)
    for name, pid in pids.items():
        assert not group_alive(pid), f"{name} (process group {pid}) still runs after down"
        assert not (run_dir / f"{name}.pid").exists()
    assert not (state / "postgres" / "data" / "postmaster.pid").exists(), "Postgres still runs"


@pytest.mark.services
def test_make_shell_puts_the_venv_on_path(tmp_path):
    """`make shell` as a user types it, with a PATH that lacks the venv (no `activate`)."""
    env = own_stack_env(tmp_path, outbox=free_port())
    env |= {"PATH": "/usr/bin:/bin", "SHELL": "/bin/sh"}
    imports = "import psycopg, liftoff.campaign.unsubscribe; print('imports ok')"
    script = f'command -v airflow\npython -c "{imports}"\n'
    try:
        # -o: the venv counts as installed (never re-synced by a test).
        result = subprocess.run(
            ["make", "-s", "-o", ".venv/.installed", "shell"], input=script, env=env,
            capture_output=True, text=True, timeout=180, cwd=settings.PROJECT_ROOT,
        )  # fmt: skip
    finally:
        subprocess.run(
            [sys.executable, "-m", "liftoff.devstack", "down"], env=env, check=True, timeout=120,
            cwd=settings.PROJECT_ROOT,
        )  # fmt: skip
    assert result.returncode == 0, result.stderr
    airflow, imports = result.stdout.strip().splitlines()[-2:]
    assert airflow == str(Path(sys.executable).parent / "airflow")
    assert imports == "imports ok"
