"""A day's run is addressed by its date, through Airflow's own CLI and REST API (issue 16).

The real `airflow` commands and a real `airflow api-server`, on a metadata database of this module
(runs it creates cannot meet other tests' runs), with the DAGs serialized by `airflow dags
reserialize` (so the scheduler's view of the timetable, rebuilt through the plugin, is what
answers). Each run then processes its day for real: `airflow tasks test` runs the run's
`embedded.land_suppliers` task, which lands the simulator's suppliers under `dt=<logical day>`.

Under the former cron schedule (logical date D 01:00 in Brasília), the backfill below created no
run for its last day, and the triggers processed 2026-11-27.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from liftoff.devstack import stack
from liftoff.devstack.loopback import free_port
from liftoff.ingest.sources import SIMULATOR_ENV, simulator_variable
from liftoff.orchestration import day_of, logical_date_of
from tests.warehouses import scratch_database

pytestmark = pytest.mark.services

AIRFLOW = str(Path(sys.executable).parent / "airflow")
DAG_ID = "ingest_crm"
DAY = date(2026, 11, 28)


class Airflow:
    """The `airflow` CLI and REST API on this module's metadata database."""

    def __init__(self, env: dict[str, str], metadata_url: str) -> None:
        self.env = env
        self.metadata_url = metadata_url
        self.api_url = ""
        self.token = ""

    def cli(self, *args: str, env: dict[str, str] | None = None) -> str:
        done = subprocess.run(
            [AIRFLOW, *args], env=env or self.env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, (
            f"airflow {' '.join(args)}:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
        )
        return done.stdout

    def runs(self) -> list[tuple[str, str, datetime]]:
        """(run_id, run_type, logical_date) of the DAG's runs, oldest first."""
        with psycopg.connect(self.metadata_url) as conn:
            return conn.execute(
                "select run_id, run_type, logical_date from dag_run where dag_id = %s order by logical_date",
                (DAG_ID,),
            ).fetchall()

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        request = urllib.request.Request(  # noqa: S310 (our own server, http)
            self.api_url + path,
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.token}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 (our server)
                raw = response.read()
                return response.status, json.loads(raw) if raw else {}
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")

    def land_suppliers(self, run_id: str, lake: str) -> set[str]:
        """Run the run's `embedded.land_suppliers` task; the days it landed (`dt=` folders)."""
        self.cli(
            "tasks",
            "test",
            DAG_ID,
            "embedded.land_suppliers",
            run_id,
            env={**self.env, "LIFTOFF_LAKE_URL": lake},
        )
        folder = Path(lake.removeprefix("file://")) / "raw" / "suppliers"
        return {path.name.removeprefix("dt=") for path in folder.iterdir()} if folder.exists() else set()


@pytest.fixture(scope="module")
def airflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Airflow]:
    from liftoff.devstack.airflow_setup import prepare_airflow

    home = tmp_path_factory.mktemp("airflow")
    with scratch_database("airflow_days") as (_, metadata_url):
        env = {
            **os.environ,
            stack.METADATA_ENV: metadata_url.replace("postgresql://", "postgresql+psycopg2://", 1),
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "operator:admin",
            SIMULATOR_ENV: simulator_variable(sales_per_day=5),
        }
        prepare_airflow(env)
        handle = Airflow(env, metadata_url)
        handle.cli("dags", "reserialize")
        yield handle


@pytest.fixture(scope="module")
def api(airflow: Airflow, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Airflow]:
    """A real `airflow api-server` (REST API v2), logged in as the simple auth manager's user."""
    port = free_port()
    log = tmp_path_factory.mktemp("api-server") / "api-server.log"
    server = subprocess.Popen(
        [AIRFLOW, "api-server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        env=airflow.env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    airflow.api_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert server.poll() is None, f"api-server exited:\n{log.read_text(errors='replace')[-3000:]}"
            try:
                with urllib.request.urlopen(f"{airflow.api_url}/api/v2/monitor/health", timeout=5):  # noqa: S310
                    break
            except OSError:
                assert time.monotonic() < deadline, (
                    f"api-server not up:\n{log.read_text(errors='replace')[-3000:]}"
                )
                time.sleep(2)
        passwords = json.loads(
            (Path(airflow.env["AIRFLOW_HOME"]) / "simple_auth_manager_passwords.json.generated").read_text()
        )
        status, body = airflow.request(
            "POST", "/auth/token", {"username": "operator", "password": passwords["operator"]}
        )
        assert status in (200, 201), body
        airflow.token = body["access_token"]
        yield airflow
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def test_a_backfill_from_x_to_y_runs_every_day_from_x_to_y_included(airflow, lake):
    first, last = date(2026, 11, 20), date(2026, 11, 22)
    airflow.cli(
        "backfill", "create", "--dag-id", DAG_ID,
        "--from-date", first.isoformat(), "--to-date", last.isoformat(),
    )  # fmt: skip
    backfilled = [(run_id, logical) for run_id, run_type, logical in airflow.runs() if run_type == "backfill"]
    days = [first + timedelta(days=n) for n in range(3)]
    assert [logical for _, logical in backfilled] == [logical_date_of(day) for day in days]
    assert [day_of(logical) for _, logical in backfilled] == days
    # The last day, which the cron schedule dropped, is processed as itself.
    assert airflow.land_suppliers(backfilled[-1][0], lake) == {last.isoformat()}


@pytest.mark.parametrize("how", ["cli", "rest"])
def test_a_run_triggered_for_a_date_processes_that_date(api, lake, how):
    before = {run_id for run_id, _, _ in api.runs()}
    if how == "cli":
        api.cli("dags", "trigger", DAG_ID, "--logical-date", DAY.isoformat())
    else:
        status, body = api.request(
            "POST", f"/api/v2/dags/{DAG_ID}/dagRuns", {"logical_date": f"{DAY.isoformat()}T00:00:00Z"}
        )
        assert status == 200, body
    [(run_id, logical)] = [(run_id, logical) for run_id, _, logical in api.runs() if run_id not in before]
    try:
        assert logical == datetime(2026, 11, 28, tzinfo=UTC)
        assert api.land_suppliers(run_id, lake) == {"2026-11-28"}
    finally:  # the same day again for the other path: the REST API deletes the run
        status, body = api.request("DELETE", f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}")
        assert status == 204, body
