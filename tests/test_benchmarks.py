"""Smoke test of `make bench` at a small size: the benchmark runs end to end and reports every
figure. (Speed is never asserted in tests: it is measured by `make bench`, as ratios.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from liftoff import settings


def test_ingest_benchmark_runs_and_reports(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(settings.PROJECT_ROOT), "LIFTOFF_BENCH_RESULTS": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.ingest", "--sales", "5000"],
        capture_output=True, text=True, env=env, cwd=settings.PROJECT_ROOT, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    figures = json.loads((tmp_path / "ingest.json").read_text())
    assert figures["rows"] == 5000
    assert figures["records_in"] == 5000
    for key in ("simulate_rows_per_s", "load_rows_per_s", "copy_rows_per_s", "load_vs_copy", "peak_rss_mb"):
        assert figures[key] > 0, key
    assert "load speed / COPY speed" in result.stdout


def test_transform_benchmark_runs_and_reports(tmp_path, airflow_db):
    env = {**os.environ, "PYTHONPATH": str(settings.PROJECT_ROOT), "LIFTOFF_BENCH_RESULTS": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.transform", "--sales", "3000", "--days", "3"],
        capture_output=True, text=True, env=env, cwd=settings.PROJECT_ROOT, timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    figures = json.loads((tmp_path / "transform.json").read_text())
    assert figures["history_sales"] > 0
    assert figures["day_sales"] > 0
    timed = ("full_build_s", "incremental_day_s", "plain_day_rerun_s", "cosmos_dbt_group_s", "cosmos_dag_s")
    for key in timed:
        assert figures[key] > 0, key
    assert set(figures["parse_s"]) == {path.name for path in settings.DAGS_FOLDER.glob("*.py")}
    assert "of the full build" in result.stdout
