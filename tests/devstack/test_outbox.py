"""The local mail outbox: a real SMTP server the stack starts, that keeps every message in a
Maildir, that `smtp_default` points at (unless the user has their own), and that `down` stops."""

from __future__ import annotations

import json
import os
import smtplib
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path

import pytest

from liftoff import settings
from liftoff.devstack import stack
from liftoff.devstack.loopback import free_port
from liftoff.devstack.outbox import messages

# Starts an embedded Postgres and the outbox of its own: not in `make test-fast`.
pytestmark = pytest.mark.services

STACK = [sys.executable, "-m", "liftoff.devstack"]


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def own_stack(tmp_path: Path):
    """The environment of a stack of its own (state folder, ports), as on a fresh machine."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in (stack.WAREHOUSE_CONN_ENV, stack.METADATA_ENV, stack.CRM_CONN_ENV, "AIRFLOW_HOME")
        and not key.startswith("LIFTOFF_")
        and key != stack.SMTP_CONN_ENV
    }
    env |= {
        "LIFTOFF_STATE_DIR": str(tmp_path / "state"),
        "LIFTOFF_PG_PORT": str(free_port()),
        "LIFTOFF_OUTBOX_PORT": str(free_port()),
    }
    yield env
    subprocess.run([*STACK, "down"], env=env, check=True, timeout=120, cwd=settings.PROJECT_ROOT)


def send(port: int, to: str, subject: str) -> None:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "loja@example.com", to, subject
    message.set_content("Olá! Uma recomendação para você.")
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.send_message(message)


SEND_THROUGH_SMTP_DEFAULT = """
from email.message import EmailMessage
from liftoff.notify.email import SmtpSession
message = EmailMessage()
message["To"], message["Subject"] = "cliente@example.com", "Pelo smtp_default"
message.set_content("corpo")
session = SmtpSession("smtp_default")
message["From"] = session.from_email
session.send(message, "cliente@example.com")
session.close()
"""


def test_run_starts_the_outbox_smtp_default_delivers_to_its_maildir_and_down_stops_it(own_stack):
    port, outbox = int(own_stack["LIFTOFF_OUTBOX_PORT"]), Path(own_stack["LIFTOFF_STATE_DIR"]) / "outbox"
    # The campaign's and the alerts' SMTP client, through the connection the stack set.
    subprocess.run(
        [*STACK, "run", "--", sys.executable, "-c", SEND_THROUGH_SMTP_DEFAULT],
        env=own_stack, check=True, timeout=120, cwd=settings.PROJECT_ROOT,
    )  # fmt: skip
    pid_file = Path(own_stack["LIFTOFF_STATE_DIR"]) / "run" / "outbox.pid"
    pid = int(pid_file.read_text())
    # Plain smtplib too; the outbox outlives the command that started it.
    send(port, "outra@example.com", "Direto por SMTP")

    stored = messages(outbox)
    assert [m["Subject"] for m in stored] == ["Pelo smtp_default", "Direto por SMTP"]
    assert stored[0]["X-RcptTo"] == "cliente@example.com"
    assert stored[1].get_payload().strip() == "Olá! Uma recomendação para você."
    # Written atomically: nothing left half-written in tmp/, every message in new/.
    assert list((outbox / "tmp").iterdir()) == []
    assert len(list((outbox / "new").iterdir())) == 2

    # A second command reuses the running outbox.
    subprocess.run(
        [*STACK, "run", "--", "true"], env=own_stack, check=True, timeout=60, cwd=settings.PROJECT_ROOT
    )
    assert int(pid_file.read_text()) == pid

    subprocess.run([*STACK, "down"], env=own_stack, check=True, timeout=120, cwd=settings.PROJECT_ROOT)
    assert not pid_alive(pid)
    assert not pid_file.exists()
    with pytest.raises(ConnectionRefusedError):
        send(port, "ninguem@example.com", "Depois do down")


def test_a_smtp_default_of_the_users_is_kept(own_stack):
    own_stack[stack.SMTP_CONN_ENV] = json.dumps({"conn_type": "smtp", "host": "mail.example", "port": 587})
    result = subprocess.run(
        [*STACK, "run", "--", sys.executable, "-c", f"import os; print(os.environ[{stack.SMTP_CONN_ENV!r}])"],
        env=own_stack, check=True, timeout=120, cwd=settings.PROJECT_ROOT, capture_output=True, text=True,
    )  # fmt: skip
    assert json.loads(result.stdout.strip().splitlines()[-1])["host"] == "mail.example"


def test_a_smtp_default_in_the_metastore_is_kept(airflow_db, monkeypatch):
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session

    monkeypatch.delenv(stack.SMTP_CONN_ENV, raising=False)
    env = {stack.METADATA_ENV: os.environ[stack.METADATA_ENV]}
    assert stack.smtp_is_ours(env)
    with create_session() as session:
        session.add(Connection(conn_id="smtp_default", conn_type="smtp", host="mail.example", port=587))
    try:
        assert not stack.smtp_is_ours(env)
    finally:
        with create_session() as session:
            session.query(Connection).filter(Connection.conn_id == "smtp_default").delete()
