"""Smoke test of `make bench` at a small size: the benchmark runs end to end and reports every
figure. (Speed is never asserted in tests: it is measured by `make bench`, as ratios.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from liftoff import settings


def test_ingest_benchmark_runs_and_reports(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(settings.PROJECT_ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.ingest", "--sales", "5000"],
        capture_output=True, text=True, env=env, cwd=settings.PROJECT_ROOT, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    figures = json.loads((settings.PROJECT_ROOT / "bench-results" / "ingest.json").read_text())
    assert figures["rows"] == 5000
    assert figures["records_in"] == 5000
    for key in ("simulate_rows_per_s", "load_rows_per_s", "copy_rows_per_s", "load_vs_copy", "peak_rss_mb"):
        assert figures[key] > 0, key
    assert "load speed / COPY speed" in result.stdout
