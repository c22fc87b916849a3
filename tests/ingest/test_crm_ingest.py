"""CRM records reach the warehouse: the updated_at extraction, contracts shared with ingestion,
and a sale entered through the API that shows up in gold after the ingest and transform DAGs."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pyarrow.parquet as pq
import pytest

from liftoff.apps.crm_api.database import KEY_START
from liftoff.ingest import landing
from liftoff.ingest.crm_extract import EXTRACT_PART, day_window, extract_crm_day
from liftoff.ingest.daily import load_landed_day
from liftoff.ingest.sources import SIMULATOR_ENV, simulator_variable
from liftoff.orchestration import TIMEZONE
from tests import crm_samples as sample
from tests.crm_samples import created

DAY = date(2026, 10, 14)


def set_updated_at(dsn: str, entity: str, key_column: str, key: int, moment: datetime) -> None:
    with psycopg.connect(dsn) as conn:
        conn.execute(
            psycopg.sql.SQL("update {} set updated_at = %s where {} = %s").format(
                psycopg.sql.Identifier("crm", entity), psycopg.sql.Identifier(key_column)
            ),
            (moment, key),
        )


def landed_keys(lake: str, entity: str, day: date, key: str) -> list[int]:
    path = landing.partition_dir(landing.lake_root(lake), entity, day) / EXTRACT_PART
    return pq.read_table(path.path).column(key).to_pylist()


def test_a_day_is_extracted_by_its_updated_at_window_and_reruns_land_the_same(api, crm_database, lake):
    start, end = day_window(DAY)
    keys = [
        created(api, "/customers", sample.customer(email=f"c{i}@example.com"))["customer_id"]
        for i in range(5)
    ]
    moments = [
        start - timedelta(microseconds=1),
        start,
        start + timedelta(hours=12),
        end - timedelta(microseconds=1),
        end,
    ]
    for key, moment in zip(keys, moments, strict=True):
        set_updated_at(crm_database, "customers", "customer_id", key, moment)
    # A soft delete on the day is seen (counted) but not landed.
    deleted = created(api, "/customers", sample.customer(email="gone@example.com"))["customer_id"]
    api.delete(f"/customers/{deleted}")
    set_updated_at(crm_database, "customers", "customer_id", deleted, start + timedelta(hours=1))

    first = extract_crm_day(crm_database, lake, "customers", DAY)
    assert (first.records_extracted, first.records_deleted) == (3, 1)
    assert landed_keys(lake, "customers", DAY, "customer_id") == keys[1:4]
    # Half-open windows: the boundary rows belong to exactly one neighbouring day.
    extract_crm_day(crm_database, lake, "customers", DAY - timedelta(days=1))
    extract_crm_day(crm_database, lake, "customers", DAY + timedelta(days=1))
    assert landed_keys(lake, "customers", DAY - timedelta(days=1), "customer_id") == keys[:1]
    assert landed_keys(lake, "customers", DAY + timedelta(days=1), "customer_id") == keys[4:]
    again = extract_crm_day(crm_database, lake, "customers", DAY)
    assert (again.records_extracted, again.landed_file) == (first.records_extracted, first.landed_file)
    assert landed_keys(lake, "customers", DAY, "customer_id") == keys[1:4]


def test_without_a_migrated_crm_nothing_is_extracted(warehouse, lake):
    summary = extract_crm_day(warehouse, lake, "sales", DAY)  # a database with no crm schema
    assert summary.records_extracted == 0
    assert "not migrated" in summary.skipped
    assert extract_crm_day(None, lake, "sales", DAY).skipped == "no 'crm' connection"


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
    api, crm_database, warehouse, lake
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
    for entity in ("customers", "employees"):
        extract_crm_day(crm_database, lake, entity, day)
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
def test_a_sale_entered_through_the_api_reaches_gold(api, crm_database, warehouse, lake, dags, monkeypatch):
    supplier = created(api, "/suppliers", sample.supplier())
    product = created(api, "/products", sample.product(supplier["supplier_id"]))
    seller = created(api, "/employees", sample.employee())
    customer = created(api, "/customers", sample.customer())
    sale = created(api, "/sales", sample.sale(customer, product, seller, quantity=3))
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
    assert latest == [(sale["sale_id"], product["product_id"], product["name"])]
    assert sales_count == simulated_count + 1
    assert float(revenue) == pytest.approx(float(simulated_revenue) + sale["price"], abs=0.05)
