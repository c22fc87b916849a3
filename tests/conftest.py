"""Test session: a private embedded stack, never the user's demo stack or their own connections.

The stack's environment must exist before anything imports Airflow (its configuration is read at
import), so it is set up here, at conftest import. The test cluster has its own state folder and
port; each test that writes to the warehouse gets a fresh database of its own.

Workers. `make test` runs the suite on LIFTOFF_TEST_WORKERS pytest-xdist workers (2 by default),
a test file per worker at a time. Each worker is a whole test session of its own: its own state
folder (`.liftoff/test-gw0`), Postgres cluster (port LIFTOFF_PG_PORT + 1 + n), Airflow home and
metadata DB, Cosmos cache and dbt target folder, exactly as two checkouts would be; the controller
starts nothing. The longest files go first (LONGEST_FIRST), so that none starts last.

Two tiers. `make test` runs everything. `make test-fast` (LIFTOFF_TEST_TIER=fast) starts no service
and runs only the tests marked neither `services` nor `slow`: a test is `services` when it uses a
fixture that needs the embedded Postgres (SERVICE_FIXTURES) or its module says so (`pytestmark`),
because it starts a database, Airflow, dbt, a browser or a server of its own.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TEST_STATE = ROOT / ".liftoff" / "test"

# Tests must never reach a user's real warehouse or metadata DB.
for _key in (
    "AIRFLOW_CONN_WAREHOUSE",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
    "LIFTOFF_LAKE_URL",
    "AIRFLOW_HOME",
    "AIRFLOW_VAR_LIFTOFF_SIMULATOR",  # what the simulator generates is set by each test
):
    os.environ.pop(_key, None)
FAST_TIER = os.environ.get("LIFTOFF_TEST_TIER") == "fast"
WORKER = os.environ.get("PYTEST_XDIST_WORKER")  # gw0, gw1, … in a worker of `pytest -n N`
CONTROLLER = bool(os.environ.get("LIFTOFF_TEST_WORKERS")) and not WORKER  # hands out files only
_port = int(os.environ.get("LIFTOFF_PG_PORT", "55442"))
if WORKER:
    TEST_STATE = ROOT / ".liftoff" / f"test-{WORKER}"
    _port += 1 + int(WORKER.removeprefix("gw"))
    os.environ["AIRFLOW__COSMOS__CACHE_DIR"] = str(TEST_STATE / "cosmos-cache")
os.environ["LIFTOFF_STATE_DIR"] = str(TEST_STATE)
os.environ["LIFTOFF_PG_PORT"] = str(_port)
# `make` commands a test runs (the README's) start the local stack's mail outbox: on a port of the
# worker's own, never the user's 8025 or another worker's; stopped when the session ends.
os.environ["LIFTOFF_OUTBOX_PORT"] = str(_port + 1000)

from liftoff.devstack import stack  # noqa: E402

_pg_was_running = stack.embedded_postgres().is_initialised() and stack.embedded_postgres().running_pid()
os.environ.update(stack.environment(start_services=not (FAST_TIER or CONTROLLER)))
if not (FAST_TIER or CONTROLLER):
    # The `crm` connection reads as the CRM's read-only role: its roles and schema exist before any
    # test runs the ingest DAG, as `make up` and `make demo` set them up (stack.prepare).
    stack.prepare_crm_database(dict(os.environ))

if FAST_TIER:  # a test that starts a Postgres cluster is not fast: say so at once, never start one

    def _refuse_to_start(cluster, *args, **kwargs):
        raise RuntimeError(
            "the fast tier starts no service: mark this test `services` (pytestmark) or use a fixture "
            "in tests/conftest.py SERVICE_FIXTURES"
        )

    from liftoff.devstack.postgres import EmbeddedPostgres

    EmbeddedPostgres.ensure_running = _refuse_to_start

# Fixtures that need the embedded Postgres (directly or through another fixture).
SERVICE_FIXTURES = frozenset({"airflow_db", "warehouse", "crm_database", "crm_api_served"})


# The files that take minutes (measured with --durations), longest first: the workers take files
# in collection order (`--no-loadscope-reorder`: xdist would otherwise order them by their number
# of tests), and a long one started last would leave the other worker idle at the end.
LONGEST_FIRST = (
    "tests/pipeline/test_backfill.py",
    "tests/transform/test_day_by_day.py",
    "tests/pipeline/test_faults.py",
    "tests/pipeline/test_idempotency.py",
    "tests/devstack/test_benchmarks.py",
    "tests/dags/test_business_day_cli.py",
    "tests/devstack/test_demo.py",
    "tests/quality/test_quality.py",
    "tests/transform/test_late_data.py",
    "tests/devstack/test_dev_stack.py",
    "tests/pipeline/test_pipeline.py",
    "tests/quality/test_reconciliation.py",
    "tests/contracts/test_hostile_input.py",
)


def _longest_first(item: pytest.Item) -> int:
    path = item.nodeid.split("::")[0]
    return LONGEST_FIRST.index(path) if path in LONGEST_FIRST else len(LONGEST_FIRST)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the tests that need services; in the fast tier, leave them out (reported as deselected).
    The longest files first (a stable sort: the rest keep their order)."""
    items.sort(key=_longest_first)
    kept, left_out = [], []
    for item in items:
        if SERVICE_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.services)
        needs_services = item.get_closest_marker("services") or item.get_closest_marker("slow")
        (left_out if FAST_TIER and needs_services else kept).append(item)
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = kept


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Leave no process behind: stop the test cluster unless it was running before the session."""
    if not CONTROLLER:
        stack.stop_services(("outbox",))
    if not _pg_was_running and not FAST_TIER and not CONTROLLER:
        if "airflow.settings" in sys.modules:  # close Airflow's pooled connections first
            sys.modules["airflow.settings"].dispose_orm()
        stack.embedded_postgres().stop()


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """Airflow's metadata DB, migrated (once per change of the lock or settings)."""
    from liftoff.devstack.airflow_setup import prepare_airflow

    prepare_airflow(dict(os.environ))


@pytest.fixture
def warehouse(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh, empty warehouse database; the `warehouse` Airflow connection points at it."""
    import json

    from tests.warehouses import scratch_database

    with scratch_database("wh") as (name, url):
        conn_json = json.loads(os.environ[stack.WAREHOUSE_CONN_ENV]) | {"schema": name}
        monkeypatch.setenv(stack.WAREHOUSE_CONN_ENV, json.dumps(conn_json))
        yield url


@pytest.fixture
def lake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A private landing zone folder for the test; tasks read it from LIFTOFF_LAKE_URL."""
    url = (tmp_path / "lake").as_uri()
    monkeypatch.setenv("LIFTOFF_LAKE_URL", url)
    return url


@pytest.fixture
def crm_database(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh CRM database with the stack's roles, migrated as their owner (as `make up` does);
    the `crm` connection (the read-only reader's) points at it, and the API's and the owner's URLs
    are exported as `make up` and `make shell` export them. Yields the superuser's URL."""
    import json

    from liftoff.apps.crm_api.roles import API, OWNER, apply_and_migrate
    from tests.warehouses import scratch_database

    with scratch_database("crm") as (name, url):
        conn_json = json.loads(os.environ[stack.CRM_CONN_ENV]) | {"schema": name}
        monkeypatch.setenv(stack.CRM_CONN_ENV, json.dumps(conn_json))
        for role in (API, OWNER):
            monkeypatch.setenv(role.url_env, role.url(url))
        apply_and_migrate(url)
        yield url


@pytest.fixture
def crm_api_served(crm_database: str, monkeypatch: pytest.MonkeyPatch) -> Iterator:
    """The CRM API served for real (its own process, tests/crm_api_server.py) on the test's CRM
    database, and the `crm_api` connection pointing at it with an admin key, as `make up` and
    `make demo` configure it: the ingest DAG's Airbyte connector extracts the CRM through it."""
    import json

    from tests.crm_api_server import served_crm_api

    with served_crm_api(crm_database) as served:
        connection = {"conn_type": "http", "host": "127.0.0.1", "port": served.port}
        connection["password"] = served.admin_key
        monkeypatch.setenv(stack.CRM_API_CONN_ENV, json.dumps(connection))
        yield served


@pytest.fixture
def dags(airflow_db) -> dict:
    """The project's DAGs, parsed for this test: the DAG objects cache their Airflow connections
    (Cosmos's profile mapping does), and each test points `warehouse` at a database of its own."""
    from airflow.dag_processing.dagbag import DagBag

    from liftoff import settings

    bag = DagBag(dag_folder=str(settings.DAGS_FOLDER))
    assert bag.import_errors == {}
    return bag.dags


@pytest.fixture
def api(crm_database: str) -> Iterator:
    """A client of the CRM API on the test's CRM database, serving as its lesser role (as `make up`
    does), with a freshly minted key."""
    from fastapi.testclient import TestClient

    from liftoff.apps.crm_api.app import create_app
    from liftoff.apps.crm_api.auth import mint_key
    from liftoff.apps.crm_api.limits import FailedAuthThrottle
    from liftoff.apps.crm_api.roles import API

    # Tests send many keyless requests from one address on purpose; the throttle that would answer
    # them 429 has its own tests (tests/security/test_crm_api_limits.py).
    app = create_app(API.url(crm_database), throttle=FailedAuthThrottle(burst=10**9))
    with TestClient(app) as client:
        client.headers["X-API-Key"] = mint_key(app.state.engine, "tests").key
        yield client
    app.state.engine.dispose()


@pytest.fixture(autouse=True)
def _forget_object_stores() -> Iterator[None]:
    """Airflow caches one filesystem per (protocol, connection id) for the life of the process
    (`airflow.sdk.io.store`), built from the connection as it was then. Tests point `lake` at S3
    servers of their own: without this, a test ran against the endpoint of an earlier test's
    server, long stopped, when both files landed on the same worker."""
    yield
    store = sys.modules.get("airflow.sdk.io.store")
    if store is not None:
        store._STORE_CACHE.clear()
