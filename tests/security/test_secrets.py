"""Secrets fail closed (issue 19, finding 6): an unsubscribe secret shorter than 32 bytes signs and
verifies nothing, the endpoint refuses to start with one, and every generated secret or password
file is written atomically, 0600, so a crash never leaves an empty one behind."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from itertools import count
from pathlib import Path

import pytest

from liftoff.campaign.consent import (
    SECRET_FILE,
    WeakUnsubscribeSecret,
    local_unsubscribe_secret,
    unsubscribe_secret,
    unsubscribe_token,
    verify_token,
)
from liftoff.devstack import stack
from liftoff.devstack.loopback import free_port
from liftoff.private_files import generated_secret
from liftoff.warehouse.roles import READERS
from tests.security.state_walk import readable_by_others, umask

GOOD_SECRET = "a-random-enough-unsubscribe-secret-for-the-tests"


def token_signed_with(key: bytes, customer_id: int = 7) -> str:
    """A well-formed token signed with `key`, as someone who guessed the key would make it."""
    import base64

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    payload = b64(f"{customer_id}:email:cross_sell-2026-12-01".encode())
    return f"{payload}.{b64(hmac.new(key, payload.encode(), hashlib.sha256).digest())}"


@pytest.mark.parametrize("key", [b"", b"x" * 31], ids=["empty", "31 bytes"])
def test_a_secret_shorter_than_32_bytes_signs_and_verifies_nothing(key):
    with pytest.raises(WeakUnsubscribeSecret, match="at least 32"):
        unsubscribe_token(7, "email", "cross_sell-2026-12-01", key)
    with pytest.raises(WeakUnsubscribeSecret, match="at least 32"):
        verify_token(token_signed_with(key), key)
    assert verify_token(token_signed_with(b"y" * 32), b"y" * 32).customer_id == 7


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"LIFTOFF_UNSUBSCRIBE_SECRET": ""}, "environment variable LIFTOFF_UNSUBSCRIBE_SECRET"),
        ({"LIFTOFF_UNSUBSCRIBE_SECRET": "short"}, "environment variable LIFTOFF_UNSUBSCRIBE_SECRET"),
        (
            {"AIRFLOW_CONN_CAMPAIGN_UNSUBSCRIBE": json.dumps({"conn_type": "generic", "password": "short"})},
            "connection 'campaign_unsubscribe'",
        ),
    ],
    ids=["empty variable", "short variable", "short connection password"],
)
def test_a_short_configured_secret_is_refused_naming_where_it_came_from(monkeypatch, variables, named):
    monkeypatch.delenv("LIFTOFF_UNSUBSCRIBE_SECRET", raising=False)
    monkeypatch.delenv("AIRFLOW_CONN_CAMPAIGN_UNSUBSCRIBE", raising=False)
    for key, value in variables.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(WeakUnsubscribeSecret, match=named):
        unsubscribe_secret()


def test_a_short_secret_file_is_refused_naming_the_file(tmp_path):
    (tmp_path / SECRET_FILE).write_text("short\n")
    with pytest.raises(WeakUnsubscribeSecret, match=str(tmp_path / SECRET_FILE)):
        local_unsubscribe_secret(tmp_path)


def test_the_endpoint_refuses_to_start_with_a_short_secret():
    """It used to read whatever it found once at start and serve with it (an empty key included)."""
    env = {key: value for key, value in os.environ.items() if key != "AIRFLOW_CONN_CAMPAIGN_UNSUBSCRIBE"}
    env["LIFTOFF_UNSUBSCRIBE_SECRET"] = "too-short"
    port = free_port()
    command = [sys.executable, "-m", "liftoff.campaign.unsubscribe", "--serve", "--port", str(port)]
    command += ["--dsn", "postgresql://nobody@127.0.0.1:1/nothing"]  # never reached
    # A server that starts serves until killed: the timeout fails the test.
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=90)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "LIFTOFF_UNSUBSCRIBE_SECRET" in done.stderr
    assert "at least 32" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_crash_while_generating_the_secret_leaves_no_empty_secret_file(tmp_path):
    """The process dies (os._exit: no clean-up runs) while the secret is being made, as a killed
    `make up` would: there must be no secret file, or a whole one; never an empty one."""
    script = textwrap.dedent(f"""
        import os, secrets
        from pathlib import Path
        secrets.token_urlsafe = lambda *args: os._exit(9)
        from liftoff.campaign.consent import local_unsubscribe_secret
        local_unsubscribe_secret(Path({str(tmp_path)!r}))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 9, done.stderr
    secret_file = tmp_path / SECRET_FILE
    assert not secret_file.exists() or len(secret_file.read_text().strip()) >= 32
    assert local_unsubscribe_secret(tmp_path) == secret_file.read_text().strip()


def test_an_empty_secret_file_left_by_an_old_crash_is_replaced(tmp_path):
    (tmp_path / SECRET_FILE).write_text("")
    secret = local_unsubscribe_secret(tmp_path)
    assert len(secret.encode()) >= 32
    assert (tmp_path / SECRET_FILE).read_text().strip() == secret
    assert local_unsubscribe_secret(tmp_path) == secret


def test_every_generated_secret_and_password_file_is_private_whatever_the_umask(tmp_path, monkeypatch):
    """The stack's own secrets (Airflow's keys, the unsubscribe secret, the reader roles' passwords,
    the Airflow login) in a fresh state folder, generated by a process with a user's usual umask."""
    state = tmp_path / "state"
    monkeypatch.setenv("LIFTOFF_STATE_DIR", str(state))
    for reader in READERS:
        monkeypatch.delenv(reader.password_env, raising=False)
    with umask(0o022):
        stack.airflow_secrets()
        local_unsubscribe_secret(state)
        passwords = [reader.password() for reader in READERS]
        login = stack.airflow_login({"AIRFLOW_HOME": str(state / "airflow")})
    assert readable_by_others(state) == []
    assert all(len(password) >= 24 for password in passwords)
    assert list(json.loads(login.read_text())) == ["admin"]
    leftovers = [path.name for path in state.rglob("*") if path.name.endswith(".tmp")]
    assert leftovers == []


def test_callers_generating_one_secret_at_once_agree_on_it(tmp_path):
    path = tmp_path / "shared.secret"
    numbers = count()
    with ThreadPoolExecutor(8) as pool:
        seen = set(pool.map(lambda _: generated_secret(path, lambda: f"secret-{next(numbers)}"), range(32)))
    assert seen == {path.read_text().strip()}
    assert sorted(Path(tmp_path).iterdir()) == [path]
