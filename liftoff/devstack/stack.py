"""The no-Docker development stack: embedded Postgres, Airflow and Streamlit as local processes.

`environment()` is the single place that turns the embedded defaults into the environment Airflow,
dbt and the tests read. Anything the user already set (a warehouse connection, a metadata database,
a lake URL, an SMTP connection) is kept: the embedded services only fill what is missing.

Every service the stack starts listens on 127.0.0.1 only: the Airflow api-server (whose simple auth
manager keeps a plaintext password file), its log server, Streamlit, the CRM API, the unsubscribe
endpoint and the mail outbox.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from liftoff import settings
from liftoff.campaign.config import UNSUBSCRIBE_SECRET_ENV
from liftoff.campaign.consent import WeakUnsubscribeSecret, local_unsubscribe_secret
from liftoff.devstack.errors import LocalStackError
from liftoff.devstack.postgres import EmbeddedPostgres, pid_alive, port_is_free, server_group_id
from liftoff.private_files import PRIVATE_UMASK, generated_secret, private_folder, write_private
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
# The e-mails' unsubscribe links point here (liftoff.campaign.config.Links' default).
UNSUBSCRIBE_PORT = int(os.environ.get("LIFTOFF_UNSUBSCRIBE_PORT", "8765"))
# Where the api-server reads a running task's log from (scheduler's and triggerer's, one server).
AIRFLOW_LOG_PORT = int(os.environ.get("LIFTOFF_AIRFLOW_LOG_PORT", "8793"))
LOOPBACK = "127.0.0.1"
# `make down`: SIGTERM, this long for a scheduler to finish its running tasks, then SIGKILL and
# this long for the killed processes to be gone.
STOP_GRACE_SECONDS = 30.0
KILL_WAIT_SECONDS = 10.0

WAREHOUSE_CONN_ENV = f"AIRFLOW_CONN_{settings.WAREHOUSE_CONN_ID.upper()}"
METADATA_ENV = "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"
CRM_CONN_ENV = f"AIRFLOW_CONN_{settings.CRM_CONN_ID.upper()}"
CRM_API_CONN_ENV = f"AIRFLOW_CONN_{settings.CRM_API_CONN_ID.upper()}"
# The admin key the ingest DAG's Airbyte connector reads the CRM API with (admin: only admin keys
# list soft-deleted records), minted by `prepare` and kept in the state folder like the stack's
# other secrets; its name in crm.api_keys.
CRM_API_KEY_FILE = "crm_api_extract.key"
CRM_API_KEY_NAME = "airbyte-extract"
SMTP_CONN_ID = "smtp_default"
SMTP_CONN_ENV = f"AIRFLOW_CONN_{SMTP_CONN_ID.upper()}"
UNSUBSCRIBE_URL_ENV = "LIFTOFF_UNSUBSCRIBE_URL"

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
# Loopback only. Airflow's api-server binds [api] host (0.0.0.0 by default); the scheduler's and
# triggerer's log servers bind every interface with no setting to change it, so `up` starts them
# with --skip-serve-logs and serves the log folder itself on 127.0.0.1 (AIRFLOW_LOG_PORT, for
# worker and triggerer logs alike: one machine, one folder). Task instances then record 127.0.0.1
# as their host, which is where the api-server fetches a running task's log from.
LOOPBACK_SETTINGS = {
    "AIRFLOW__API__HOST": LOOPBACK,
    "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(AIRFLOW_LOG_PORT),
    "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(AIRFLOW_LOG_PORT),
    "AIRFLOW__CORE__HOSTNAME_CALLABLE": "liftoff.devstack.loopback.hostname",
}
# The user's local stack only (`make up`, `make demo`, `make shell`), not the tests' nor Astro's:
# a DAG is un-paused when Airflow first sees it, so a trigger runs at once and each Asset event
# starts the next DAG. Astro and production keep Airflow's default (paused at creation).
LOCAL_STACK_SETTINGS = {"AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False"}


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

    def generate() -> str:
        from cryptography.fernet import Fernet

        values = {
            "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
            "AIRFLOW__API_AUTH__JWT_SECRET": random_secrets.token_urlsafe(32),
            "AIRFLOW__API__SECRET_KEY": random_secrets.token_urlsafe(32),
        }
        return json.dumps(values)

    return json.loads(generated_secret(settings.state_dir() / "airflow-secrets.json", generate))


def secure_state_folder() -> None:
    """Make the state folder its owner's only: folders 0700, files 0600 (an install made before
    the stack ran with PRIVATE_UMASK has 0755 folders and 0644 files: customers' e-mails in the
    landing zone, GX data docs with failing samples, logs). Run on every prepare.

    The one exception, as root only: the embedded Postgres runs as its own account, which must pass
    through the folders above its cluster; those keep the execute bit for that account's group
    (liftoff.devstack.postgres), never a read bit, and nothing for others.
    """
    state = settings.state_dir()
    if not state.is_dir():
        return
    server_group = server_group_id()
    for folder, subfolders, files in os.walk(state):
        for path in (Path(folder), *(Path(folder) / name for name in (*subfolders, *files))):
            with contextlib.suppress(FileNotFoundError):  # a live service removed it meanwhile
                info = path.lstat()
                if stat.S_ISLNK(info.st_mode):
                    continue
                mode = stat.S_IMODE(info.st_mode)
                wanted = mode & 0o700
                if stat.S_ISDIR(info.st_mode) and server_group is not None and info.st_gid == server_group:
                    wanted |= mode & 0o010
                if wanted != mode:
                    path.chmod(wanted)


# Airflow's simple auth manager generates a password for each configured user it finds no password
# for and prints it to its log; handing it a file that already has every user's, it prints nothing.
SIMPLE_AUTH_USERS_ENV = "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"
SIMPLE_AUTH_FILE_ENV = "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"
SIMPLE_AUTH_DEFAULT_USERS = "admin:admin"  # Airflow's default [core] simple_auth_manager_users


def airflow_login(env: dict[str, str]) -> Path:
    """The Airflow UI's users and passwords: the simple auth manager's password file, made 0600 (and
    completed, atomically) before the api-server starts, so that Airflow never generates a password
    itself nor prints one into a log. Users come from AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS
    (Airflow's default, admin); the file from AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE or
    AIRFLOW_HOME (Airflow's default)."""
    import secrets as random_secrets

    full_env = {**os.environ, **env}
    default_file = Path(full_env["AIRFLOW_HOME"]) / "simple_auth_manager_passwords.json.generated"
    path = Path(full_env.get(SIMPLE_AUTH_FILE_ENV) or default_file)
    users = full_env.get(SIMPLE_AUTH_USERS_ENV, SIMPLE_AUTH_DEFAULT_USERS)
    names = [entry.split(":")[0].strip() for entry in users.split(",") if entry.strip()]
    try:
        passwords = json.loads(path.read_text().strip() or "{}")
    except FileNotFoundError:
        passwords = {}
    except json.JSONDecodeError:
        raise LocalStackError(f"{path} is not the JSON Airflow writes; fix or delete it and retry") from None
    missing = [name for name in names if name not in passwords]
    if missing:
        passwords |= {name: random_secrets.token_urlsafe(16) for name in missing}
        write_private(path, json.dumps(passwords) + "\n")
    path.chmod(0o600)
    return path


def prepare(env: dict[str, str]) -> None:
    """What `make up` and `make demo` do before anything runs: the state folder made private,
    Airflow's metadata DB migrated and its settings applied, the Airflow login written, the CRM
    database migrated with its roles and the extraction's API key minted, the read-only roles
    applied and the other databases closed to them."""
    from liftoff.devstack.airflow_setup import prepare_airflow

    secure_state_folder()
    prepare_airflow(env)
    airflow_login(env)
    prepare_crm_database(env)
    prepare_crm_api_key(env)
    prepare_dashboard_role(env)
    prepare_database_access(env)


def execution_api_url(port: int) -> str:
    """Where task processes reach the api-server that `airflow standalone` serves on `port`."""
    return f"http://127.0.0.1:{port}/execution/"


def environment(start_services: bool = True, *, local_stack: bool = False) -> dict[str, str]:
    """The variables Airflow, dbt, Cosmos and the tests need, on top of the user's own.

    `local_stack`: the user's own stack (`make up`, `make demo`, `make shell`), which also starts
    the mail outbox and points `smtp_default` at it, links the e-mails to the local unsubscribe
    endpoint and un-pauses new DAGs; the tests leave it off (they start what they need themselves).
    """
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
        **LOOPBACK_SETTINGS,
        **airflow_secrets(),
        UNSUBSCRIBE_SECRET_ENV: _local_unsubscribe_secret(state),
    }
    if local_stack:
        env |= LOCAL_STACK_SETTINGS
        env[UNSUBSCRIBE_URL_ENV] = f"http://{LOOPBACK}:{UNSUBSCRIBE_PORT}/unsubscribe"
    if start_services and needs_embedded_postgres():
        pg = start_postgres()
        password = pg.password()
        connection = {"conn_type": "postgres", "host": pg.host, "port": pg.port}
        warehouse = connection | {"login": "postgres", "password": password, "schema": WAREHOUSE_DB}
        env.setdefault(WAREHOUSE_CONN_ENV, json.dumps(warehouse))
        env.update(_crm_env(pg, connection, local_stack=local_stack))
        env[METADATA_ENV] = pg.url(AIRFLOW_DB).replace("postgresql://", "postgresql+psycopg2://", 1)
    # What the user set always wins.
    for key in (
        WAREHOUSE_CONN_ENV,
        CRM_CONN_ENV,
        METADATA_ENV,
        "LIFTOFF_LAKE_URL",
        "AIRFLOW_HOME",
        UNSUBSCRIBE_URL_ENV,
        UNSUBSCRIBE_SECRET_ENV,
        *LOCAL_STACK_SETTINGS,
        *airflow_secrets(),
    ):
        if key in os.environ:
            env[key] = os.environ[key]
    if local_stack:
        env.update(crm_api_env())
    if local_stack and start_services:
        port = start_outbox()
        if smtp_is_ours(env):
            env[SMTP_CONN_ENV] = outbox_connection(port)
    if WAREHOUSE_CONN_ENV in env:
        env.update(profile_env(warehouse_url(env)))
        env.update(_reader_env(env))
    return env


def _local_unsubscribe_secret(state: Path) -> str:
    """The stack's unsubscribe secret; a file too short to be one is a one-line error."""
    try:
        return local_unsubscribe_secret(state)
    except WeakUnsubscribeSecret as error:
        raise LocalStackError(str(error)) from None


def outbox_connection(port: int) -> str:
    """`smtp_default` as the local outbox: plain SMTP on loopback (no TLS, no login)."""
    from liftoff.campaign.config import DEFAULT_SENDER_EMAIL

    extra = {"disable_ssl": True, "disable_tls": True, "from_email": DEFAULT_SENDER_EMAIL}
    return json.dumps({"conn_type": "smtp", "host": LOOPBACK, "port": port, "extra": extra})


def smtp_is_ours(env: dict[str, str]) -> bool:
    """Whether `smtp_default` may point at the outbox: the user has set no AIRFLOW_CONN_SMTP_DEFAULT
    and the metadata DB holds no `smtp_default` (Airflow reads the environment before the metastore,
    so ours would hide theirs). A metadata DB that cannot be read is the user's own: left alone."""
    if SMTP_CONN_ENV in os.environ:
        return False
    url = env.get(METADATA_ENV, "")
    scheme, _, rest = url.partition("://")
    if scheme.split("+")[0] not in ("postgresql", "postgres"):
        return False
    import psycopg

    try:
        with psycopg.connect(f"postgresql://{rest}", connect_timeout=5) as conn:
            found = conn.execute("select 1 from connection where conn_id = %s", (SMTP_CONN_ID,)).fetchone()
    except psycopg.errors.UndefinedTable:  # not migrated yet: no connection of the user's either
        return True
    except psycopg.OperationalError:
        return False
    return found is None


def start_outbox() -> int:
    """Start the local mail outbox (liftoff.devstack.outbox) unless it runs; its port."""
    from liftoff.devstack.outbox import outbox_port

    port = outbox_port()
    if _read_pid("outbox") is None:
        command = [sys.executable, "-m", "liftoff.devstack.outbox", "--port", str(port)]
        command += ["--dir", str(settings.outbox_dir())]
        _spawn("outbox", command, dict(os.environ), port, port_env="LIFTOFF_OUTBOX_PORT")
        _wait_for_port("outbox", port, 30)
    return port


def _reader_env(env: dict[str, str]) -> dict[str, str]:
    """The read-only URLs: the dashboard's (Streamlit) and the analysts' (`make shell`, notebooks),
    the warehouse's as each reader role (liftoff.warehouse.roles). The user's own URL wins."""
    from liftoff.warehouse.roles import urls

    return urls(warehouse_url(env))


def _crm_env(pg: EmbeddedPostgres, connection: dict, *, local_stack: bool) -> dict[str, str]:
    """The embedded CRM database's URLs, each as its role (liftoff.apps.crm_api.roles): the `crm`
    connection (the campaign's opt-out sync) reads as the read-only reader; the user's stack also
    gets the API's serving URL and the migrations' owner URL. A CRM connection of the user's own is
    left whole: the API then serves on it too (liftoff.apps.crm_api.database.crm_database_url)."""
    from liftoff.apps.crm_api.roles import API, OWNER, READER

    if CRM_CONN_ENV in os.environ:
        return {}
    reader = connection | {"login": READER.name(), "password": READER.password(), "schema": CRM_DB}
    env = {CRM_CONN_ENV: json.dumps(reader)}
    if local_stack:
        env |= {
            role.url_env: role.url(pg.url(CRM_DB)) for role in (API, OWNER) if role.url_env not in os.environ
        }
    return env


def crm_api_key_path() -> Path:
    return settings.state_dir() / CRM_API_KEY_FILE


def crm_api_connection(key: str) -> str:
    """`crm_api` as the stack's CRM API (`up` serves it on CRM_API_PORT) with the extraction's key."""
    return json.dumps({"conn_type": "http", "host": LOOPBACK, "port": CRM_API_PORT, "password": key})


def crm_api_env() -> dict[str, str]:
    """The `crm_api` connection the ingest DAG's Airbyte connector reads the CRM API through, for the
    user's stack: none when the user set AIRFLOW_CONN_CRM_API (theirs wins) or no key was minted yet
    (`prepare` mints it); then the DAG skips the extraction, saying why."""
    if CRM_API_CONN_ENV in os.environ:
        return {}
    try:
        key = crm_api_key_path().read_text().strip()
    except FileNotFoundError:
        return {}
    return {CRM_API_CONN_ENV: crm_api_connection(key)} if key else {}


def crm_api_is_ours(env: dict[str, str]) -> bool:
    """Whether `crm_api` in `env` is the stack's own (the local CRM API, which `up` serves and the demo
    starts when it does not run), not one the user set."""
    key = crm_api_env().get(CRM_API_CONN_ENV)
    return key is not None and env.get(CRM_API_CONN_ENV) == key


def prepare_crm_api_key(env: dict[str, str]) -> str | None:
    """The extraction's admin key of the embedded CRM (minted once, kept 0600 in the state folder,
    minted again when the CRM database no longer knows it); None when the CRM or the `crm_api`
    connection is the user's own (their keys are theirs to mint: `make crm-api-key NAME=airbyte
    SCOPE=admin`)."""
    from liftoff.apps.crm_api.auth import ADMIN, key_holder, mint_key
    from liftoff.apps.crm_api.database import make_engine

    if CRM_CONN_ENV not in env or CRM_API_CONN_ENV in os.environ:
        return None
    database = _embedded_database(env[CRM_CONN_ENV])
    if database is None:
        return None
    path = crm_api_key_path()
    try:
        key = path.read_text().strip()
    except FileNotFoundError:
        key = ""
    engine = make_engine(embedded_postgres().url(database))
    try:
        holder = key_holder(engine, key)
        if holder is None or not holder.is_admin:
            key = mint_key(engine, CRM_API_KEY_NAME, scope=ADMIN).key
            write_private(path, key + "\n")
    finally:
        engine.dispose()
    return key


def prepare_crm_database(env: dict[str, str]) -> None:
    """Bring the CRM's operational database to the latest migration: `make up` serves the API on it
    (empty until someone uses it), the ingest DAG's connector reads it through the API and the
    campaign reads its opt-outs. The embedded one first gets its roles (re-applied on every start:
    a role may have changed its own password or settings), then migrates as their owner."""
    from liftoff.apps.crm_api.database import migration_url
    from liftoff.apps.crm_api.migrate import upgrade
    from liftoff.apps.crm_api.roles import apply_and_migrate

    if CRM_CONN_ENV not in env:
        return
    database = _embedded_database(env[CRM_CONN_ENV])
    if database is None:  # the user's own CRM database: its roles are the user's
        upgrade(migration_url(env))
        return
    apply_and_migrate(embedded_postgres().url(database))


def _embedded_database(raw_connection: str) -> str | None:
    """The database an Airflow connection (JSON, as `environment` writes it) names on the embedded
    cluster, or None when it points elsewhere."""
    if not raw_connection.lstrip().startswith("{"):
        return None
    connection = json.loads(raw_connection)
    pg = embedded_postgres()
    same_cluster = (str(connection.get("host")), str(connection.get("port"))) == (str(pg.host), str(pg.port))
    return connection.get("schema") if same_cluster else None


def prepare_database_access(env: dict[str, str]) -> None:
    """Close the embedded cluster's other databases (Airflow's metadata, `postgres`, template1) to
    every role but the superuser: PUBLIC may connect to any new database (include/sql/database_access.sql).
    The warehouse's and the CRM's roles are granted CONNECT by name where they belong."""
    import psycopg
    from psycopg import sql

    from liftoff import sql_files

    pg = embedded_postgres()
    if not pg.is_initialised():
        return  # no embedded cluster in this state folder: nothing of ours to close
    if env.get(METADATA_ENV) != pg.url(AIRFLOW_DB).replace("postgresql://", "postgresql+psycopg2://", 1):
        return  # Airflow's metadata lives elsewhere: the user's own cluster, the user's own rules
    with psycopg.connect(pg.url("postgres"), autocommit=True) as conn:
        for database in (AIRFLOW_DB, "postgres", "template1"):
            conn.execute(sql_files.compose("database_access.sql", database=sql.Identifier(database)))


def prepare_dashboard_role(env: dict[str, str]) -> None:
    """Create or update the read-only reader roles in the warehouse, the dashboard's and the
    analysts' (idempotent)."""
    import psycopg

    from liftoff.warehouse.roles import apply_all

    if WAREHOUSE_CONN_ENV not in env:
        return
    try:
        apply_all(warehouse_url(env))
    except psycopg.errors.InsufficientPrivilege as error:
        raise LocalStackError(
            f"the warehouse user may not create the read-only roles ({error.diag.message_primary}); "
            "apply include/sql/reader_role.sql as the role that owns the layers "
            "(`python -m liftoff.warehouse.roles URL`) and set LIFTOFF_DASHBOARD_URL and LIFTOFF_ANALYST_URL"
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
    return private_folder(settings.state_dir() / "run")


def _group_alive(pgid: int) -> bool:
    # A service this very process started (the demo's, a test's) is our child: once it exits it
    # stays a zombie, still a member of its group, until we reap it.
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pgid, os.WNOHANG)
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


def _spawn(
    name: str, command: list[str], env: dict[str, str], port: int | None, *, port_env: str | None = None
) -> subprocess.Popen | None:
    """Start a service in a session of its own (its PID file in the state folder); the process, or
    None when it already runs."""
    if _read_pid(name) is not None:
        print(f"liftoff: {name} already runs")
        return None
    if port is not None and not port_is_free(LOOPBACK, port):
        port_env = port_env or f"LIFTOFF_{name.upper().replace('-', '_')}_PORT"
        raise LocalStackError(
            f"port {port} is in use by another program, so {name} cannot start; "
            f"stop that program or set {port_env} to a free port"
        )
    log = _pid_dir() / f"{name}.log"
    # The log is the owner's only (a service may print a secret or a customer's address), and so is
    # everything the service writes: its umask is PRIVATE_UMASK whatever the caller's.
    with os.fdopen(os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab") as out:
        os.fchmod(out.fileno(), 0o600)
        # A session of its own, so `down` can stop the process and every child it started.
        process = subprocess.Popen(
            command,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=settings.PROJECT_ROOT,
            umask=PRIVATE_UMASK,
        )
    write_private(_pid_dir() / f"{name}.pid", f"{process.pid}\n")
    print(f"liftoff: started {name} (pid {process.pid}, log {log})")
    return process


def _wait_for_port(name: str, port: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while port_is_free("127.0.0.1", port):
        if _read_pid(name) is None:
            log = settings.state_dir() / "run" / f"{name}.log"
            raise LocalStackError(f"{name} exited during start-up; see {log}")
        if time.monotonic() > deadline:
            raise LocalStackError(f"{name} did not open port {port} within {timeout_s:.0f} s")
        time.sleep(0.5)


def with_venv_on_path(env: dict[str, str]) -> dict[str, str]:
    """`env` with this interpreter's bin folder (the venv's) first on PATH, as an activated venv
    has it: `airflow standalone`'s components, `make shell`'s `airflow` and `python` are the venv's."""
    bin_dir = str(Path(sys.executable).parent)
    path = env.get("PATH", os.environ.get("PATH", ""))
    rest = [entry for entry in path.split(os.pathsep) if entry and entry != bin_dir]
    return {**env, "PATH": os.pathsep.join((bin_dir, *rest)), "VIRTUAL_ENV": str(Path(bin_dir).parent)}


# Airflow's components, each a process of its own (what `airflow standalone` runs, minus the log
# servers that would bind every interface; see LOOPBACK_SETTINGS).
AIRFLOW_COMPONENTS = {
    "airflow-api-server": ["api-server"],
    "airflow-scheduler": ["scheduler", "--skip-serve-logs"],
    "airflow-dag-processor": ["dag-processor"],
    "airflow-triggerer": ["triggerer", "--skip-serve-logs"],
}
# What `down` stops, in order; "airflow" is the `airflow standalone` of earlier versions.
SERVICES = (
    "unsubscribe",
    "crm-api",
    "streamlit",
    *AIRFLOW_COMPONENTS,
    "airflow-logs",
    "airflow",
    "outbox",
)


def up(env: dict[str, str]) -> None:
    """Start Airflow (api-server, scheduler, dag-processor, triggerer, log server), Streamlit, the
    CRM API (its own uvicorn process, which migrates the CRM database before serving) and the
    unsubscribe endpoint the e-mails link to; all on 127.0.0.1."""
    bin_dir = Path(sys.executable).parent
    full_env = with_venv_on_path({**os.environ, **env})
    airflow = str(bin_dir / "airflow")
    airflow_login(env)  # before the api-server starts: it would print a password it generated
    for name, arguments in AIRFLOW_COMPONENTS.items():
        port = AIRFLOW_PORT if name == "airflow-api-server" else None
        _spawn(name, [airflow, *arguments], full_env, port, port_env="LIFTOFF_AIRFLOW_PORT")
    _spawn(
        "airflow-logs",
        [
            str(bin_dir / "python"), "-m", "uvicorn", "--factory",
            "airflow.utils.serve_logs.log_server:get_app",
            "--host", LOOPBACK, "--port", str(AIRFLOW_LOG_PORT), "--no-access-log", "--log-level", "warning",
        ],
        full_env,
        AIRFLOW_LOG_PORT,
    )  # fmt: skip
    _spawn(
        "streamlit",
        [
            str(bin_dir / "streamlit"), "run", str(settings.PROJECT_ROOT / "streamlit" / "app.py"),
            "--server.port", str(STREAMLIT_PORT), "--server.address", LOOPBACK,
            "--server.headless", "true",
        ],
        full_env,
        STREAMLIT_PORT,
    )  # fmt: skip
    _spawn("crm-api", crm_api_command(), full_env, CRM_API_PORT)
    _spawn(
        "unsubscribe",
        [
            str(bin_dir / "python"), "-m", "liftoff.campaign.unsubscribe", "--serve",
            "--host", LOOPBACK, "--port", str(UNSUBSCRIBE_PORT),
        ],
        full_env,
        UNSUBSCRIBE_PORT,
    )  # fmt: skip
    _wait_for_port("airflow-api-server", AIRFLOW_PORT, 180)
    _wait_for_port("airflow-logs", AIRFLOW_LOG_PORT, 60)
    _wait_for_port("streamlit", STREAMLIT_PORT, 60)
    _wait_for_port("crm-api", CRM_API_PORT, 60)
    _wait_for_port("unsubscribe", UNSUBSCRIBE_PORT, 60)
    password_file = airflow_login(env)
    print(f"Airflow UI:   http://{LOOPBACK}:{AIRFLOW_PORT}  (users and passwords: {password_file})")
    print(f"Streamlit:    http://{LOOPBACK}:{STREAMLIT_PORT}")
    print(f"CRM API:      http://{LOOPBACK}:{CRM_API_PORT}/docs  (API key: make crm-api-key NAME=<who>)")
    print(f"Unsubscribe:  http://{LOOPBACK}:{UNSUBSCRIBE_PORT}/unsubscribe  (where the e-mails' links point)")
    print(f"Mail outbox:  {smtp_summary(env)}")


def crm_api_command() -> list[str]:
    """The CRM API as `up` serves it (its own uvicorn process, which migrates before serving)."""
    python = str(Path(sys.executable).parent / "python")
    return [python, "-m", "liftoff.apps.crm_api", "serve", "--port", str(CRM_API_PORT)]


@contextlib.contextmanager
def crm_api_serving(env: dict[str, str]) -> Iterator[bool]:
    """The stack's CRM API running for the block (`make demo`: the ingest DAG's connector reads it):
    started, and stopped after, when `crm_api` is the stack's own and no `make up` serves it already.
    Yields whether `crm_api` is the stack's own (the user's own API is the user's to run)."""
    if not crm_api_is_ours(env):
        yield False
        return
    process = _spawn("crm-api", crm_api_command(), with_venv_on_path({**os.environ, **env}), CRM_API_PORT)
    try:
        if process is not None:
            _wait_for_port("crm-api", CRM_API_PORT, 60)
        yield True
    finally:
        if process is not None:
            _stop_child("crm-api", process)


def _stop_child(name: str, process: subprocess.Popen) -> None:
    """Stop a service this process started and reap it (`down` stops services another process
    started; a child of ours would stay a zombie, alive to `down`, until we wait for it)."""
    _signal_group(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=STOP_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        _signal_group(process.pid, signal.SIGKILL)
        process.wait(timeout=KILL_WAIT_SECONDS)
    _wait_for_groups([process.pid], KILL_WAIT_SECONDS)  # whatever it started, too
    (_pid_dir() / f"{name}.pid").unlink(missing_ok=True)
    print(f"liftoff: stopped {name} (pid {process.pid})")


def smtp_summary(env: dict[str, str]) -> str:
    """Where `smtp_default` sends: the local outbox (and its Maildir), or the user's own server."""
    from liftoff.devstack.outbox import outbox_port

    if env.get(SMTP_CONN_ENV) == outbox_connection(outbox_port()):
        return f"smtp://{LOOPBACK}:{outbox_port()}, messages in {settings.outbox_dir()}"
    return f"not used: smtp_default is your own (the outbox still listens on {LOOPBACK}:{outbox_port()})"


def down() -> None:
    """Stop exactly the processes `up` and `run` started (by their PID files) and the embedded Postgres."""
    stop_services(SERVICES)
    if embedded_postgres().stop():
        print("liftoff: stopped the embedded Postgres")


def stop_services(names: tuple[str, ...]) -> None:
    """Stop the named services of this state folder that run (by their PID files)."""
    # All at once, then wait: a scheduler with running tasks may take its whole grace period.
    running = {name: pid for name in names if (pid := _read_pid(name)) is not None}
    for pid in running.values():
        _signal_group(pid, signal.SIGTERM)
    _wait_for_groups(running.values(), STOP_GRACE_SECONDS)
    killed = [pid for pid in running.values() if _group_alive(pid)]
    for pid in killed:
        _signal_group(pid, signal.SIGKILL)
    # SIGKILL is delivered at once but the processes are gone only once reaped: wait for that,
    # so `make down` returns with nothing left (a `make up` right after finds its ports free).
    _wait_for_groups(killed, KILL_WAIT_SECONDS)
    for name, pid in running.items():
        if _group_alive(pid):
            raise LocalStackError(
                f"{name} (process group {pid}) still runs {KILL_WAIT_SECONDS:.0f} s after SIGKILL; "
                f"see `ps -g {pid}`"
            )
        (_pid_dir() / f"{name}.pid").unlink(missing_ok=True)
        how = ", killed after the grace period" if pid in killed else ""
        print(f"liftoff: stopped {name} (pid {pid}{how})")


def _wait_for_groups(pgids: Iterable[int], seconds: float) -> None:
    """Wait until none of the process groups `pgids` has a live member, or `seconds` pass."""
    pgids = list(pgids)
    deadline = time.monotonic() + seconds
    while any(_group_alive(pid) for pid in pgids) and time.monotonic() < deadline:
        time.sleep(0.2)
