"""Airflow as `make up` runs it, for a benchmark: a DAG run triggered through the REST API, timed.

The api-server, the scheduler (LocalExecutor: every task a process of its own, as users run the
DAGs) and the dag-processor start on the current environment (the benchmark's stack: `make bench`
runs inside it) plus `overrides`, on a free port, with new DAGs paused: only the DAG a benchmark
un-pauses runs. They stop when the block ends.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from liftoff.devstack.loopback import free_port

COMPONENTS = {
    "api-server": ["api-server"],
    "scheduler": ["scheduler", "--skip-serve-logs"],
    "dag-processor": ["dag-processor"],
}
TERMINAL = ("success", "failed")


@dataclass
class Airflow:
    url: str
    logs: Path
    token: str = field(default="", repr=False)

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.url}{path}", data=data, method=method)  # noqa: S310 (loopback)
        request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")

    def timed_run(self, dag_id: str, logical_date: datetime, timeout_s: float = 3600) -> dict:
        """Un-pause `dag_id`, trigger it for `logical_date`, wait for its end: the run's own span
        (first task's start to the run's end, as the metadata records them) and the wall time
        from the trigger, in seconds. SystemExit if it fails."""
        deadline = time.monotonic() + 300
        while self.request("GET", f"/api/v2/dags/{dag_id}")[0] != 200:  # parsed by the dag-processor
            if time.monotonic() > deadline:
                raise SystemExit(f"benchmark: {dag_id} was never parsed (logs: {self.logs})")
            time.sleep(1)
        status, body = self.request("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})
        assert status == 200, body
        # A run for the same logical date (a `dag.test` of it, an earlier benchmark) is replaced.
        moment = urllib.parse.quote(logical_date.isoformat())
        status, body = self.request(
            "GET", f"/api/v2/dags/{dag_id}/dagRuns?logical_date_gte={moment}&logical_date_lte={moment}"
        )
        assert status == 200, body
        for earlier in body["dag_runs"]:
            status, body = self.request("DELETE", f"/api/v2/dags/{dag_id}/dagRuns/{earlier['dag_run_id']}")
            assert status == 204, body
        triggered = time.monotonic()
        status, body = self.request(
            "POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": logical_date.isoformat()}
        )
        assert status == 200, body
        run_id = body["dag_run_id"]
        deadline = triggered + timeout_s
        while True:
            status, run = self.request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")
            if run.get("state") in TERMINAL:
                break
            if time.monotonic() > deadline:
                raise SystemExit(
                    f"benchmark: {dag_id} run {run_id} still {run.get('state')} after {timeout_s} s"
                )
            time.sleep(1)
        wall = time.monotonic() - triggered
        if run["state"] != "success":
            raise SystemExit(f"benchmark: {dag_id} run {run_id} ended {run['state']} (logs: {self.logs})")
        span = datetime.fromisoformat(run["end_date"]) - datetime.fromisoformat(run["start_date"])
        status, body = self.request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances?limit=1000")
        assert status == 200, body
        durations = {ti["task_id"]: ti["duration"] or 0.0 for ti in body["task_instances"]}
        timeline = self._timeline(dag_id, body["task_instances"], datetime.fromisoformat(run["start_date"]))
        # Gone once timed: a later `dag.test` of the same logical date (the next size of `make
        # bench`) could not create its own run beside it.
        status, body = self.request("DELETE", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")
        assert status == 204, body
        return {
            "run_s": span.total_seconds(), "wall_s": wall, "tasks": len(durations), "task_s": durations,
            "timeline": timeline,
        }  # fmt: skip

    def _timeline(self, dag_id: str, instances: list[dict], run_start: datetime) -> dict[str, dict]:
        """Each task's queued, start and end moments in seconds from the run's start, with its
        upstream task ids: where a run's time goes between dbt's work and Airflow's."""
        status, body = self.request("GET", f"/api/v2/dags/{dag_id}/tasks")
        assert status == 200, body
        upstream: dict[str, list[str]] = {task["task_id"]: [] for task in body["tasks"]}
        for task in body["tasks"]:
            for child in task["downstream_task_ids"]:
                upstream.setdefault(child, []).append(task["task_id"])

        def offset(moment: str | None) -> float | None:
            return None if moment is None else (datetime.fromisoformat(moment) - run_start).total_seconds()

        return {
            ti["task_id"]: {
                "queued": offset(ti.get("queued_when")),
                "start": offset(ti["start_date"]),
                "end": offset(ti["end_date"]),
                "upstream": sorted(upstream.get(ti["task_id"], [])),
            }
            for ti in instances
        }


def run_profile(timeline: dict[str, dict], producer: str) -> dict:
    """Where a DAG run's time went around its dbt build (`producer`, the Cosmos watcher task):
    before it started, the build itself, and after it, split into the tasks' own run time along
    the longest chain of tasks and the waits between a task's upstream ending and its start
    (scheduler loop, queueing, process start)."""
    ran = {task: t for task, t in timeline.items() if t["start"] is not None and t["end"] is not None}
    end = max(t["end"] for t in ran.values())
    waits = {
        task: t["start"] - max((ran[u]["end"] for u in t["upstream"] if u in ran), default=0.0)
        for task, t in ran.items()
    }
    # The chain that ended last, walked back through the upstream that ended last each time.
    chain, task = [], max(ran, key=lambda name: ran[name]["end"])
    while task is not None:
        chain.append(task)
        before = [u for u in ran[task]["upstream"] if u in ran]
        task = max(before, key=lambda name: ran[name]["end"]) if before else None
    chain.reverse()
    after = chain[chain.index(producer) + 1 :] if producer in chain else chain
    return {
        "before_producer_s": ran[producer]["start"],
        "producer_s": ran[producer]["end"] - ran[producer]["start"],
        "after_producer_s": end - ran[producer]["end"],
        "chain_tasks_after_producer": len(after),
        "chain_run_s_after_producer": sum(ran[t]["end"] - ran[t]["start"] for t in after),
        "chain_wait_s_after_producer": sum(max(waits[t], 0.0) for t in after),
        "mean_wait_s": sum(max(w, 0.0) for w in waits.values()) / len(waits),
    }


@contextmanager
def airflow_running(overrides: dict[str, str]) -> Iterator[Airflow]:
    from liftoff.devstack import stack

    port = free_port()
    env = stack.with_venv_on_path(
        {
            **os.environ,
            **overrides,
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": stack.execution_api_url(port),
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        }
    )
    passwords = stack.airflow_login(env)
    logs = Path(tempfile.mkdtemp(prefix="liftoff-bench-airflow-"))
    airflow = str(Path(sys.executable).with_name("airflow"))
    processes = []
    try:
        for name, arguments in COMPONENTS.items():
            with (logs / f"{name}.log").open("w") as log:
                processes.append(
                    subprocess.Popen(
                        [airflow, *arguments],
                        env=env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
        api = Airflow(f"http://127.0.0.1:{port}", logs)
        deadline = time.monotonic() + 240
        while True:
            try:
                if api.request("GET", "/api/v2/monitor/health")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
                raise SystemExit(f"benchmark: Airflow did not start (logs: {logs})")
            time.sleep(1)
        user, password = next(iter(json.loads(passwords.read_text()).items()))
        status, body = api.request("POST", "/auth/token", {"username": user, "password": password})
        assert status in (200, 201), body
        api.token = body["access_token"]
        yield api
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
