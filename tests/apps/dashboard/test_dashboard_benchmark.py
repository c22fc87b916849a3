"""Smoke test of `make bench-dashboard` at a tiny size: it builds its warehouse, renders, and reports
every figure. (Speed is never asserted in tests.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest

from liftoff import settings

# Needs the benchmark against the embedded Postgres: not in `make test-fast`.
pytestmark = pytest.mark.services


def test_dashboard_benchmark_runs_and_reports(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(settings.PROJECT_ROOT)}
    database = f"bench_dash_{uuid.uuid4().hex[:8]}"
    command = [
        sys.executable, "-m", "benchmarks.dashboard", "--sales", "600", "--days", "3", "--runs", "1",
        "--database", database, "--out", str(tmp_path),
    ]  # fmt: skip
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, env=env, cwd=settings.PROJECT_ROOT, timeout=600
        )
    finally:
        import psycopg
        from psycopg import sql

        from liftoff.devstack import stack

        with psycopg.connect(stack.embedded_postgres().url("postgres"), autocommit=True) as conn:
            conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(database)))
    assert result.returncode == 0, result.stderr[-2000:]
    figures = json.loads((tmp_path / "dashboard.json").read_text())
    assert figures["sales"] > 0
    for key in ("bare_sql_s", "query_layer_s", "cold_render_s", "warm_render_s", "first_render_s"):
        assert figures[key] > 0, key
    assert "× bare SQL" in result.stdout
