"""A distributed Airflow for tests: the CeleryExecutor, a real Redis broker and Celery workers that
each run on a "machine" of their own.

What it starts, each in a process group of its own on free loopback ports, and stops (all of it,
whatever happened) when the `airflow_cluster` context ends:

- Redis (Debian's `redis-server`, no persistence) as the Celery broker;
- the control plane, as `make up` runs it (`liftoff.devstack.stack.AIRFLOW_COMPONENTS`): api-server,
  scheduler, dag-processor, triggerer, on a copy of the project of their own;
- `workers` Celery workers (`airflow celery worker`, WORKER_CONCURRENCY task processes each).

A machine is emulated by a folder: its own copy of what the image carries (dags/, plugins/,
include/ with the dbt manifest, the liftoff package), its own AIRFLOW_HOME, state folder
(LIFTOFF_STATE_DIR), temporary folder, Cosmos cache, working directory and DAG bundle path
(`[dag_processor] dag_bundle_config_list`, same bundle name, another path), with LIFTOFF_PROJECT_ROOT
and PYTHONPATH on its copy. Nothing on one machine's disk is visible to another through the project's
code: what a task needs from another task must travel through XCom, the warehouse or the landing
zone (the caller points LIFTOFF_LAKE_URL at shared object storage).

What every component shares, as on Astro: the metadata database (also Celery's result backend), the
broker, the Fernet key, the JWT secret the api-server signs task tokens with, and the environment the
caller gives (connections, lake URL, secrets).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from liftoff import settings
from liftoff.devstack import stack
from liftoff.devstack.loopback import free_port

AIRFLOW = str(Path(sys.executable).parent / "airflow")
REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"
BUNDLE_NAME = "dags-folder"  # Airflow's default bundle name: runs record it, every machine must agree
WORKER_CONCURRENCY = 3  # 6 task processes in all: what the LocalExecutor test found best on 2 cores
# What an image of the project carries (Dockerfile: COPY . ; the dbt manifest built at build time).
IMAGE_CONTENT = ("dags", "plugins", "include", "liftoff", "airflow_settings.yaml")
NOT_IN_IMAGE = shutil.ignore_patterns(
    "__pycache__", "target-*", "dbt_packages", "logs", "partial_parse.msgpack"
)


@dataclass
class Machine:
    """One emulated host: a folder with its own copy of the project and its own local state."""

    name: str
    root: Path

    @property
    def project(self) -> Path:
        return self.root / "project"

    def install(self) -> None:
        """Copy the project as the image has it (the dbt manifest included, built ahead of time)."""
        self.project.mkdir(parents=True)
        for item in IMAGE_CONTENT:
            source = settings.PROJECT_ROOT / item
            if source.is_dir():
                shutil.copytree(source, self.project / item, ignore=NOT_IN_IMAGE)
            else:
                shutil.copy2(source, self.project / item)
        for folder in ("home", "state", "tmp", "cosmos-cache", "logs"):
            (self.root / folder).mkdir()

    def environment(self) -> dict[str, str]:
        dags = self.project / "dags"
        bundle = {"name": BUNDLE_NAME, "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle"}
        bundle["kwargs"] = {"path": str(dags)}
        return {
            "LIFTOFF_PROJECT_ROOT": str(self.project),
            # The machine's copy first; then whatever the environment adds.
            "PYTHONPATH": os.pathsep.join(filter(None, (str(self.project), os.environ.get("PYTHONPATH")))),
            "AIRFLOW_HOME": str(self.root / "home"),
            "LIFTOFF_STATE_DIR": str(self.root / "state"),
            "TMPDIR": str(self.root / "tmp"),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(self.project / "plugins"),
            "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": json.dumps([bundle]),
            "AIRFLOW__COSMOS__CACHE_DIR": str(self.root / "cosmos-cache"),
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.root / "logs"),
        }


@dataclass
class Process:
    name: str
    popen: subprocess.Popen
    log: Path

    def stop(self) -> None:
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=45)
        # The group, not just the leader: a worker's task processes and Celery's pool children.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=10)


@dataclass
class AirflowCluster:
    env: dict[str, str]
    metadata_url: str  # libpq URL of the metadata database
    root: Path
    control: Machine
    workers: list[Machine]
    processes: list[Process] = field(default_factory=list)

    def start(self, name: str, command: list[str], machine: Machine | None, extra: dict[str, str]) -> None:
        env = {**self.env, **(machine.environment() if machine else {}), **extra}
        log = self.root / f"{name}.log"
        popen = subprocess.Popen(
            command,
            env=env,
            cwd=machine.project if machine else self.root,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a group of its own: stopped with every child it started
        )
        self.processes.append(Process(name, popen, log))

    def stop(self) -> None:
        for process in reversed(self.processes):  # workers and scheduler first, the broker last
            process.stop()

    def check_running(self) -> None:
        """Fail with the log's tail when a component died."""
        for process in self.processes:
            if process.popen.poll() is not None:
                tail = process.log.read_text(errors="replace")[-3000:]
                raise AssertionError(f"{process.name} exited ({process.popen.returncode}):\n{tail}")

    def cli(self, *args: str) -> str:
        """`airflow ARGS` as an operator runs it from the control machine."""
        env = {**self.env, **self.control.environment()}
        done = subprocess.run([AIRFLOW, *args], env=env, capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, f"airflow {' '.join(args)}: {done.stderr[-2000:]}"
        return done.stdout

    def metadata(self, query: str, *params) -> list[tuple]:
        with psycopg.connect(self.metadata_url) as conn:
            return conn.execute(query, params).fetchall()

    def wait_for(
        self, condition: Callable[[], bool], what: str, timeout_s: float, describe=lambda: ""
    ) -> None:
        deadline = time.monotonic() + timeout_s
        while not condition():
            self.check_running()
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}\n{describe()}")
            time.sleep(3)

    def tasks_run_by(self, machine: Machine) -> set[str]:
        """The task ids a worker ran: their logs are on its disk only (dag_id=…/run_id=…/task_id=…)."""
        return {path.name.removeprefix("task_id=") for path in (machine.root / "logs").rglob("task_id=*")}

    def worker_logs(self) -> str:
        return ", ".join(str(machine.root / "logs") for machine in self.workers)


def _wait_for_port(port: int, what: str, cluster: AirflowCluster, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        cluster.check_running()
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not open port {port} within {timeout_s:.0f} s")
        time.sleep(0.5)


@contextlib.contextmanager
def airflow_cluster(
    root: Path, metadata_url: str, env: dict[str, str], workers: int = 2
) -> Iterator[AirflowCluster]:
    """Redis, the Airflow control plane and `workers` Celery workers, each worker on a machine of
    its own (see the module's docstring); `env` is what every component shares (connections, the
    lake URL, secrets). Everything is stopped when the context ends."""
    from liftoff.devstack.airflow_setup import prepare_airflow

    api_port, redis_port = free_port(), free_port()
    sqlalchemy_url = metadata_url.replace("postgresql://", "postgresql+psycopg2://", 1)
    shared = stack.with_venv_on_path(
        {
            **env,
            stack.METADATA_ENV: sqlalchemy_url,
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:{redis_port}/0",
            "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{sqlalchemy_url}",
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(WORKER_CONCURRENCY),
            "AIRFLOW__API__PORT": str(api_port),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": stack.execution_api_url(api_port),
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "AIRFLOW__CORE__PARALLELISM": str(WORKER_CONCURRENCY * workers),
            # The workers' log servers (skipped below) and the triggerer's: none on a fixed port.
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
        }
    )
    root.mkdir(parents=True, exist_ok=True)
    control = Machine("control", root / "control")
    machines = [Machine(f"worker{n}", root / f"worker{n}") for n in range(1, workers + 1)]
    for machine in (control, *machines):
        machine.install()
    cluster = AirflowCluster(shared, metadata_url, root, control, machines)
    try:
        (root / "redis").mkdir()
        cluster.start(
            "redis",
            [
                REDIS, "--bind", "127.0.0.1", "--port", str(redis_port), "--save", "",
                "--appendonly", "no", "--dir", str(root / "redis"),
            ],
            None,
            {},
        )  # fmt: skip
        _wait_for_port(redis_port, "redis-server", cluster, 30)
        prepare_airflow({**shared, **control.environment()})  # migrate, apply airflow_settings.yaml
        for name, arguments in stack.AIRFLOW_COMPONENTS.items():
            cluster.start(name, [AIRFLOW, *arguments], control, {})
        for machine in machines:
            cluster.start(
                machine.name,
                [
                    AIRFLOW, "celery", "worker", "--celery-hostname", f"{machine.name}@%h",
                    "--concurrency", str(WORKER_CONCURRENCY), "--skip-serve-logs",
                ],
                machine,
                {},
            )  # fmt: skip
        _wait_for_port(api_port, "the api-server", cluster, 180)
        yield cluster
    finally:
        cluster.stop()
