"""The state folder is its owner's only (issue 19, finding 1): the Airflow login, landed Parquet with
customers' e-mails and phones, GX data docs with failing samples, logs. `prepare` makes an old
install's folder private; what the stack's services write is private; Airflow never prints the
admin password into a log."""

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

import pytest

from liftoff import settings
from liftoff.devstack import stack
from liftoff.devstack.loopback import free_port
from liftoff.devstack.outbox import messages
from liftoff.warehouse.roles import READERS
from tests.security.state_walk import readable_by_others, umask

# Runs `prepare` against the session's Postgres and starts real servers (outbox, Airflow api-server).
pytestmark = pytest.mark.services

OLD_PASSWORD = "old-admin-password-from-an-old-install"


def old_install(state: Path) -> None:
    """A state folder as the stack left it before: 0755 folders, 0644 files, with what matters in
    them (the umask of the user's shell decided)."""
    files = {
        "lake/customers/day=2026-12-01/part-0.parquet": "customers' e-mails and phones",
        "quality/data_docs/index.html": "failing samples",
        "run/airflow-api-server.log": "an old log\n",
        "airflow/simple_auth_manager_passwords.json.generated": json.dumps({"admin": OLD_PASSWORD}),
        "campaign-unsubscribe.secret": "x" * 43,
    }
    for name, text in files.items():
        path = state / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        path.chmod(0o644)
    for folder in [state, *(path for path in state.rglob("*") if path.is_dir())]:
        folder.chmod(0o755)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory, airflow_db) -> tuple[Path, dict[str, str]]:
    """An old install's state folder after `python -m liftoff.devstack prepare`, run as a user runs
    it (umask 022) on the session's Postgres (the test must not move the session's role passwords
    nor its Fernet key: it passes them as a user's own settings would)."""
    state = tmp_path_factory.mktemp("old-install") / "state"
    old_install(state)
    # The session's CRM database is not this state folder's (its roles' passwords live in the
    # session's): left out, as for a user whose stack has no CRM connection.
    env = {key: value for key, value in os.environ.items() if key not in ("AIRFLOW_HOME", stack.CRM_CONN_ENV)}
    env["LIFTOFF_STATE_DIR"] = str(state)
    env |= {reader.password_env: reader.password() for reader in READERS}
    done = subprocess.run(
        [sys.executable, "-m", "liftoff.devstack", "prepare"],
        env=env, capture_output=True, text=True, timeout=300, umask=0o022, cwd=settings.PROJECT_ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    env["AIRFLOW_HOME"] = str(state / "airflow")
    return state, env


def test_prepare_makes_an_old_state_folder_private(prepared):
    state, _ = prepared
    assert readable_by_others(state) == []
    # What was there is kept: the old login still logs in, the old secret still verifies links.
    login = json.loads((state / "airflow" / "simple_auth_manager_passwords.json.generated").read_text())
    assert login["admin"] == OLD_PASSWORD
    assert (state / "campaign-unsubscribe.secret").read_text() == "x" * 43


def test_the_airflow_api_server_prints_no_password_and_its_login_is_private(prepared, monkeypatch):
    """The api-server started as `make up` starts it (`stack.up`: the login first, then the
    process): it finds every user's password in the 0600 file and prints none into its log."""
    state, env = prepared
    monkeypatch.setenv("LIFTOFF_STATE_DIR", str(state))
    login_file = state / "airflow" / "simple_auth_manager_passwords.json.generated"
    login_file.unlink()  # a fresh install: no login yet
    port = free_port()
    env = env | {
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": stack.execution_api_url(port),
    }
    name = "airflow-api-server"
    assert stack.airflow_login(env) == login_file
    airflow = str(Path(sys.executable).parent / "airflow")
    try:
        with umask(0o022):
            stack._spawn(name, [airflow, *stack.AIRFLOW_COMPONENTS[name]], env, port)
        stack._wait_for_port(name, port, 150)
        password = json.loads(login_file.read_text())["admin"]
        body = json.dumps({"username": "admin", "password": password}).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/auth/token", data=body, headers={"Content-Type": "application/json"}
        )
        deadline = time.monotonic() + 120
        while True:  # the port opens before the app behind it has loaded
            try:
                with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                    assert response.status == 201  # the file's password is the login
                    break
            except (ConnectionError, TimeoutError, urllib.error.URLError) as error:
                if isinstance(error, urllib.error.HTTPError) or time.monotonic() > deadline:
                    raise
                time.sleep(1)
    finally:
        stack.stop_services((name,))
    log = (state / "run" / f"{name}.log").read_text()
    assert "Simple auth manager" not in log
    assert password not in log
    assert readable_by_others(state) == []


def test_what_the_stack_s_services_write_is_private(tmp_path, monkeypatch):
    """The mail outbox as the stack starts it (stack.start_outbox), from a caller with a user's
    umask: its PID file, its log and each message it keeps (customers' addresses) are private."""
    state = tmp_path / "state"
    monkeypatch.setenv("LIFTOFF_STATE_DIR", str(state))
    monkeypatch.delenv("LIFTOFF_OUTBOX_DIR", raising=False)
    monkeypatch.setenv("LIFTOFF_OUTBOX_PORT", str(free_port()))
    with umask(0o022):
        state.mkdir(mode=0o700)
        try:
            port = stack.start_outbox()
            with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
                client.sendmail("loja@example.com", ["cliente@example.com"], b"Subject: Oi\r\n\r\nOla\r\n")
        finally:
            stack.stop_services(("outbox",))
    assert [message["X-RcptTo"] for message in messages(state / "outbox")] == ["cliente@example.com"]
    assert (state / "run" / "outbox.log").exists()
    assert readable_by_others(state) == []
