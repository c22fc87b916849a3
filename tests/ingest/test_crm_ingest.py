"""CRM records reach the warehouse through the ingest DAG's Airbyte connector (PyAirbyte reading the
CRM API, served for real): two days of records written through the API (an update and a soft
delete among them) land in raw once each at their latest version with the connector's state
advanced; contracts shared with ingestion; a sale entered through the API shows up in gold."""

from __future__ import annotations

import json
import os
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest

from liftoff.apps.crm_api.database import KEY_START
from liftoff.contracts import CONTRACTS
from liftoff.ingest import airbyte_extract
from liftoff.ingest.airbyte_extract import day_window
from liftoff.ingest.daily import load_landed_day
from liftoff.ingest.sources import SIMULATOR_ENV, simulator_variable
from liftoff.orchestration import TIMEZONE, logical_date_of
from tests import crm_samples as sample
from tests.crm_samples import created, stamp

DAY = date(2026, 10, 14)
NEXT_DAY = DAY + timedelta(days=1)


def crm_rows(warehouse: str, entity: str, *columns: str) -> list[tuple]:
    """raw.<entity>'s CRM records (keys from KEY_START; the simulator's are below), by key."""
    key = CONTRACTS[entity].natural_key
    with psycopg.connect(warehouse) as conn:
        return conn.execute(
            psycopg.sql.SQL("select {}, {} from raw.{} where {} >= %s order by 1, 2").format(
                psycopg.sql.Identifier(key),
                psycopg.sql.SQL(", ").join(map(psycopg.sql.Identifier, columns)),
                psycopg.sql.Identifier(entity),
                psycopg.sql.Identifier(key),
            ),
            (KEY_START,),
        ).fetchall()


def ingest(dags, day: date, **conf) -> dict[str, str]:
    """One run of the ingest DAG for `day` (the embedded path); {task id: state}."""
    dag_run = dags["ingest_crm"].test(logical_date=logical_date_of(day), run_conf=conf or None)
    states = {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}
    assert "success" in str(dag_run.state), f"ingest_crm {day} ended {dag_run.state}: {states}"
    return states


@pytest.mark.timeout(1200)
def test_two_days_through_the_dag_land_each_crm_record_once_at_its_latest_version(
    crm_api_served, crm_database, warehouse, lake, dags, monkeypatch
):
    """The issue's "done when": the CRM API served for real, records written through it, the ingest
    DAG run over two days with the connector (PyAirbyte), then the first day again (a backfill):
    each record in raw exactly once at its latest version, the Airbyte state advanced by day."""
    monkeypatch.setenv(SIMULATOR_ENV, simulator_variable(sales_per_day=10, dirty_rate=0.0))
    client = crm_api_served.client(crm_api_served.standard_key)  # a form's key: data entry only
    start, end = day_window(DAY)

    # Day 1: a supplier, its product, a seller, three customers and a sale; one customer updated
    # and one soft-deleted later that day.
    shop = sample.small_shop(client, "kept@example.com", "moved@example.com", "gone@example.com")
    supplier, product, seller = shop.supplier, shop.product, shop.seller
    kept, moved, gone = shop.customers.values()
    sold_at = (start + timedelta(hours=10)).isoformat()
    sale = created(client, "/sales", sample.sale(kept, product, seller, quantity=2, date=sold_at))
    for hour, (entity, record) in enumerate(
        [
            ("suppliers", supplier),
            ("products", product),
            ("employees", seller),
            ("customers", kept),
            ("customers", moved),
            ("customers", gone),
            ("sales", sale),
        ]
    ):
        stamp(crm_database, entity, record[CONTRACTS[entity].natural_key], start + timedelta(hours=hour))
    assert client.patch(f"/customers/{moved['customer_id']}", json={"city": "Niterói"}).status_code == 200
    stamp(crm_database, "customers", moved["customer_id"], start + timedelta(hours=12))
    admin = crm_api_served.client()  # a soft delete is an admin's
    assert admin.delete(f"/customers/{gone['customer_id']}").status_code == 200
    stamp(crm_database, "customers", gone["customer_id"], end - timedelta(microseconds=1))

    states = ingest(dags, DAY, full_refresh=True)
    assert states["embedded.extract_crm"] == "success"
    assert "extract_crm_customers" not in {task.rsplit(".", 1)[-1] for task in states}  # one way only
    assert crm_rows(warehouse, "customers", "city") == [
        (kept["customer_id"], kept["city"]),
        (moved["customer_id"], "Niterói"),  # its latest version; the deleted one never lands
    ]

    # Day 2: a new customer, who moves the same day; nothing of day 1 changes.
    late = created(client, "/customers", sample.customer(email="late@example.com"))
    stamp(crm_database, "customers", late["customer_id"], end + timedelta(hours=1))
    assert client.patch(f"/customers/{late['customer_id']}", json={"city": "Petrópolis"}).status_code == 200
    stamp(crm_database, "customers", late["customer_id"], end + timedelta(hours=2))
    ingest(dags, NEXT_DAY)

    # The first day again after the second (a backfill): it reads its own window from the state
    # before it, never the later day's, and replaces its partition.
    ingest(dags, DAY)

    expected_customers = [
        (kept["customer_id"], kept["city"]),
        (moved["customer_id"], "Niterói"),
        (late["customer_id"], "Petrópolis"),
    ]
    assert crm_rows(warehouse, "customers", "city") == expected_customers  # each once, no `gone`
    assert crm_rows(warehouse, "sales", "quantity") == [(sale["sale_id"], 2)]
    assert crm_rows(warehouse, "suppliers", "company_name") == [
        (supplier["supplier_id"], supplier["company_name"])
    ]
    assert crm_rows(warehouse, "products", "name") == [(product["product_id"], product["name"])]
    assert crm_rows(warehouse, "employees", "email") == [(seller["employee_id"], seller["email"])]
    with psycopg.connect(warehouse) as conn:
        assert conn.execute(
            "select count(*) from raw.quarantine where natural_key::bigint >= %s", (KEY_START,)
        ).fetchone() == (0,)

    # The connector's state, per day: day 2 started from day 1's and moved past it.
    first = json.loads(airbyte_extract.state_path(lake, "crm_api", DAY).read_text())
    second = json.loads(airbyte_extract.state_path(lake, "crm_api", NEXT_DAY).read_text())
    assert first["started_from"] is None
    assert second["started_from"] == DAY.isoformat()
    assert first["records"]["customers"] == 3  # kept, moved, gone (read, counted, not landed)
    assert second["records"]["customers"] == 1
    [day_one] = airbyte_extract.stream_states(first["state"]).get("customers", {}).values()
    [day_two] = airbyte_extract.stream_states(second["state"]).get("customers", {}).values()
    assert day_one == "2026-10-15T02:59:59.999999+0000"  # the deleted record's change, last of day 1
    assert day_two > day_one


def test_without_a_crm_api_connection_the_extraction_is_skipped_saying_why(lake, caplog, monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_CRM_API", raising=False)
    with caplog.at_level("INFO", logger="liftoff.ingest.airbyte_extract"):
        summary = airbyte_extract.extract_crm_for_run(None, lake, DAY)
    assert summary["skipped"] == "no `crm_api` connection: the CRM API is not extracted"
    assert summary["entities"] == {}
    assert "no `crm_api` connection" in caplog.text


def test_a_connector_failure_is_the_tasks_one_line_error(lake, monkeypatch):
    def failing(*args, **kwargs):
        raise airbyte_extract.AirbyteExtractError("stream suppliers: the CRM API at http://x is unreachable")

    monkeypatch.setattr(airbyte_extract, "extract_crm_day_airbyte", failing)
    with pytest.raises(airbyte_extract.AirbyteExtractError, match=r"^stream suppliers: the CRM API"):
        airbyte_extract.extract_crm_for_run(("http://x", "lok_k"), lake, DAY)


@pytest.mark.timeout(900)
@pytest.mark.parametrize(
    ("key", "retried", "says"),
    [
        # A refused key: no retry can pass, so the task fails at once (AirflowFailException).
        ("lok_" + "x" * 43, False, "stream suppliers: the CRM API refused the API key (401)"),
        # The API unreachable: worth the DAG's retries.
        (None, True, "is unreachable"),
    ],
    ids=["bad key: no retry", "API down: retried"],
)
def test_a_failed_extraction_fails_the_run_retrying_only_what_a_retry_can_fix(
    crm_api_served, warehouse, lake, dags, monkeypatch, caplog, key, retried, says
):
    """The ingest DAG as users run it: the connector's one line is the task's error, a configuration
    error is not retried, and nothing of the day is loaded."""
    from airflow.utils.state import TaskInstanceState

    connection = json.loads(os.environ["AIRFLOW_CONN_CRM_API"])
    if key is None:
        connection["port"] = 9  # nothing listens there
    else:
        connection["password"] = key
    monkeypatch.setenv("AIRFLOW_CONN_CRM_API", json.dumps(connection))
    monkeypatch.setenv(SIMULATOR_ENV, simulator_variable(sales_per_day=10, dirty_rate=0.0))
    extract_task = dags["ingest_crm"].get_task("embedded.extract_crm")
    # The DAG's retries, without their waits (30 s, then longer).
    extract_task.retry_delay = extract_task.max_retry_delay = timedelta(seconds=1)
    with caplog.at_level("ERROR"):
        dag_run = dags["ingest_crm"].test(logical_date=logical_date_of(DAY))
    assert "failed" in str(dag_run.state)
    instances = {ti.task_id: ti for ti in dag_run.get_task_instances()}
    extract = instances["embedded.extract_crm"]
    assert extract.state == TaskInstanceState.FAILED, {t: str(ti.state) for t, ti in instances.items()}
    assert extract_task.retries > 0
    assert extract.try_number == (1 + extract_task.retries if retried else 1)
    assert says in caplog.text
    assert "Traceback" not in next(line for line in caplog.messages if says in line)
    # Nothing of the day reached raw: every load waits for the extraction.
    assert {str(instances[f"embedded.load_{e}"].state) for e in CONTRACTS} <= {"upstream_failed", "None"}
    with psycopg.connect(warehouse) as conn:
        ledger = conn.execute("select to_regclass('raw.loads')").fetchone()[0]
        assert ledger is None or conn.execute("select count(*) from raw.loads").fetchone() == (0,)
    assert not airbyte_extract.state_path(lake, "crm_api", DAY).exists()


# Records the API must refuse, written straight into the CRM's tables (a bulk import, a hand fix in
# SQL): ingestion must quarantine each with the same fields and reasons the API gave.
BAD_CUSTOMERS = [
    sample.customer(email="not-an-email"),
    sample.customer(email="c1@example.com", phone_number="12345"),
    sample.customer(email="c2@example.com", first_name="R2-D2", state="XX"),
    sample.customer(email="c3@example.com", city="Rio\x07de Janeiro", last_name=""),
]
BAD_EMPLOYEES = [
    sample.employee(email="e0@liftoff.com.br", salary=-10.0, department_id=21),
    sample.employee(email="e1@liftoff.com.br", termination_date="2024-01-01"),
    sample.employee(email="e2@liftoff.com.br", birth_date="2010-01-01", gender="Outro"),
]


def test_the_api_and_ingestion_reject_the_same_records_with_the_same_reasons(
    api, crm_api_served, crm_database, warehouse, lake
):
    now = datetime.now(ZoneInfo(TIMEZONE))
    day = now.date()
    api_reasons: dict[int, set[tuple[str, str]]] = {}
    with psycopg.connect(crm_database) as conn:
        for entity, key_column, records in (
            ("customers", "customer_id", BAD_CUSTOMERS),
            ("employees", "employee_id", BAD_EMPLOYEES),
        ):
            for i, record in enumerate(records):
                response = api.post(f"/{entity}", json=record)
                assert response.status_code == 422, response.text
                key = 10 + i if entity == "customers" else 20 + i
                api_reasons[key] = {(e["loc"][-1], e["msg"]) for e in response.json()["detail"]}
                columns = [key_column, *record]
                conn.execute(
                    psycopg.sql.SQL("insert into {} ({}) values ({})").format(
                        psycopg.sql.Identifier("crm", entity),
                        psycopg.sql.SQL(", ").join(map(psycopg.sql.Identifier, columns)),
                        psycopg.sql.SQL(", ").join(psycopg.sql.Placeholder() * len(columns)),
                    ),
                    [key, *record.values()],
                )
    airbyte_extract.extract_crm_for_run((crm_api_served.url, crm_api_served.admin_key), lake, day)
    for entity in ("customers", "employees"):
        summary = load_landed_day(warehouse, lake, entity, day, run_id="contract-test")
        assert summary.records_loaded == 0
    with psycopg.connect(warehouse) as conn:
        quarantined = conn.execute("select natural_key::bigint, violations from raw.quarantine").fetchall()
    ingestion_reasons = {
        key: {(v["field"], v["reason"]) for v in violations} for key, violations in quarantined
    }
    assert ingestion_reasons == api_reasons
    assert all(api_reasons.values())


@pytest.mark.timeout(900)
def test_a_sale_entered_through_the_api_reaches_gold(
    api, crm_api_served, crm_database, warehouse, lake, dags, monkeypatch
):
    shop = sample.small_shop(api, "carla.dias@example.com")
    (customer,) = shop.customers.values()
    sale = created(api, "/sales", sample.sale(customer, shop.product, shop.seller, quantity=3))
    today = datetime.now(ZoneInfo(TIMEZONE))
    logical = today.replace(hour=1, minute=0, second=0, microsecond=0)
    monkeypatch.setenv(SIMULATOR_ENV, simulator_variable(sales_per_day=20, dirty_rate=0.0))
    conf = {"full_refresh": True}
    for dag_id, run_conf in (("ingest_crm", conf), ("transform_warehouse", None)):
        dag_run = dags[dag_id].test(logical_date=logical, run_conf=run_conf)
        assert "success" in str(dag_run.state), f"{dag_id} ended {dag_run.state}"

    with psycopg.connect(warehouse) as conn:
        quarantined = conn.execute(
            "select entity, natural_key, reason from raw.quarantine where natural_key::bigint >= %s",
            (KEY_START,),
        ).fetchall()
        latest = conn.execute(
            "select sale_id, product_id, product_name from gold.customer_latest_purchase"
            " where customer_id = %s",
            (customer["customer_id"],),
        ).fetchall()
        [(sales_count, revenue)] = conn.execute(
            "select sales_count, revenue from gold.daily_sales where sale_date = %s", (today.date(),)
        ).fetchall()
        [(simulated_count, simulated_revenue)] = conn.execute(
            "select count(*), sum(price) from raw.sales where sale_id < %s", (KEY_START,)
        ).fetchall()
    assert quarantined == []
    assert latest == [(sale["sale_id"], shop.product["product_id"], shop.product["name"])]
    assert sales_count == simulated_count + 1
    assert float(revenue) == pytest.approx(float(simulated_revenue) + sale["price"], abs=0.05)


def test_the_stack_mints_one_admin_key_for_the_extraction_and_a_new_one_when_the_crm_forgets_it(
    crm_database, monkeypatch, tmp_path
):
    from liftoff.apps.crm_api.auth import key_holder
    from liftoff.apps.crm_api.database import make_engine
    from liftoff.devstack import stack

    key_file = tmp_path / stack.CRM_API_KEY_FILE
    monkeypatch.setattr(stack, "crm_api_key_path", lambda: key_file)
    monkeypatch.delenv(stack.CRM_API_CONN_ENV, raising=False)
    key = stack.prepare_crm_api_key(dict(os.environ))
    assert key_file.read_text().strip() == key
    assert key_file.stat().st_mode & 0o777 == 0o600
    engine = make_engine(crm_database)
    try:
        holder = key_holder(engine, key)
        assert (holder.name, holder.is_admin) == (stack.CRM_API_KEY_NAME, True)
        assert stack.prepare_crm_api_key(dict(os.environ)) == key  # kept, not minted again
        with psycopg.connect(crm_database) as conn:
            conn.execute("delete from crm.api_keys")  # a CRM database made anew
        fresh = stack.prepare_crm_api_key(dict(os.environ))
        assert fresh != key
        assert key_holder(engine, fresh).is_admin
    finally:
        engine.dispose()


@pytest.mark.timeout(300)
def test_the_demo_serves_the_stacks_crm_api_while_it_ingests_and_stops_it_after(
    crm_database, monkeypatch, tmp_path
):
    """`make demo` without `make up`: the stack's API runs for the ingest runs only; a `crm_api` of
    the user's own is left to the user."""
    import httpx

    from liftoff.devstack import stack
    from liftoff.devstack.loopback import free_port

    monkeypatch.setattr(stack, "CRM_API_PORT", free_port())
    key_file = tmp_path / stack.CRM_API_KEY_FILE
    monkeypatch.setattr(stack, "crm_api_key_path", lambda: key_file)
    monkeypatch.delenv(stack.CRM_API_CONN_ENV, raising=False)
    key = stack.prepare_crm_api_key(dict(os.environ))
    env = {stack.CRM_API_CONN_ENV: stack.crm_api_connection(key)}
    url = f"http://127.0.0.1:{stack.CRM_API_PORT}"
    with stack.crm_api_serving(env) as ours:
        assert ours
        response = httpx.get(f"{url}/customers?include_deleted=true", headers={"X-API-Key": key}, timeout=30)
        assert response.status_code == 200, response.text
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/health", timeout=5)
    theirs = {stack.CRM_API_CONN_ENV: json.dumps({"conn_type": "http", "host": "crm", "password": "k"})}
    with stack.crm_api_serving(theirs) as ours:
        assert not ours
