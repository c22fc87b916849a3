"""The embedded stack's promises on a developer's machine: clear one-line errors, nothing of the
user's deleted, stale state recovered. Each test uses a throwaway cluster of its own."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from liftoff import settings
from liftoff.devstack import stack
from liftoff.devstack.errors import LocalStackError
from liftoff.devstack.loopback import free_port
from liftoff.devstack.postgres import EmbeddedPostgres

# Needs throwaway embedded Postgres clusters of its own: not in `make test-fast`.
pytestmark = pytest.mark.services


@pytest.fixture
def cluster(tmp_path: Path):
    pg = EmbeddedPostgres(root=tmp_path / "pg", port=free_port())
    yield pg
    pg.stop()


def test_start_is_idempotent_and_serves_tcp_with_a_password(cluster):
    cluster.ensure_running()
    first_pid = cluster.running_pid()
    cluster.ensure_running()
    assert cluster.running_pid() == first_pid
    cluster.ensure_database("warehouse")
    cluster.ensure_database("warehouse")
    with psycopg.connect(cluster.url("warehouse")) as conn:
        assert conn.execute("select current_database()").fetchone() == ("warehouse",)
    wrong = cluster.url("warehouse").replace(cluster.password(), "wrong-password")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(wrong)


def test_port_in_use_is_a_clear_error(tmp_path: Path):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        pg = EmbeddedPostgres(root=tmp_path / "pg", port=port)
        with pytest.raises(LocalStackError, match=f"port {port} .* in use .* LIFTOFF_PG_PORT"):
            pg.ensure_running()


def test_stale_pid_file_is_recovered(cluster):
    cluster.ensure_running()
    cluster.stop()
    # A crash leaves postmaster.pid behind, naming a process that no longer exists.
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (cluster.data_dir / "postmaster.pid").write_text(f"{dead.pid}\n{cluster.data_dir}\n")
    assert cluster.running_pid() is None
    cluster.ensure_running()
    assert cluster.running_pid() is not None


def test_interrupted_first_start_is_redone(cluster):
    cluster.root.mkdir(parents=True)
    partial = cluster.root / "data.partial"
    partial.mkdir()
    (partial / "half-written").write_text("initdb was interrupted here")
    cluster.ensure_running()
    assert not partial.exists()
    assert cluster.is_initialised()


def test_a_folder_we_did_not_make_is_left_alone(cluster):
    cluster.data_dir.mkdir(parents=True)
    keepsake = cluster.data_dir / "notes.txt"
    keepsake.write_text("the user's file")
    with pytest.raises(LocalStackError, match="not made by this project"):
        cluster.ensure_running()
    assert keepsake.read_text() == "the user's file"


def test_a_user_supplied_warehouse_wins(monkeypatch):
    monkeypatch.setenv(stack.WAREHOUSE_CONN_ENV, "postgresql://me:secret@db.example:6543/sales")
    env = stack.environment()
    assert env[stack.WAREHOUSE_CONN_ENV] == "postgresql://me:secret@db.example:6543/sales"
    assert env["LIFTOFF_WAREHOUSE_HOST"] == "db.example"
    assert stack.warehouse_url(env) == "postgresql://me:secret@db.example:6543/sales"


def test_cli_error_is_one_line_without_traceback(tmp_path: Path):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        env = {
            **os.environ,
            "LIFTOFF_STATE_DIR": str(tmp_path),
            "LIFTOFF_PG_PORT": str(squatter.getsockname()[1]),
        }
        env.pop(stack.WAREHOUSE_CONN_ENV, None)
        env.pop(stack.METADATA_ENV, None)
        result = subprocess.run(
            [sys.executable, "-m", "liftoff.devstack", "warehouse-url"],
            capture_output=True, text=True, env=env, cwd=settings.PROJECT_ROOT,
        )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("liftoff: port ")
    assert "Traceback" not in result.stderr


def test_cli_prints_a_working_warehouse_url():
    result = subprocess.run(
        [sys.executable, "-m", "liftoff.devstack", "warehouse-url"],
        capture_output=True, text=True, check=True, cwd=settings.PROJECT_ROOT,
        env={k: v for k, v in os.environ.items() if k != stack.WAREHOUSE_CONN_ENV},
    )  # fmt: skip
    url = result.stdout.strip()
    with psycopg.connect(url) as conn:
        assert conn.execute("select current_database()").fetchone() == ("warehouse",)
