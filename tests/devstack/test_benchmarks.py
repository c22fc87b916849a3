"""Smoke test of `make bench` at a small size: the benchmark runs end to end and reports every
figure. (Speed is never asserted in tests: it is measured by `make bench`, as ratios.)"""

from __future__ import annotations

import pytest

from liftoff import settings
from tests.benchmark_runs import run_benchmark

# Needs the benchmarks against the embedded Postgres: not in `make test-fast`.
pytestmark = pytest.mark.services


def test_ingest_benchmark_runs_and_reports(tmp_path):
    figures, stdout = run_benchmark(tmp_path, "ingest", "--sales", "5000")
    assert figures["rows"] == 5000
    assert figures["records_in"] == 5000
    for key in ("simulate_rows_per_s", "load_rows_per_s", "copy_rows_per_s", "load_vs_copy", "peak_rss_mb"):
        assert figures[key] > 0, key
    assert "load speed / COPY speed" in stdout
    assert figures["peak_vs_memory_aim"] == pytest.approx(figures["peak_rss_mb"] / figures["memory_aim_mb"])
    assert "peak memory / aim" in stdout

    from benchmarks.suite import rows

    reported = [row for row in rows({"ingest": figures}, []) if row[0] == "2"]
    assert [row[3] for row in reported] == ["≥ 0.5", "≤ 1,536 MB (a 10M-row day too)"]
    assert f"{figures['load_vs_copy']:.2f}" in reported[0][2]
    assert f"= {figures['peak_vs_memory_aim']:.2f} of the aim" in reported[1][2]
    assert all(row[4] in ("yes", "**no**") for row in reported)


def test_crm_api_benchmark_measures_the_api_and_its_reference_and_the_suite_reports_the_ratio(tmp_path):
    figures, stdout = run_benchmark(tmp_path, "crm_api", "--seconds", "1", "--clients", "2")
    for operation in ("write", "read"):
        api, reference = figures[f"api_{operation}"], figures[f"reference_{operation}"]
        assert api["per_s"] > 0, operation
        assert reference["per_s"] > 0, operation
        assert 0 < api["p50_ms"] <= api["p99_ms"], operation
        assert figures[f"{operation}_ratio"] == pytest.approx(api["per_s"] / reference["per_s"])
    assert "POST /sales" in stdout
    assert "GET /sales/{key}" in stdout

    from benchmarks.suite import rows

    reported = [row for row in rows({"crm_api": figures}, []) if row[0] == "8"]
    assert [row[3] for row in reported] == ["≥ 0.5", "≥ 0.5"]
    for operation, row in zip(("write", "read"), reported, strict=True):
        assert f"= {figures[f'{operation}_ratio']:.2f}" in row[2]


def test_crm_extract_benchmark_measures_the_connector_against_the_hand_written_extraction(tmp_path):
    # 20,000 records (40 pages): at this size the runner once hung after writing its answer (a
    # connector thread PyAirbyte left reading); the run must end, within the timeout.
    figures, stdout = run_benchmark(tmp_path, "crm_extract", "--records", "20000", timeout=300)
    assert figures["records"] == 20000
    for key in ("hand_written_per_s", "connector_per_s", "connector_fixed_seconds"):
        assert figures[key] > 0, key
    assert figures["ratio"] == pytest.approx(figures["connector_per_s"] / figures["hand_written_per_s"])
    assert "connector records/s / hand-written records/s" in stdout


def test_transform_benchmark_runs_and_reports(tmp_path, airflow_db):
    figures, stdout = run_benchmark(tmp_path, "transform", "--sales", "3000", "--days", "3", timeout=900)
    assert figures["history_sales"] > 0
    assert figures["day_sales"] > 0
    timed = (
        "full_build_s", "incremental_day_s", "plain_day_rerun_s", "cosmos_dbt_group_s", "cosmos_dag_s",
        "scheduler_run_s",
    )  # fmt: skip
    for key in timed:
        assert figures[key] > 0, key
    assert set(figures["parse_s"]) == {path.name for path in settings.DAGS_FOLDER.glob("*.py")}
    assert "of the full build" in stdout
    # Under the real scheduler: every rendered task ran (one per model, its tests included, the
    # producer, the window, publishing; no test task), and the ratio is against the same plain build.
    assert 30 < figures["scheduler_tasks"] < 40
    assert figures["scheduler_vs_plain"] == pytest.approx(
        figures["scheduler_run_s"] / figures["plain_day_rerun_s"]
    )
    # The run's profile: its parts add up to the run; the last chain after the build is tasks of the DAG.
    profile, timeline = figures["scheduler_profile"], figures["scheduler_timeline"]
    assert len(timeline) == figures["scheduler_tasks"]
    parts = profile["before_producer_s"] + profile["producer_s"] + profile["after_producer_s"]
    assert parts == pytest.approx(max(t["end"] for t in timeline.values()), abs=0.01)
    assert profile["producer_s"] == pytest.approx(figures["scheduler_producer_s"], abs=0.5)
    assert 0 < profile["chain_tasks_after_producer"] < figures["scheduler_tasks"]
    assert "after it, along the last chain of" in stdout
    assert "under the scheduler" in stdout
    # The timed run is the second (the first warmed Airflow up); `gold` is out before the run ends.
    assert figures["scheduler_first_run_s"] > 0
    assert 0 < figures["scheduler_gold_s"] < figures["scheduler_run_s"]
    assert f"{figures['scheduler_gold_s']:.1f} s / {figures['scheduler_first_run_s']:.1f} s" in stdout


def test_pipeline_benchmark_runs_every_stage_and_draws_the_chart(tmp_path):
    """A tiny pipeline run (2k sales over a week): every stage ran and took time, every figure is
    in the JSON and the Markdown, and the chart is a real PNG."""
    from benchmarks.pipeline import STAGES

    figures, stdout = run_benchmark(
        tmp_path, "pipeline", "--sizes", "2000", "--days", "7", "--batch-size", "100", timeout=300
    )
    (run,) = figures["runs"]
    assert 1500 < run["sales"] < 2500
    assert run["records_in"] > run["sales"]  # the dimensions were loaded too
    assert set(run["seconds"]) == set(run["peak_mb"]) == set(run["load_1min"]) == set(STAGES)
    for stage in STAGES:
        assert run["seconds"][stage] > 0, stage
        assert run["peak_mb"][stage] > 0, stage
    assert run["audience"] > 0
    assert run["emails_sent"] == run["emails_received"] == run["audience"]
    assert 0 < run["llm_calls"] <= run["segments"]
    assert set(figures["linearity"]["growth"]) == {*STAGES, "total"}
    markdown = (tmp_path / "pipeline.md").read_text()
    for stage in STAGES:
        assert f"| {stage} |" in markdown
    assert "load average (1 min) as each stage ended: simulate " in markdown
    assert (tmp_path / "stages.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| total |" in stdout
