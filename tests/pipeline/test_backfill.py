"""Backfill under a real scheduler: `airflow backfill create` of the ingest DAG, with the transform
following its Asset events, leaves the warehouse exactly as one transform run over the same days.

Airflow runs for real here: `airflow standalone` (api-server, scheduler, dag-processor, triggerer,
LocalExecutor) on a metadata database of its own, so runs of other tests cannot leak in, with the
warehouse connection and landing zone of this test. The transform is asset-scheduled, so Airflow
does not backfill it: a user backfills `ingest_crm` and the transform runs on the raw Assets the
backfill runs emit, as many times as the scheduler decides (it may fold several days' events into
one run; `logical_window` then covers all of them).

Un-pausing `ingest_crm` also makes the scheduler create its latest scheduled run; the backfill
ends on that same logical date, so the scheduler finds the run already there and adds none.

The quality gate and the campaign follow too (issue 14: a backfill of old days must not send a
campaign about each old day): with a real SMTP server configured, every campaign run whose data
day is older than the latest complete day (Brasília, at the run's start) records
`skipped: stale day` and sends nothing; a hand-run for a day a week old is one of them.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest

from liftoff.devstack import stack
from liftoff.ingest.simulator import SimulatorConfig
from liftoff.ingest.sources import SIMULATOR_ENV, simulator_variable
from liftoff.orchestration import START_DATE, TIMEZONE, day_of
from tests.services.smtp_server import smtp_server
from tests.snapshots import audience_of, snapshot, without_campaign_outcomes
from tests.warehouses import dbt_build, scratch_database, simulate_days

DAYS = 2
SIMULATOR = {"sales_per_day": 80, "dirty_rate": 0.02}  # the liftoff_simulator Variable (env)
RUN_CONF = {"full_refresh": True}
AIRFLOW = str(Path(sys.executable).parent / "airflow")
TERMINAL = ("success", "failed")


FOLLOWERS = ("transform_warehouse", "quality_gate", "cross_sell_campaign")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def latest_scheduled_logical_date() -> datetime:
    """The logical date the scheduler gives `ingest_crm`'s run when it is un-paused (no catchup):
    asked of the DAG's own timetable, which reads the wall clock."""
    from airflow.timetables.base import TimeRestriction

    from liftoff.orchestration.timetables import BusinessDayTimetable

    timetable = BusinessDayTimetable(timezone=TIMEZONE)
    earliest = START_DATE.replace(tzinfo=UTC)
    info = timetable.next_dagrun_info(
        last_automated_data_interval=None,
        restriction=TimeRestriction(earliest=earliest, latest=None, catchup=False),
    )
    assert info is not None
    return info.logical_date


class Standalone:
    """`airflow standalone` in its own process group, on a metadata database of its own."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        from liftoff.devstack.airflow_setup import prepare_airflow

        prepare_airflow(self.env)  # migrate and apply airflow_settings.yaml (the load pool)
        self.process = subprocess.Popen(
            [AIRFLOW, "standalone"],
            env=self.env,
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def cli(self, *args: str) -> str:
        done = subprocess.run([AIRFLOW, *args], env=self.env, capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, f"airflow {' '.join(args)}: {done.stderr[-2000:]}"
        return done.stdout

    def running(self) -> None:
        assert self.process is not None
        if self.process.poll() is not None:
            tail = self.log.read_text(errors="replace")[-3000:]
            pytest.fail(f"airflow standalone exited ({self.process.returncode}):\n{tail}")


def wait_for(condition, what: str, standalone: Standalone, timeout_s: float, describe=lambda: "") -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        standalone.running()
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s:.0f} s waiting for {what}\n{describe()}")
        time.sleep(3)


@pytest.mark.slow
@pytest.mark.timeout(2400)
def test_a_backfill_of_the_ingest_dag_equals_one_transform_run_over_the_range(warehouse, lake, tmp_path):
    last_logical = latest_scheduled_logical_date()
    first_logical = last_logical - timedelta(days=DAYS - 1)
    first_day, last_day = day_of(first_logical), day_of(last_logical)

    api_port = free_port()
    with scratch_database("airflow_backfill") as (_, metadata_url), smtp_server() as inbox:
        env = {
            **os.environ,
            "AIRFLOW_CONN_SMTP_DEFAULT": inbox.connection_json(),
            "LIFTOFF_UNSUBSCRIBE_SECRET": "backfill-test-secret",
            SIMULATOR_ENV: simulator_variable(**SIMULATOR),
            stack.METADATA_ENV: metadata_url.replace("postgresql://", "postgresql+psycopg2://", 1),
            "AIRFLOW_HOME": str(tmp_path / "airflow"),
            "AIRFLOW__API__PORT": str(api_port),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": stack.execution_api_url(api_port),
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            # Two cores: a few task processes at a time finish sooner than dozens competing.
            "AIRFLOW__CORE__PARALLELISM": "6",
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(tmp_path / "airflow" / "logs"),
            "PATH": os.pathsep.join((str(Path(sys.executable).parent), os.environ.get("PATH", ""))),
        }
        standalone = Standalone(env, tmp_path / "standalone.log")

        def metadata(query: str, *params):
            with psycopg.connect(metadata_url) as conn:
                return conn.execute(query, params).fetchall()

        def runs(dag_id: str) -> list[tuple[str, str]]:
            return metadata("select run_type, state from dag_run where dag_id = %s", dag_id)

        def describe() -> str:
            rows = metadata("select dag_id, run_id, state from dag_run order by dag_id, run_id") + metadata(
                "select dag_id, task_id, run_id, state from task_instance"
                " where state not in ('success', 'skipped') order by 1, 3, 2"
            )
            return "\n".join(map(str, rows)) + f"\nlogs: {tmp_path / 'airflow' / 'logs'}"

        try:
            standalone.start()
            wanted = {"ingest_crm", "transform_warehouse", "quality_gate", "cross_sell_campaign"}
            wait_for(
                lambda: wanted <= {dag_id for (dag_id,) in metadata("select dag_id from serialized_dag")},
                "the dag-processor to parse the DAGs",
                standalone,
                240,
            )
            standalone.cli(
                "backfill", "create", "--dag-id", "ingest_crm",
                # The days as a user writes them, both included.
                "--from-date", first_day.isoformat(), "--to-date", last_day.isoformat(),
                "--max-active-runs", "1", "--dag-run-conf", json.dumps(RUN_CONF),
            )  # fmt: skip
            # One call un-pauses them all, so each follower listens before its Asset is emitted.
            standalone.cli(
                "dags", "unpause", "--treat-dag-id-as-regex", "--yes",
                "^(ingest_crm|transform_warehouse|quality_gate|cross_sell_campaign)$",
            )  # fmt: skip

            def settled() -> bool:
                ingest = runs("ingest_crm")
                followers = [runs(dag_id) for dag_id in FOLLOWERS]
                queued = metadata(
                    "select count(*) from asset_dag_run_queue where target_dag_id = any(%s)", list(FOLLOWERS)
                )[0][0]
                return (
                    len(ingest) == DAYS
                    and all(state in TERMINAL for _, state in ingest)
                    and queued == 0
                    and all(bool(follower) for follower in followers)
                    and all(state in TERMINAL for follower in followers for _, state in follower)
                )

            wait_for(settled, "the backfill and the transform runs it triggers", standalone, 2000, describe)
            # The backfilled days end on the latest scheduled one, so they are fresh (yesterday and
            # today in Brasília): a hand-run of the campaign for a day a week older is the stale
            # case, under the same scheduler (issue 14: 2026-11-29 run by hand after 11-30's).
            standalone.cli(
                "dags", "trigger", "cross_sell_campaign",
                "--logical-date", (first_day - timedelta(days=7)).isoformat(),
            )  # fmt: skip
            wait_for(
                lambda: all(state in TERMINAL for _, state in runs("cross_sell_campaign")),
                "the hand-run campaign for the older day",
                standalone,
                600,
                describe,
            )
        finally:
            standalone.stop()

        ingest, transform = runs("ingest_crm"), runs("transform_warehouse")
        assert sorted(ingest) == [("backfill", "success")] * DAYS, describe()
        assert {state for _, state in transform} == {"success"}, describe()
        assert {state for _, state in runs("quality_gate")} == {"success"}, describe()
        assert {state for _, state in runs("cross_sell_campaign")} == {"success"}, describe()
        started_at = metadata("select min(start_date) from dag_run where dag_id = 'cross_sell_campaign'")[0][
            0
        ]
        assert {run_type for run_type, _ in transform} == {"asset_triggered"}
        # Together, the transform runs' windows cover every backfilled day.
        windows = [
            value if isinstance(value, dict) else json.loads(value)
            for (value,) in metadata(
                "select value from xcom where dag_id = 'transform_warehouse'"
                " and task_id = 'resolve_window' and key = 'return_value'"
            )
        ]
        covered = {
            date.fromordinal(ordinal)
            for window in windows
            for ordinal in range(
                date.fromisoformat(window["since_date"]).toordinal(),
                date.fromisoformat(window["logical_date"]).toordinal() + 1,
            )
        }
        assert covered == {first_day + timedelta(days=n) for n in range(DAYS)}, f"{windows}\n{describe()}"

    with psycopg.connect(warehouse) as conn:
        days = conn.execute("select min(sale_date), max(sale_date) from silver.sales").fetchone()
        campaigns = conn.execute(
            "select campaigns.campaign_id, campaigns.logical_date, campaigns.status,"
            " count(send_log.customer_id) filter (where send_log.status = 'sent')"
            " from campaign.campaigns left join campaign.send_log using (campaign_id)"
            " group by 1, 2, 3 order by 2"
        ).fetchall()
    assert days == (first_day, last_day)
    # Only the latest complete day (Brasília) at the campaign's start may be sent about.
    latest_complete = started_at.astimezone(ZoneInfo(TIMEZONE)).date() - timedelta(days=1)
    assert campaigns, "no campaign ran after the backfill"
    stale = [c for c in campaigns if c[1] < latest_complete]
    assert first_day - timedelta(days=7) in {day for _, day, _, _ in stale}, campaigns
    assert all(status == "skipped: stale day" and sent == 0 for _, _, status, sent in stale), campaigns
    fresh_ids = {campaign_id for campaign_id, day, _, _ in campaigns if day >= latest_complete}
    # Every message that went out (if any) belongs to a fresh day's campaign.
    assert all(
        m["Message-ID"].strip("<>").split("@")[0].rsplit(".", 2)[0] in fresh_ids for m in inbox.messages()
    ), campaigns

    # The reference: the same days loaded directly, then one dbt build over the whole range.
    with scratch_database("wh_reference") as (_, reference):
        config = SimulatorConfig(seed=42, **SIMULATOR)
        # The same landing zone: landing rewrites identical files, and quarantine rows name them.
        simulate_days(reference, lake, first_day, last_day, config, full_refresh_every_day=True)
        dbt_build(reference, first_day, last_day)
        expected = without_campaign_outcomes(snapshot(reference))
        expected_audience = audience_of(reference, last_day)

    assert audience_of(warehouse, last_day) == expected_audience

    assert without_campaign_outcomes(snapshot(warehouse)) == expected
