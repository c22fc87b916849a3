"""What the embedded stack's environment promises, without starting anything: loopback-only
services, DAGs un-paused in the user's local stack only, the user's own settings kept; and that
stopping a service leaves nothing running."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from liftoff.devstack import stack


def test_every_airflow_server_of_the_stack_is_on_loopback(monkeypatch):
    env = stack.environment(start_services=False)
    assert env["AIRFLOW__API__HOST"] == "127.0.0.1"
    # The log server `up` starts on loopback is the one task instances point the api-server at.
    assert env["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"] == str(stack.AIRFLOW_LOG_PORT)
    assert env["AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"] == str(stack.AIRFLOW_LOG_PORT)
    # Task instances record the loopback address: where the api-server then fetches their logs.
    from airflow.utils.net import get_hostname

    monkeypatch.setenv("AIRFLOW__CORE__HOSTNAME_CALLABLE", env["AIRFLOW__CORE__HOSTNAME_CALLABLE"])
    assert get_hostname() == "127.0.0.1"
    # Neither scheduler nor triggerer may start Airflow's own log server (it binds every interface).
    for component in ("airflow-scheduler", "airflow-triggerer"):
        assert "--skip-serve-logs" in stack.AIRFLOW_COMPONENTS[component]


def test_dags_are_unpaused_at_creation_in_the_local_stack_only(monkeypatch):
    monkeypatch.delenv("AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION", raising=False)
    local = stack.environment(start_services=False, local_stack=True)
    assert local["AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION"] == "False"
    # The tests' environment (and Astro, which never reads this module) keep Airflow's default.
    assert "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION" not in stack.environment(start_services=False)


def test_the_users_own_pause_setting_and_unsubscribe_url_win(monkeypatch):
    monkeypatch.setenv("AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION", "True")
    monkeypatch.setenv("LIFTOFF_UNSUBSCRIBE_URL", "https://shop.example/unsubscribe")
    env = stack.environment(start_services=False, local_stack=True)
    assert env["AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION"] == "True"
    assert env["LIFTOFF_UNSUBSCRIBE_URL"] == "https://shop.example/unsubscribe"


def test_the_emails_link_to_the_unsubscribe_endpoint_up_serves(monkeypatch):
    monkeypatch.delenv("LIFTOFF_UNSUBSCRIBE_URL", raising=False)
    env = stack.environment(start_services=False, local_stack=True)
    assert env["LIFTOFF_UNSUBSCRIBE_URL"] == f"http://127.0.0.1:{stack.UNSUBSCRIBE_PORT}/unsubscribe"


def test_a_smtp_default_set_in_the_environment_is_the_users(monkeypatch):
    monkeypatch.setenv(stack.SMTP_CONN_ENV, json.dumps({"conn_type": "smtp", "host": "mail.example"}))
    assert not stack.smtp_is_ours({stack.METADATA_ENV: "postgresql+psycopg2://u:p@127.0.0.1:1/airflow"})


@pytest.mark.parametrize("url", ["sqlite:////tmp/airflow.db", "mysql+mysqldb://u:p@db/airflow", ""])
def test_a_metadata_db_the_stack_cannot_read_is_left_alone(monkeypatch, url):
    monkeypatch.delenv(stack.SMTP_CONN_ENV, raising=False)
    assert not stack.smtp_is_ours({stack.METADATA_ENV: url})


def test_the_outbox_connection_is_plain_smtp_on_loopback_with_a_sender():
    conn = json.loads(stack.outbox_connection(8025))
    assert (conn["conn_type"], conn["host"], conn["port"]) == ("smtp", "127.0.0.1", 8025)
    # No TLS on loopback; a sender, which the quality gate's SmtpNotifier requires.
    assert conn["extra"]["disable_ssl"]
    assert conn["extra"]["disable_tls"]
    assert conn["extra"]["from_email"]


def test_venv_first_on_path():
    env = stack.with_venv_on_path({"PATH": "/usr/bin:/bin"})
    first, *rest = env["PATH"].split(":")
    assert (Path(first) / "python").exists()
    assert rest == ["/usr/bin", "/bin"]


def test_the_stack_exports_each_read_only_roles_url_and_the_users_own_wins(monkeypatch):
    """`make shell` users (and notebooks) find the analysts' URL, Streamlit the dashboard's: the
    warehouse's host, port and database with each role's credentials."""
    from urllib.parse import urlsplit

    from liftoff.warehouse.roles import ANALYST, DASHBOARD

    warehouse = {"conn_type": "postgres", "host": "db.example", "port": 6543, "login": "dbt", "schema": "dw"}
    monkeypatch.setenv(stack.WAREHOUSE_CONN_ENV, json.dumps(warehouse | {"password": "admin-secret"}))
    monkeypatch.delenv(ANALYST.url_env, raising=False)
    monkeypatch.setenv(DASHBOARD.url_env, "postgresql://mine@elsewhere/dw")
    env = stack.environment(start_services=False)
    analyst = urlsplit(env["LIFTOFF_ANALYST_URL"])
    assert (analyst.username, analyst.password) == ("liftoff_analyst", ANALYST.password())
    assert (analyst.hostname, analyst.port, analyst.path) == ("db.example", 6543, "/dw")
    assert env["LIFTOFF_DASHBOARD_URL"] == "postgresql://mine@elsewhere/dw"


def test_down_waits_until_a_service_that_ignores_sigterm_is_gone(monkeypatch, tmp_path):
    """A service still busy after the grace period is killed, and stop_services returns only once
    its whole process group is gone (a `make up` right after must find the ports free)."""
    monkeypatch.setenv("LIFTOFF_STATE_DIR", str(tmp_path))
    monkeypatch.setattr(stack, "STOP_GRACE_SECONDS", 0.5)
    # A leader and a child that both ignore SIGTERM, in a session of their own, as _spawn starts them.
    stubborn = subprocess.Popen(["sh", "-c", "trap '' TERM; sleep 120 & wait"], start_new_session=True)
    (stack._pid_dir() / "stubborn.pid").write_text(str(stubborn.pid))
    time.sleep(0.3)  # the child is started

    # This test is the leader's parent, as the demo is of the services it starts: stop_services
    # reaps it, else it would stay a zombie, a member of its group, and the stop would never end.
    stack.stop_services(("stubborn",))

    with pytest.raises(ProcessLookupError):
        os.killpg(stubborn.pid, 0)
    assert not (stack._pid_dir() / "stubborn.pid").exists()


def test_the_local_stack_points_crm_api_at_its_api_with_the_minted_key_unless_the_user_set_one(
    monkeypatch, tmp_path
):
    """`make up` / `make demo`: the ingest DAG's connector reads the stack's CRM API with the admin
    key `prepare` minted (kept in the state folder); the user's own connection wins; the tests'
    environment has none (a test serves the API itself: the crm_api_served fixture)."""
    key_file = tmp_path / stack.CRM_API_KEY_FILE
    monkeypatch.setattr(stack, "crm_api_key_path", lambda: key_file)
    monkeypatch.delenv(stack.CRM_API_CONN_ENV, raising=False)
    assert stack.CRM_API_CONN_ENV not in stack.environment(start_services=False, local_stack=True)
    key_file.write_text("lok_minted\n")
    local = stack.environment(start_services=False, local_stack=True)
    assert json.loads(local[stack.CRM_API_CONN_ENV]) == {
        "conn_type": "http",
        "host": "127.0.0.1",
        "port": stack.CRM_API_PORT,
        "password": "lok_minted",
    }
    assert stack.crm_api_is_ours(local)
    assert stack.CRM_API_CONN_ENV not in stack.environment(start_services=False)
    theirs = json.dumps({"conn_type": "https", "host": "crm.example.com", "password": "lok_theirs"})
    monkeypatch.setenv(stack.CRM_API_CONN_ENV, theirs)
    # Not overridden: the user's own stays in the environment the stack's processes inherit.
    assert stack.CRM_API_CONN_ENV not in stack.environment(start_services=False, local_stack=True)
    assert not stack.crm_api_is_ours({stack.CRM_API_CONN_ENV: theirs})
    assert stack.prepare_crm_api_key(dict(os.environ)) is None  # nothing minted for the user's own
