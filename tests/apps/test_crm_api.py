"""The CRM data-entry API against a real Postgres database at the latest migration.

Each test gets a fresh CRM database (`crm_database` fixture: created, then Alembic upgrade head),
so these tests also prove the migrations build everything the API needs.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import psycopg
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from liftoff.apps.crm_api.app import create_app
from liftoff.apps.crm_api.auth import mint_key, revoke_key
from liftoff.apps.crm_api.database import make_engine
from tests import crm_samples as sample
from tests.crm_samples import created


def errors_of(response) -> set[tuple[str, str]]:
    assert response.status_code == 422, response.text
    return {(error["loc"][-1], error["msg"]) for error in response.json()["detail"]}


@pytest.fixture
def sale_parts(api):
    supplier = created(api, "/suppliers", sample.supplier())
    product = created(api, "/products", sample.product(supplier["supplier_id"]))
    seller = created(api, "/employees", sample.employee())
    customer = created(api, "/customers", sample.customer())
    return customer, product, seller


def test_no_data_endpoint_answers_without_a_live_key(api, crm_database):
    data_routes = [
        (method, route.path)
        for route in api.app.routes
        if isinstance(route, APIRoute) and route.include_in_schema and route.path != "/health"
        for method in route.methods
    ]
    assert len(data_routes) == 6 * 5  # list, create, read, update, delete for six entities
    revoked = mint_key(api.app.state.engine, "leaver")
    assert revoke_key(api.app.state.engine, revoked.api_key_id)
    for headers in ({}, {"X-API-Key": "lok_not-a-key"}, {"X-API-Key": revoked.key}):
        anonymous = TestClient(api.app)
        for method, path in data_routes:
            response = anonymous.request(method, path.replace("{key}", "1"), json={}, headers=headers)
            assert response.status_code == 401, (method, path, headers)
            assert "X-API-Key" in response.json()["detail"]
    assert TestClient(api.app).get("/health").json() == {"status": "ok"}
    # Keys are stored hashed: the database never holds a usable key.
    with psycopg.connect(crm_database) as conn:
        stored = conn.execute("select key_sha256, key_prefix from crm.api_keys").fetchall()
    assert all(revoked.key not in row and api.headers["X-API-Key"] not in row for row in stored)


def test_a_customer_is_created_read_changed_and_softly_deleted(api, crm_database):
    customer = created(api, "/customers", sample.customer(email="  Carla.Dias@Example.COM "))
    key = customer["customer_id"]
    # Normalised by the contract: one spelling per mailbox, phones in E.164.
    assert (customer["email"], customer["phone_number"]) == ("carla.dias@example.com", "+5521998765432")
    assert customer["created_at"] == customer["updated_at"]
    assert api.get(f"/customers/{key}").json() == customer

    changed = api.patch(f"/customers/{key}", json={"city": "Niterói"}).json()
    assert changed["city"] == "Niterói"
    assert changed["updated_at"] > customer["updated_at"]
    assert changed["created_at"] == customer["created_at"]

    deleted = api.delete(f"/customers/{key}")
    assert deleted.status_code == 200
    assert deleted.json()["deleted_at"] is not None
    assert api.get(f"/customers/{key}").status_code == 404
    assert api.patch(f"/customers/{key}", json={"city": "Santos"}).status_code == 404
    assert api.delete(f"/customers/{key}").status_code == 404
    assert api.get("/customers").json()["total"] == 0
    # Deleted records are listed for an admin key only (tests/security: any other key gets 403).
    admin = {"X-API-Key": mint_key(api.app.state.engine, "auditor", scope="admin").key}
    listed = api.get("/customers", params={"include_deleted": True}, headers=admin).json()["items"]
    assert [row["customer_id"] for row in listed] == [key]
    # Soft: the row stays, with the deletion as its latest change, for the extraction to see.
    with psycopg.connect(crm_database) as conn:
        [(deleted_at, updated_at)] = conn.execute(
            "select deleted_at, updated_at from crm.customers where customer_id = %s", (key,)
        ).fetchall()
    assert deleted_at == updated_at


def test_invalid_input_is_422_naming_every_field_and_rule(api):
    response = api.post(
        "/employees",
        json=sample.employee(
            email="not-an-email", department_id=99, gender="X", salary=-1, first_name="R2-D2", bogus=1
        ),
    )
    assert errors_of(response) == {
        ("email", "is not a valid e-mail address"),
        ("department_id", "must be at most 20"),
        ("gender", "must be one of Masculino, Feminino, Prefiro não dizer"),
        ("salary", "must be greater than 0"),
        ("first_name", "has characters a person's name does not (letters, spaces, ' . - only)"),
        ("bogus", "is not a field of employees"),
    }
    # Rules across fields, once every field is sound.
    response = api.post(
        "/employees", json=sample.employee(termination_date="2024-01-01", birth_date="2010-01-01")
    )
    assert errors_of(response) == {
        ("termination_date", "is before hire_date"),
        ("hire_date", "is before the employee turned 18"),
    }
    # Wrong JSON types, missing fields and server-set fields.
    body = sample.customer(state="XX", telegram_chat_id="abc", customer_id=7)
    del body["city"]
    assert errors_of(api.post("/customers", json=body)) == {
        ("telegram_chat_id", "must be a whole number"),
        ("customer_id", "is set by the server, not sent"),
        ("city", "is required"),
        ("state", "must be one of " + ", ".join(__import__("liftoff.contracts").contracts.STATES)),
    }
    assert api.get("/customers").json()["total"] == 0, "nothing invalid was stored"


def test_an_update_must_leave_a_valid_record(api, sale_parts):
    _, _, seller = sale_parts
    response = api.patch(f"/employees/{seller['employee_id']}", json={"termination_date": "2020-01-01"})
    assert errors_of(response) == {("termination_date", "is before hire_date")}
    response = api.patch(f"/employees/{seller['employee_id']}", json={"manager_id": seller["employee_id"]})
    assert errors_of(response) == {("manager_id", "is the employee's own id")}
    response = api.patch(f"/employees/{seller['employee_id']}", json={})
    assert errors_of(response) == {("<body>", "names no field to change (send at least one)")}
    assert api.get(f"/employees/{seller['employee_id']}").json() == seller


def test_references_to_missing_records_name_the_key(api, sale_parts):
    customer, product, seller = sale_parts
    response = api.post("/sales", json=sample.sale(customer, product, seller, customer_id=424242))
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert (error["loc"], error["msg"], error["input"]) == (
        ["body", "customer_id"],
        "references an unknown customer",
        424242,
    )
    # A soft-deleted record is as good as missing.
    other = created(api, "/customers", sample.customer(email="other@example.com"))
    assert api.delete(f"/customers/{other['customer_id']}").status_code == 200
    response = api.post("/sales", json=sample.sale(other, product, seller))
    assert errors_of(response) == {("customer_id", "references an unknown customer")}
    assert errors_of(api.post("/products", json=sample.product(999))) == {
        ("supplier_id", "references an unknown supplier")
    }
    assert (
        created(api, "/sales", sample.sale(customer, product, seller))["customer_id"]
        == customer["customer_id"]
    )


def test_a_sale_copies_what_it_omits_from_the_records_it_references(api, sale_parts):
    customer, product, seller = sale_parts
    body = {
        "customer_id": customer["customer_id"],
        "product_id": product["product_id"],
        "seller_id": seller["employee_id"],
        "quantity": 3,
        "date": sample.sale(customer, product, seller)["date"],
    }
    sold = created(api, "/sales", body)
    assert (sold["email_customer"], sold["first_name"], sold["phone_number"]) == (
        customer["email"], customer["first_name"], customer["phone_number"],
    )  # fmt: skip
    assert (sold["name_product"], sold["unit_price"], sold["email_employee"]) == (
        product["name"], product["price"], seller["email"],
    )  # fmt: skip
    assert sold["price"] == product["price"] * 3
    # What the client sends is kept, and checked.
    response = api.post("/sales", json=body | {"price": 1.0, "name_product": "Outro"})
    assert errors_of(response) == {("price", "differs from unit_price × quantity by more than R$ 0.01")}
    # Nothing to copy from a missing record: the contract names the reference and what is missing.
    assert errors_of(api.post("/sales", json=body | {"customer_id": 77})) == {
        ("customer_id", "references an unknown customer")
    }


def test_implausible_dates_are_refused_naming_the_field_and_the_bound(api, sale_parts):
    """The API shares the contracts: what ingestion quarantines (a sale in year 1, a birth in year 1,
    a hire in 1850, a start in 9999) is refused here with the same reason, and nothing is stored."""
    customer, product, seller = sale_parts
    response = api.post("/sales", json=sample.sale(customer, product, seller, date="0001-01-01T00:00:00Z"))
    assert errors_of(response) == {("date", "is before 2000-01-01 (the CRM's first day)")}
    response = api.post("/sales", json=sample.sale(customer, product, seller, date="9999-12-31T00:00:00Z"))
    assert errors_of(response) == {("date", "is in the future")}
    response = api.post(
        "/employees", json=sample.employee(email="e1@liftoff.com.br", birth_date="0001-01-01")
    )
    assert errors_of(response) == {("birth_date", "is before 1900-01-01 (the earliest plausible birth date)")}
    body = sample.employee(
        email="e2@liftoff.com.br", hire_date="1850-03-01", start_date="1850-03-04", birth_date="1820-01-01"
    )
    assert errors_of(api.post("/employees", json=body)) == {
        ("hire_date", "is before 1950-01-01 (the earliest plausible hire)"),
        ("birth_date", "is before 1900-01-01 (the earliest plausible birth date)"),
    }
    response = api.patch(f"/employees/{seller['employee_id']}", json={"start_date": "9999-12-31"})
    assert errors_of(response) == {("start_date", "is more than 366 days in the future")}
    assert api.get("/sales").json()["total"] == 0, "nothing implausible was stored"
    assert api.get("/employees").json()["total"] == 1


def test_a_record_still_referenced_cannot_be_deleted(api, sale_parts):
    customer, product, seller = sale_parts
    sold = created(api, "/sales", sample.sale(customer, product, seller))
    response = api.delete(f"/products/{product['product_id']}")
    assert response.status_code == 409
    assert "1 sales (product_id)" in response.json()["detail"]
    assert api.delete(f"/sales/{sold['sale_id']}").status_code == 200
    assert api.delete(f"/products/{product['product_id']}").status_code == 200


def test_an_email_names_one_live_customer(api):
    first = created(api, "/customers", sample.customer())
    response = api.post("/customers", json=sample.customer(email="CARLA.DIAS@example.com"))
    assert response.status_code == 409
    assert "email" in response.json()["detail"]
    api.delete(f"/customers/{first['customer_id']}")
    created(api, "/customers", sample.customer())


def test_lists_page_and_filter(api):
    states = ["RJ", "SP", "RJ", "MG", "RJ"]
    keys = [
        created(api, "/customers", sample.customer(email=f"c{i}@example.com", state=state))["customer_id"]
        for i, state in enumerate(states)
    ]
    first = api.get("/customers", params={"limit": 2}).json()
    assert (first["total"], [r["customer_id"] for r in first["items"]]) == (5, keys[:2])
    last = api.get("/customers", params={"limit": 2, "offset": 4}).json()
    assert [r["customer_id"] for r in last["items"]] == keys[4:]
    in_rio = api.get("/customers", params={"state": "RJ"}).json()
    assert [r["customer_id"] for r in in_rio["items"]] == [keys[0], keys[2], keys[4]]
    by_email = api.get("/customers", params={"email": " C3@Example.com"}).json()
    assert [r["customer_id"] for r in by_email["items"]] == [keys[3]]
    since = api.get(f"/customers/{keys[3]}").json()["updated_at"]
    recent = api.get("/customers", params={"updated_since": since}).json()
    assert [r["customer_id"] for r in recent["items"]] == keys[3:]
    assert api.get("/customers", params={"limit": 501}).status_code == 422
    assert api.get("/customers", params={"state": "XX"}).status_code == 422
    assert api.get("/sales", params={"customer_id": 2**63}).status_code == 422  # beyond bigint


def test_a_half_open_window_of_changes_pages_by_key(api, crm_database):
    """`updated_since` (inclusive) and `updated_before` (exclusive) bound one window, so two
    consecutive windows never list a change twice; `after` pages by key, so a record changed while
    the pages are read shifts no page (an offset would skip the record that moved into its place)."""
    keys = [
        created(api, "/customers", sample.customer(email=f"w{i}@example.com"))["customer_id"]
        for i in range(4)
    ]
    moments = ["2026-10-14T03:00:00+00:00", "2026-10-14T12:00:00+00:00", "2026-10-15T02:59:59.999999+00:00",
               "2026-10-15T03:00:00+00:00"]  # fmt: skip
    with psycopg.connect(crm_database) as conn:
        for key, moment in zip(keys, moments, strict=True):
            conn.execute("update crm.customers set updated_at = %s where customer_id = %s", (moment, key))
    day = {"updated_since": "2026-10-14T00:00:00-03:00", "updated_before": "2026-10-15T00:00:00-03:00"}
    window = api.get("/customers", params=day).json()
    assert ([r["customer_id"] for r in window["items"]], window["total"]) == (keys[:3], 3)
    next_day = {"updated_since": "2026-10-15T00:00:00-03:00", "updated_before": "2026-10-16T00:00:00-03:00"}
    assert [r["customer_id"] for r in api.get("/customers", params=next_day).json()["items"]] == keys[3:]
    first = api.get("/customers", params=day | {"limit": 2}).json()["items"]
    api.patch(f"/customers/{keys[0]}", json={"city": "Niterói"})  # leaves the window meanwhile
    rest = api.get("/customers", params=day | {"limit": 2, "after": first[-1]["customer_id"]}).json()
    assert [r["customer_id"] for r in first + rest["items"]] == keys[:3]
    assert errors_of(api.get("/customers", params={"updated_before": "yesterday"})) == {
        ("updated_before", "must be a date and time (ISO 8601, e.g. 2026-11-29T14:30:00-03:00)")
    }
    assert api.get("/customers", params={"after": -1}).status_code == 422


def test_opt_outs_name_a_customer_by_id_or_email(api):
    customer = created(api, "/customers", sample.customer())
    by_id = created(api, "/opt-outs", {"customer_id": customer["customer_id"], "channel": "all"})
    by_email = created(
        api, "/opt-outs", {"email": "Someone@Example.com", "channel": "telegram", "reason": "spam"}
    )
    assert (by_id["channel"], by_email["email"]) == ("all", "someone@example.com")
    assert errors_of(api.post("/opt-outs", json={"channel": "email"})) == {
        ("customer_id", "or email is required (who opted out)")
    }
    assert errors_of(api.post("/opt-outs", json={"customer_id": 5, "channel": "sms"})) == {
        ("channel", "must be one of email, telegram, all")
    }
    listed = api.get("/opt-outs", params={"customer_id": customer["customer_id"]}).json()
    assert [row["opt_out_id"] for row in listed["items"]] == [by_id["opt_out_id"]]


def test_the_migrations_build_exactly_the_tables_the_api_uses(crm_database):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from liftoff.apps.crm_api.database import metadata
    from liftoff.apps.crm_api.migrate import downgrade, upgrade

    engine = make_engine(crm_database)
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"include_schemas": True, "version_table_schema": "crm"}
        )
        differences = [d for d in compare_metadata(context, metadata) if "alembic_version" not in str(d)]
    assert differences == []
    downgrade(crm_database, "base")
    upgrade(crm_database)
    engine.dispose()


def test_keys_are_minted_from_the_command_line(crm_database):
    env = {**os.environ, "LIFTOFF_CRM_DATABASE_URL": crm_database}
    minted = subprocess.run(
        [sys.executable, "-m", "liftoff.apps.crm_api", "key", "create", "sales-form"],
        capture_output=True, text=True, env=env, check=True,
    )  # fmt: skip
    key = minted.stdout.strip().splitlines()[-1]
    assert key.startswith("lok_")
    app = create_app(crm_database)
    client = TestClient(app)
    assert client.get("/sales", headers={"X-API-Key": key}).status_code == 200
    listed = subprocess.run(
        [sys.executable, "-m", "liftoff.apps.crm_api", "key", "list"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert "sales-form" in listed.stdout
    assert key not in listed.stdout
    app.state.engine.dispose()


def test_a_key_made_elsewhere_is_registered_once_from_the_environment(crm_database):
    """What `astro dev start` does: the crm-api service registers the key from .env that Airflow's
    `crm_api` connection also holds (docker-compose.override.yml), at every start."""
    key = "lok_" + "k" * 43

    def register(name="airbyte-extract", value=key, scope="admin"):
        env = {**os.environ, "LIFTOFF_CRM_DATABASE_URL": crm_database, "EXTRACT_KEY": value}
        command = ["key", "register", name, "--from-env", "EXTRACT_KEY", "--scope", scope]
        return subprocess.run(
            [sys.executable, "-m", "liftoff.apps.crm_api", *command], capture_output=True, text=True, env=env
        )

    first, again = register(), register()
    assert first.returncode == 0, first.stderr
    assert again.returncode == 0, again.stderr
    assert first.stdout.split()[2] == again.stdout.split()[2]  # the same id: registered once
    assert key not in first.stdout + first.stderr  # never echoed
    app = create_app(crm_database)
    client = TestClient(app)
    # An admin key: it may list soft-deleted records.
    deleted_too = client.get("/sales", params={"include_deleted": "true"}, headers={"X-API-Key": key})
    assert deleted_too.status_code == 200
    app.state.engine.dispose()
    with psycopg.connect(crm_database) as conn:
        [(registered,)] = conn.execute("select count(*) from crm.api_keys where name = 'airbyte-extract'")
    assert registered == 1

    # The same key under another name or scope, a malformed one, an empty variable: one line, exit 2.
    for refused, says in (
        (register(name="someone-else"), "already registered as 'airbyte-extract', scope admin"),
        (register(scope="standard"), "already registered as 'airbyte-extract', scope admin"),
        (register(value="lok_short"), "is not a CRM API key"),
        (register(value="x" * 50), "is not a CRM API key"),
        (register(value=""), "EXTRACT_KEY is not set"),
    ):
        assert refused.returncode == 2
        assert says in refused.stderr
        assert "Traceback" not in refused.stderr


def test_swagger_ui_is_served_without_a_cdn(api):
    page = TestClient(api.app).get("/docs")
    assert page.status_code == 200
    assert "cdn." not in page.text
    assert "/static/swagger-ui/swagger-ui-bundle.js" in page.text
    bundle = TestClient(api.app).get("/static/swagger-ui/swagger-ui-bundle.js")
    assert bundle.status_code == 200
    assert "SwaggerUIBundle" in bundle.text[:2000]
    assert TestClient(api.app).get("/openapi.json").json()["info"]["title"] == "LiftOff CRM API"


def test_odd_query_values_are_4xx_not_server_errors(api):
    assert errors_of(api.get("/customers", params={"email": "a\x00b"})) == {
        ("email", "contains control characters")
    }
    assert api.get("/customers", params={"email": "x" * 10_000}).json()["total"] == 0
    assert api.get("/customers", params={"offset": -1}).status_code == 422
    [typo] = api.get("/customers", params={"stat": "RJ"}).json()["detail"]
    assert typo["loc"] == ["query", "stat"]
    assert "state" in typo["msg"]
    assert errors_of(api.get("/customers", params={"updated_since": "0.5"})) == {
        ("updated_since", "must be a date and time (ISO 8601, e.g. 2026-11-29T14:30:00-03:00)")
    }


def test_a_method_the_path_lacks_gets_405_naming_every_method_it_has(api):
    response = api.put("/sales/1", json={})
    assert response.status_code == 405
    assert response.headers["Allow"] == "DELETE, GET, PATCH"
    assert api.put("/sales", json={}).headers["Allow"] == "GET, POST"


def test_a_revoked_key_is_refused_once_its_holder_is_no_longer_remembered(crm_database):
    """Each API process remembers a live key's holder for HOLDER_TTL_SECONDS (a database round trip
    per request saved): a revocation takes effect within that time, and an unknown key is never
    remembered."""
    from liftoff.apps.crm_api.auth import HOLDER_TTL_SECONDS, KeyHolders

    engine = make_engine(crm_database)
    minted = mint_key(engine, "leaver")
    now = [0.0]
    holders = KeyHolders(engine, clock=lambda: now[0])
    assert holders.cached(minted.key) is None
    assert holders.lookup(minted.key).name == "leaver"
    assert revoke_key(engine, minted.api_key_id)
    now[0] = HOLDER_TTL_SECONDS - 0.1
    assert holders.lookup(minted.key).name == "leaver", "remembered within its time"
    now[0] = HOLDER_TTL_SECONDS
    assert holders.cached(minted.key) is None
    assert holders.lookup(minted.key) is None, "asked again, and refused"
    assert holders.lookup("lok_unknown") is None
    assert holders.cached("lok_unknown") is None
    assert HOLDER_TTL_SECONDS <= 10


def test_a_pooled_connection_the_server_closed_is_replaced_before_a_request_uses_it(
    api, crm_database, monkeypatch
):
    """No pre-ping round trip on every checkout (`database._alive_at_checkout`): a connection the
    server has closed (a restart, pg_terminate_backend, an idle timeout) is still never handed to
    a request, and a long idle one is pinged (a failed ping replaces it too)."""
    from liftoff.apps.crm_api import database

    customer = created(api, "/customers", sample.customer())
    read = f"/customers/{customer['customer_id']}"
    engine = api.app.state.engine
    for attempt in range(2):
        with psycopg.connect(crm_database, autocommit=True) as admin:
            (ended,) = admin.execute(
                "select count(pg_terminate_backend(pid)) from pg_stat_activity where backend_type ="
                " 'client backend' and datname = current_database() and pid <> pg_backend_pid()"
            ).fetchone()
        assert ended >= 1
        assert engine.pool.checkedin() >= 1
        time.sleep(0.2)  # the server's goodbye reaches the pooled socket
        assert api.get(read).status_code == 200
        assert (
            api.post("/customers", json=sample.customer(email=f"c{attempt}@example.com")).status_code == 201
        )
    pings: list[object] = []

    def failing_ping(dbapi_connection):
        pings.append(dbapi_connection)
        raise psycopg.OperationalError("no answer")

    monkeypatch.setattr(engine.dialect, "do_ping", failing_ping)
    assert api.get(read).status_code == 200
    assert pings == []  # used a moment ago: no ping
    for record in list(engine.pool._pool.queue):
        record.info[database._IDLE_SINCE] -= database.PING_AFTER_IDLE_SECONDS + 1
    assert api.get(read).status_code == 200  # pinged, failed, replaced by a new connection
    assert len(pings) == 1


def test_a_sale_is_not_stored_against_a_customer_changed_between_its_check_and_its_insert(
    api, sale_parts, crm_database, monkeypatch
):
    """A create reads what it checks against, then inserts only if that still holds (one statement
    each, no transaction held between): a customer deleted, or whose e-mail changed, in between
    makes it read and check again."""
    from liftoff.apps.crm_api import app as app_module

    customer, product, seller = sale_parts
    reads = []
    read_context = app_module._write_context

    def then_change(conn, contract, record, new_key, lock):
        found = read_context(conn, contract, record, new_key=new_key, lock=lock)
        reads.append(found)
        change = {1: "email = 'outra@example.com'", 2: "deleted_at = now()"}.get(len(reads))
        if change:
            with psycopg.connect(crm_database, autocommit=True) as other:
                other.execute(
                    f"update crm.customers set {change} where customer_id = %s", (customer["customer_id"],)
                )
        return found

    monkeypatch.setattr(app_module, "_write_context", then_change)
    body = sample.sale(customer, product, seller)
    body.pop("email_customer")  # copied from the customer as read
    answer = api.post("/sales", json=body)
    assert len(reads) == 3  # read, e-mail changed; read again, deleted; read: unknown customer
    assert errors_of(answer) == {("customer_id", "references an unknown customer")}
    with psycopg.connect(crm_database) as conn:
        assert conn.execute("select count(*) from crm.sales").fetchone() == (0,)


@pytest.fixture
def statements(api) -> list[str]:
    """Every statement the API sends to the CRM database from now on, but the key lookups."""
    from sqlalchemy import event

    sent: list[str] = []

    def record(_conn, _cursor, statement, *_):
        if "api_keys" not in statement:
            sent.append("INSERT" if statement.lstrip().upper().startswith("INSERT") else "SELECT")

    event.listen(api.app.state.engine, "before_cursor_execute", record)
    yield sent
    event.remove(api.app.state.engine, "before_cursor_execute", record)


def test_a_valid_create_is_one_statement_and_anything_else_is_decided_by_reading_first(
    api, sale_parts, statements, monkeypatch
):
    """`create_in_one_trip`: a record that passes its check, assuming its references live and the
    app's clock, is stored by one INSERT guarded by those assumptions. When they do not hold the
    insert stores nothing and the read-check way answers as it always did: an e-mail not the
    customer's, a unit price too near the discount limit for the guard to judge, a database clock
    behind the app's."""
    from datetime import UTC, datetime, timedelta

    from liftoff.apps.crm_api import app as app_module
    from liftoff.apps.crm_api.auth import ADMIN
    from liftoff.apps.crm_api.database import KEY_START

    customer, product, seller = sale_parts
    other = created(api, "/customers", sample.customer(email="outra@example.com"))
    statements.clear()
    sold = created(api, "/sales", sample.sale(customer, product, seller))
    assert statements == ["INSERT"]
    assert sold["sale_id"] >= KEY_START
    assert sold["customer_id"] == customer["customer_id"]

    statements.clear()
    wrong = sample.sale(customer, product, seller, email_customer=other["email"])
    assert [field for field, _ in errors_of(api.post("/sales", json=wrong))] == ["email_customer"]
    assert statements == ["INSERT", "SELECT"], "the guarded insert stored nothing; read, checked, refused"

    # Product price 4,500.00: half of it is allowed, a cent below is not (Python's rounding decides).
    half = product["price"] / 2
    statements.clear()
    at_limit = created(api, "/sales", sample.sale(customer, product, seller, unit_price=half, price=2 * half))
    assert statements == ["INSERT", "SELECT", "INSERT"]
    assert at_limit["unit_price"] == half
    below = sample.sale(customer, product, seller, unit_price=half - 0.01, price=2 * (half - 0.01))
    assert [field for field, _ in errors_of(api.post("/sales", json=below))] == ["unit_price"]
    statements.clear()
    admin = {"X-API-Key": mint_key(api.app.state.engine, "sales-manager", scope=ADMIN).key}
    assert api.post("/sales", json=below, headers=admin).status_code == 201
    assert statements == ["INSERT"], "an admin key's deep discount needs no reading"

    # An app clock ahead of the database's: the database's decides, and stamps the record.
    monkeypatch.setattr(app_module, "_app_clock", lambda: datetime.now(UTC) + timedelta(hours=1))
    statements.clear()
    ahead = created(api, "/sales", sample.sale(customer, product, seller))
    assert statements == ["INSERT", "SELECT", "INSERT"]
    assert datetime.fromisoformat(ahead["created_at"]) < datetime.now(UTC) + timedelta(minutes=5)
    assert api.get("/sales").json()["total"] == 4


def test_a_record_that_passes_its_check_passes_it_at_any_later_moment():
    """What the one-trip create relies on (`_insert_checked_statement`): checked at the app's clock,
    a record is stored only if the database's clock is not behind it, so every clock rule of the
    contracts must pass at any moment after one it passed at (ceilings and floors on the record's
    own dates, created_at and updated_at being the moment itself)."""
    from datetime import UTC, datetime, timedelta

    import pyarrow as pa

    from liftoff.apps.crm_api.records import check_record
    from liftoff.contracts import CRM_CONTRACTS
    from liftoff.contracts.engine import ValidationContext

    moment = datetime(2026, 12, 3, 12, tzinfo=UTC)
    people = {"customer_id": 7, "email": "carla.dias@example.com", "first_name": "Carla"}
    people |= {"last_name": "Dias", "phone_number": "+5521998765432", "employee_id": 8, "price": 10.0}
    people |= {"name": "Notebook", "product_id": 9}
    edges = {
        "suppliers": sample.supplier(),
        "products": sample.product(1),
        "employees": sample.employee(start_date=(moment + timedelta(days=366)).date().isoformat()),
        "customers": sample.customer(),
        "sales": sample.sale(people, people, people, unit_price=10.0, price=20.0, date=moment.isoformat()),
        "opt_outs": {"customer_id": 7, "channel": "email", "reason": "asked"},
    }
    known = {entity: pa.array(range(1, 10), pa.int64()) for entity in CRM_CONTRACTS}
    for entity, body in edges.items():
        contract = CRM_CONTRACTS[entity]
        for later in (timedelta(0), timedelta(seconds=1), timedelta(days=1), timedelta(days=400)):
            clock = moment + later
            record = {**body, contract.natural_key: 1, "created_at": clock.isoformat()}
            if "updated_at" in contract.model_fields:
                record["updated_at"] = clock.isoformat()
            record = {name: value for name, value in record.items() if name in contract.model_fields}
            _, errors = check_record(contract, record, ValidationContext(as_of=clock, references=known))
            assert errors == [], (entity, later, errors)
