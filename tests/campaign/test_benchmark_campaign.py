"""Smoke test of `make bench-campaign` at a small audience: it runs end to end and reports every
figure (speed is never asserted in tests; the benchmark measures it, as ratios)."""

from __future__ import annotations

import pytest

from tests.benchmark_runs import run_benchmark

# Needs the benchmark against the embedded Postgres and an SMTP server: not in `make test-fast`.
pytestmark = pytest.mark.services


def test_campaign_benchmark_runs_and_reports(tmp_path):
    # Its own results folder: a smoke run must not overwrite bench-results/ from a real one.
    figures, stdout = run_benchmark(tmp_path, "campaign", "--audience", "200", "--batch-size", "50")
    assert figures["audience"] == figures["emails_sent"] == figures["emails_received"] == 200
    assert figures["email_batches"] == figures["smtp_sessions"] == 4  # one SMTP session per batch
    assert 0 < figures["llm_calls"] <= figures["segments"]
    for key in ("emails_per_s", "bare_smtplib_per_s", "campaign_vs_bare", "campaign_s"):
        assert figures[key] > 0, key
    assert "campaign speed / bare loop speed" in stdout
    # Sent again by one process, then by two at once: every message each time, none twice.
    assert figures["send_1_processes_sent"] == figures["send_2_processes_sent"] == 200
    assert figures["parallel_messages_received"] == 400
    assert figures["parallel_send_speedup"] > 0
    assert "2 processes / one" in stdout
