"""The no-Docker development stack: embedded Postgres, Airflow and Streamlit as local processes.

`environment()` is the single place that turns the embedded defaults into the environment Airflow,
dbt and the tests read. Anything the user already set (a warehouse connection, a metadata database,
a lake URL) is kept: the embedded services only fill what is missing.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from liftoff import settings
from liftoff.devstack.errors import LocalStackError
from liftoff.devstack.postgres import EmbeddedPostgres, pid_alive, port_is_free
from liftoff.transform.dbt_docs import docs_projects_setting
from liftoff.transform.dbt_runner import profile_env

WAREHOUSE_DB = "warehouse"
AIRFLOW_DB = "airflow"
# The CRM's operational database (the data-entry API's), apart from the warehouse.
CRM_DB = "crm"
DEFAULT_PG_PORT = 55432
AIRFLOW_PORT = int(os.environ.get("LIFTOFF_AIRFLOW_PORT", "8080"))
STREAMLIT_PORT = int(os.environ.get("LIFTOFF_STREAMLIT_PORT", "8501"))
CRM_API_PORT = int(os.environ.get("LIFTOFF_CRM_API_PORT", "8090"))

WAREHOUSE_CONN_ENV = f"AIRFLOW_CONN_{settings.WAREHOUSE_CONN_ID.upper()}"
METADATA_ENV = "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"
CRM_CONN_ENV = f"AIRFLOW_CONN_{settings.CRM_CONN_ID.upper()}"

# Outbound calls a library makes on its own; all off so nothing phones home.
NO_TELEMETRY = {
    "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
    "AIRFLOW__USAGE_DATA_COLLECTION__ENABLED": "False",
    "SCARF_ANALYTICS": "false",
    "DO_NOT_TRACK": "1",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
    "GX_ANALYTICS_ENABLED": "False",
    "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
}
# Cosmos watcher mode: by default the dbt producer rewrites an Airflow Variable with every result
# it has published so far on each dbt event (quadratic; a third of the transform's run time here).
# Off, the results are saved once, when the producer fails, which is what a retry restores from.
COSMOS_SETTINGS = {"AIRFLOW__COSMOS__ENABLE_WATCHER_RELIABLE_RETRY": "False"}


def embedded_postgres() -> EmbeddedPostgres:
    port = int(os.environ.get("LIFTOFF_PG_PORT", DEFAULT_PG_PORT))
    return EmbeddedPostgres(root=settings.state_dir() / "postgres", port=port)


def needs_embedded_postgres(env: dict[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    return WAREHOUSE_CONN_ENV not in env or METADATA_ENV not in env


def start_postgres() -> EmbeddedPostgres:
    pg = embedded_postgres()
    pg.ensure_running()
    for database in (WAREHOUSE_DB, AIRFLOW_DB, CRM_DB):
        pg.ensure_database(database)
    return pg


def airflow_secrets() -> dict[str, str]:
    """Keys every local Airflow process must share, generated once per state folder.

    Left to Airflow, each process that finds no airflow.cfg invents its own Fernet key and JWT
    secret; a Variable written by one process then reads back as ciphertext in another.
    """
    import secrets as random_secrets

    path = settings.state_dir() / "airflow-secrets.json"
    if path.exists():
        return json.loads(path.read_text())
    from cryptography.fernet import Fernet

    values = {
        "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
        "AIRFLOW__API_AUTH__JWT_SECRET": random_secrets.token_urlsafe(32),
        "AIRFLOW__API__SECRET_KEY": random_secrets.token_urlsafe(32),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(json.dumps(values))
    return values


def execution_api_url(port: int) -> str:
    """Where task processes reach the api-server that `airflow standalone` serves on `port`."""
    return f"http://127.0.0.1:{port}/execution/"


def environment(start_services: bool = True) -> dict[str, str]:
    """The variables Airflow, dbt, Cosmos and the tests need, on top of the user's own."""
    state = settings.state_dir()
    env: dict[str, str] = {
        "AIRFLOW_HOME": str(state / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(settings.DAGS_FOLDER),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(settings.PROJECT_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__API__PORT": str(AIRFLOW_PORT),
        # Task processes report to the api-server's execution API; Airflow assumes port 8080.
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": execution_api_url(AIRFLOW_PORT),
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(state / "airflow" / "logs"),
        "LIFTOFF_LAKE_URL": settings.lake_url(),
        "AIRFLOW__COSMOS__DBT_DOCS_PROJECTS": docs_projects_setting(settings.lake_url()),
        **NO_TELEMETRY,
        **COSMOS_SETTINGS,
        **airflow_secrets(),
    }
    if start_services and needs_embedded_postgres():
        pg = start_postgres()
        password = pg.password()
        for conn_env, database in ((WAREHOUSE_CONN_ENV, WAREHOUSE_DB), (CRM_CONN_ENV, CRM_DB)):
            connection = {"conn_type": "postgres", "host": pg.host, "port": pg.port}
            connection |= {"login": "postgres", "password": password, "schema": database}
            env.setdefault(conn_env, json.dumps(connection))
        env[METADATA_ENV] = pg.url(AIRFLOW_DB).replace("postgresql://", "postgresql+psycopg2://", 1)
    # What the user set always wins.
    for key in (
        WAREHOUSE_CONN_ENV,
        CRM_CONN_ENV,
        METADATA_ENV,
        "LIFTOFF_LAKE_URL",
        "AIRFLOW_HOME",
        *airflow_secrets(),
    ):
        if key in os.environ:
            env[key] = os.environ[key]
    if WAREHOUSE_CONN_ENV in env:
        env.update(profile_env(warehouse_url(env)))
        env.update(_dashboard_env(env))
    return env


def _dashboard_env(env: dict[str, str]) -> dict[str, str]:
    """The read-only URL Streamlit connects with: the warehouse's, as the dashboard role."""
    from liftoff.apps.dashboard.role import URL_ENV, dashboard_url

    if URL_ENV in os.environ:
        return {URL_ENV: os.environ[URL_ENV]}
    return {URL_ENV: dashboard_url(warehouse_url(env))}


def prepare_crm_database(env: dict[str, str]) -> None:
    """Bring the CRM's operational database to the latest migration: the ingest DAG extracts from
    it (empty until someone uses the CRM API), and `make up` serves the API on it."""
    if CRM_CONN_ENV not in env:
        return
    from liftoff.apps.crm_api.database import crm_database_url
    from liftoff.apps.crm_api.migrate import upgrade

    upgrade(crm_database_url(env))


def prepare_dashboard_role(env: dict[str, str]) -> None:
    """Create or update the dashboard's read-only role in the warehouse (idempotent)."""
    import psycopg

    from liftoff.apps.dashboard.role import apply_dashboard_role, role_name

    if WAREHOUSE_CONN_ENV not in env:
        return
    try:
        apply_dashboard_role(warehouse_url(env))
    except psycopg.errors.InsufficientPrivilege as error:
        raise LocalStackError(
            f"the warehouse user may not create the dashboard role {role_name()!r} "
            f"({error.diag.message_primary}); "
            "apply include/sql/dashboard_role.sql as an admin (`python -m liftoff.apps.dashboard.role URL`) "
            "and set LIFTOFF_DASHBOARD_URL"
        ) from None


def warehouse_url(env: dict[str, str]) -> str:
    """A libpq URL for the warehouse described by the environment's warehouse connection."""
    from urllib.parse import quote

    raw = env[WAREHOUSE_CONN_ENV]
    if not raw.lstrip().startswith("{"):
        return raw.replace("postgres://", "postgresql://", 1)
    conn = json.loads(raw)
    auth = conn.get("login", "")
    if conn.get("password"):
        auth += ":" + quote(conn["password"], safe="")
    return f"postgresql://{auth}@{conn['host']}:{conn.get('port', 5432)}/{conn.get('schema', '')}"


# -- long-running dev services (make up / make down) ------------------------------------------


def _pid_dir() -> Path:
    path = settings.state_dir() / "run"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def _read_pid(name: str) -> int | None:
    pid_file = _pid_dir() / f"{name}.pid"
    if not pid_file.exists():
        return None
    try:
        pid = int(pid_file.read_text().strip())
    except ValueError:
        pid = -1
    if pid > 0 and pid_alive(pid):
        return pid
    print(f"liftoff: removing stale PID file {pid_file}")
    pid_file.unlink()
    return None


def _spawn(name: str, command: list[str], env: dict[str, str], port: int) -> None:
    if _read_pid(name) is not None:
        print(f"liftoff: {name} already runs")
        return
    if not port_is_free("127.0.0.1", port):
        raise LocalStackError(
            f"port {port} is in use by another program, so {name} cannot start; "
            f"stop that program or set LIFTOFF_{name.upper().replace('-', '_')}_PORT to a free port"
        )
    log = settings.state_dir() / "run" / f"{name}.log"
    with log.open("ab") as out:
        # A session of its own, so `down` can stop the process and every child it started.
        process = subprocess.Popen(
            command,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=settings.PROJECT_ROOT,
        )
    (_pid_dir() / f"{name}.pid").write_text(f"{process.pid}\n")
    print(f"liftoff: started {name} (pid {process.pid}, log {log})")


def _wait_for_port(name: str, port: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while port_is_free("127.0.0.1", port):
        if _read_pid(name) is None:
            log = settings.state_dir() / "run" / f"{name}.log"
            raise LocalStackError(f"{name} exited during start-up; see {log}")
        if time.monotonic() > deadline:
            raise LocalStackError(f"{name} did not open port {port} within {timeout_s:.0f} s")
        time.sleep(0.5)


def up(env: dict[str, str]) -> None:
    """Start Airflow (standalone: api-server, scheduler, dag-processor, triggerer), Streamlit and
    the CRM API (its own uvicorn process, which migrates the CRM database before serving)."""
    bin_dir = Path(sys.executable).parent
    # `airflow standalone` starts its components as `airflow ...` found on PATH.
    full_env = {**os.environ, **env, "PATH": os.pathsep.join((str(bin_dir), os.environ.get("PATH", "")))}
    _spawn("airflow", [str(bin_dir / "airflow"), "standalone"], full_env, AIRFLOW_PORT)
    _spawn(
        "streamlit",
        [
            str(bin_dir / "streamlit"), "run", str(settings.PROJECT_ROOT / "streamlit" / "app.py"),
            "--server.port", str(STREAMLIT_PORT), "--server.address", "127.0.0.1",
            "--server.headless", "true",
        ],
        full_env,
        STREAMLIT_PORT,
    )  # fmt: skip
    _spawn(
        "crm-api",
        [str(bin_dir / "python"), "-m", "liftoff.apps.crm_api", "serve", "--port", str(CRM_API_PORT)],
        full_env,
        CRM_API_PORT,
    )
    _wait_for_port("airflow", AIRFLOW_PORT, 180)
    _wait_for_port("streamlit", STREAMLIT_PORT, 60)
    _wait_for_port("crm-api", CRM_API_PORT, 60)
    password_file = Path(env["AIRFLOW_HOME"]) / "simple_auth_manager_passwords.json.generated"
    print(f"Airflow UI:   http://127.0.0.1:{AIRFLOW_PORT}  (users and passwords: {password_file})")
    print(f"Streamlit:    http://127.0.0.1:{STREAMLIT_PORT}")
    print(f"CRM API:      http://127.0.0.1:{CRM_API_PORT}/docs  (API key: make crm-api-key NAME=<who>)")


def down() -> None:
    """Stop exactly the processes `up` started (by their PID files) and the embedded Postgres."""
    for name in ("crm-api", "streamlit", "airflow"):
        pid = _read_pid(name)
        if pid is None:
            continue
        _signal_group(pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while _group_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.3)
        if _group_alive(pid):
            _signal_group(pid, signal.SIGKILL)
        (_pid_dir() / f"{name}.pid").unlink(missing_ok=True)
        print(f"liftoff: stopped {name} (pid {pid})")
    if embedded_postgres().stop():
        print("liftoff: stopped the embedded Postgres")
