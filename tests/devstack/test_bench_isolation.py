"""`make bench` leaves the user's local Airflow alone: the benchmarks run on a stack of their own
(state folder, Postgres, metadata DB), whatever the user's shell points at; their Asset events
never reach the Airflow that `make up` serves (a leftover `gold` event once started the gate)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from liftoff import settings
from liftoff.devstack import stack
from liftoff.devstack.loopback import free_port

# Starts the benchmarks' embedded Postgres (on a port of its own): not in `make test-fast`.
pytestmark = pytest.mark.services

BENCH_TARGETS = ("bench", "bench-pipeline", "bench-dashboard", "bench-campaign")
# What a benchmark process sees, printed through the same `$(BENCH_STACK) run` the targets use.
PROBE = "import json, os; print(json.dumps(dict(os.environ)))"


def make(*arguments: str, env: dict[str, str]) -> str:
    # -o: the venv and the dbt manifest count as up to date (a test never re-syncs or re-parses).
    command = ["make", "-s", "-o", ".venv/.installed", "-o", "include/dbt/target/manifest.json", *arguments]
    result = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=180, cwd=settings.PROJECT_ROOT
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_every_benchmark_target_runs_in_the_benchmarks_stack():
    env = dict(os.environ)
    bench_stack = make("--eval", "print-bench-stack: ; @echo '$(BENCH_STACK)'", "print-bench-stack", env=env)
    for target in BENCH_TARGETS:
        commands = [line for line in make("-n", target, env=env).splitlines() if "benchmarks." in line]
        assert commands, f"make {target} runs no benchmark"
        for line in commands:
            assert f"{bench_stack.strip()} run --" in line, (
                f"make {target} runs outside the benchmarks' stack"
            )
    default_state = make(
        "--eval", "print-bench-state: ; @echo '$(BENCH_STATE)'", "print-bench-state", env=env
    )
    assert Path(default_state.strip()) != settings.PROJECT_ROOT / ".liftoff"


def test_the_benchmarks_environment_is_not_the_users(tmp_path):
    # The user's own stack: their state folder, metadata DB, warehouse and Airflow home, as their
    # shell or `make shell` would have them.
    user_state = tmp_path / "user"
    user_env = {
        **os.environ,
        "LIFTOFF_STATE_DIR": str(user_state),
        stack.METADATA_ENV: "postgresql+psycopg2://postgres:secret@127.0.0.1:5999/airflow",
        stack.WAREHOUSE_CONN_ENV: "postgresql://postgres:secret@127.0.0.1:5999/warehouse",
        "AIRFLOW_HOME": str(user_state / "airflow"),
    }
    bench_state, bench_pg_port = tmp_path / "bench", free_port()
    variables = [
        f"BENCH_STATE={bench_state}",
        f"BENCH_PG_PORT={bench_pg_port}",
        f"BENCH_OUTBOX_PORT={free_port()}",
    ]
    probe_target = f"probe: ; @$(BENCH_STACK) run -- $(PY) -c '{PROBE}'"
    try:
        seen = json.loads(
            make(*variables, "--eval", probe_target, "probe", env=user_env).strip().splitlines()[-1]
        )
    finally:
        make(*variables, "--eval", "stop: ; @$(BENCH_STACK) down", "stop", env=user_env)

    assert Path(seen["LIFTOFF_STATE_DIR"]) == bench_state
    assert Path(seen["AIRFLOW_HOME"]) == bench_state / "airflow"
    assert f"127.0.0.1:{bench_pg_port}/airflow" in seen[stack.METADATA_ENV]
    assert f"127.0.0.1:{bench_pg_port}" in stack.warehouse_url(seen)
    for key in (stack.METADATA_ENV, stack.WAREHOUSE_CONN_ENV, "AIRFLOW_HOME"):
        assert seen[key] != user_env[key], key
    assert not user_state.exists(), "the benchmarks wrote into the user's state folder"
