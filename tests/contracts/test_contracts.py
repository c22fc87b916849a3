"""Contracts: each rule rejects what it should, with the field and reason named; the per-record
path (Pydantic) and the batch path (Arrow) give the same verdict on the same records."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pyarrow as pa
import pytest
from pydantic import ValidationError

from liftoff.contracts import CONTRACTS, Customer, Employee, Product, Sale, Supplier, normalise_phone
from liftoff.contracts.engine import SchemaDriftError, ValidationContext, end_of_day, validate_table
from liftoff.ingest.simulator import SimulatorConfig, activity, snapshot

AS_OF = datetime(2026, 5, 5, 3, tzinfo=UTC)
KNOWN = {
    "customers": pa.array([1, 2]),
    "products": pa.array([1]),
    "employees": pa.array([1, 7]),
    "suppliers": pa.array([1]),
}
CONTEXT = ValidationContext(as_of=AS_OF, references=KNOWN)
WHEN = datetime(2026, 5, 4, 12, tzinfo=UTC)

SALE = {
    "sale_id": 1,
    "customer_id": 1,
    "product_id": 1,
    "seller_id": 7,
    "email_employee": "ana@liftoff.com.br",
    "email_customer": "jose.silva@gmail.com",
    "first_name": "José",
    "last_name": "da Silva",
    "phone_number": "(11) 98765-4321",
    "name_product": "Smart TV Aurora 0001",
    "unit_price": 10.0,
    "quantity": 3,
    "price": 30.0,
    "date": WHEN,
    "created_at": WHEN,
}
EMPLOYEE = {
    "employee_id": 7,
    "manager_id": 1,
    "first_name": "Ana",
    "last_name": "Souza",
    "email": "ana@liftoff.com.br",
    "phone_number": "+55 21 99876-5432",
    "hire_date": date(2025, 3, 1),
    "department_id": 1,
    "job_title": "Vendedor",
    "location": "Rio de Janeiro, RJ, Brasil",
    "gender": "Feminino",
    "nationality": "Brasileira",
    "birth_date": date(1990, 6, 15),
    "start_date": date(2025, 3, 3),
    "termination_date": None,
    "salary": 4500.0,
    "created_at": WHEN,
    "updated_at": WHEN,
}


def reject(contract, record: dict) -> str:
    with pytest.raises(ValidationError) as error:
        contract.model_validate(record, context=CONTEXT)
    return str(error.value)


def test_a_valid_sale_is_normalised():
    sale = Sale.model_validate(SALE | {"email_customer": "  Jose.Silva@GMAIL.com "}, context=CONTEXT)
    assert sale.phone_number == "+5511987654321"
    assert sale.email_customer == "jose.silva@gmail.com"


@pytest.mark.parametrize(
    ("typed", "e164"),
    [
        ("(11) 98765-4321", "+5511987654321"),
        ("+55 11 98765-4321", "+5511987654321"),
        ("11987654321", "+5511987654321"),
        ("011 98765 4321", "+5511987654321"),
        ("551187654321", "+551187654321"),
        ("+351 912 345 678", "+351912345678"),
    ],
)
def test_phone_numbers_become_e164(typed, e164):
    assert normalise_phone(pa.array([typed]))[0].as_py() == e164


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        ({"price": 31.0}, "price", "differs from unit_price × quantity"),
        ({"customer_id": 5}, "customer_id", "unknown customer"),
        ({"seller_id": 99}, "seller_id", "unknown employee"),
        ({"date": datetime(2026, 6, 1, tzinfo=UTC)}, "date", "in the future"),
        ({"email_customer": "jose at gmail.com"}, "email_customer", "pattern"),
        ({"quantity": 0}, "quantity", "greater than 0"),
        ({"unit_price": -10.0, "price": -30.0}, "unit_price", "greater than 0"),
        ({"unit_price": 10_000_000.0, "price": 30_000_000.0}, "unit_price", "less than or equal"),
        ({"phone_number": "123"}, "phone_number", "pattern"),
        ({"first_name": "Robert'); DROP TABLE sales;--"}, "first_name", "pattern"),
        ({"first_name": "Ana\u202e"}, "first_name", "pattern"),
        ({"name_product": "x" * 201}, "name_product", "at most 200"),
        ({"name_product": "TV\x00"}, "name_product", "control characters"),
    ],
)
def test_sale_rules_name_the_field(change, field, reason):
    message = reject(Sale, SALE | change)
    assert field in message
    assert reason in message


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        ({"termination_date": date(2025, 2, 1)}, "termination_date", "before hire_date"),
        ({"birth_date": date(2010, 1, 1)}, "hire_date", "before the employee turned 18"),
        ({"manager_id": 55}, "manager_id", "unknown employee"),
        ({"manager_id": 7}, "manager_id", "own id"),
        ({"hire_date": date(2027, 1, 1), "start_date": date(2027, 1, 1)}, "hire_date", "in the future"),
        ({"salary": 0.0}, "salary", "greater than 0"),
        ({"gender": "Outro"}, "gender", "Masculino"),
        ({"department_id": 21}, "department_id", "less than or equal to 20"),
    ],
)
def test_employee_rules_name_the_field(change, field, reason):
    message = reject(Employee, EMPLOYEE | change)
    assert field in message
    assert reason in message


YEAR_1 = datetime(1, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("contract", "base", "change", "field", "reason"),
    [
        (Sale, SALE, {"date": YEAR_1}, "date", "is before 2000-01-01 (the CRM's first day)"),
        (Sale, SALE, {"date": datetime(1999, 12, 31, 23, 59, tzinfo=UTC)}, "date", "is before 2000-01-01"),
        (Sale, SALE, {"created_at": YEAR_1}, "created_at", "is before 2000-01-01"),
        (Sale, SALE, {"created_at": datetime(9999, 12, 31, tzinfo=UTC)}, "created_at", "is in the future"),
        (Employee, EMPLOYEE, {"birth_date": date(1, 1, 1)}, "birth_date", "is before 1900-01-01"),
        (Employee, EMPLOYEE, {"hire_date": date(1850, 3, 1), "start_date": date(1850, 3, 1),
                              "birth_date": date(1830, 1, 1)}, "hire_date", "is before 1950-01-01"),
        (Employee, EMPLOYEE, {"start_date": date(9999, 12, 31)}, "start_date",
         "is more than 366 days in the future"),
        (Employee, EMPLOYEE, {"updated_at": datetime(1970, 1, 1, tzinfo=UTC)}, "updated_at",
         "is before 2000"),
        (Employee, EMPLOYEE, {"created_at": datetime(9999, 1, 1, tzinfo=UTC)}, "created_at",
         "is in the future"),
    ],
)  # fmt: skip
def test_dates_outside_their_business_bounds_are_rejected_naming_field_and_bound(
    contract, base, change, field, reason
):
    assert f"{field}: {reason}" in reject(contract, base | change)


def test_dates_on_their_bounds_are_accepted():
    Sale.model_validate(SALE | {"date": datetime(2000, 1, 1, tzinfo=UTC)}, context=CONTEXT)
    Employee.model_validate(
        EMPLOYEE
        | {"hire_date": date(1950, 1, 1), "start_date": date(1950, 1, 2), "birth_date": date(1900, 1, 1)},
        context=CONTEXT,
    )
    Employee.model_validate(EMPLOYEE | {"start_date": date(2027, 5, 6)}, context=CONTEXT)  # as_of + 366


def test_an_employee_who_turned_18_on_hire_day_is_accepted():
    Employee.model_validate(EMPLOYEE | {"birth_date": date(2007, 3, 1)}, context=CONTEXT)
    assert "turned 18" in reject(Employee, EMPLOYEE | {"birth_date": date(2007, 3, 2)})


def test_product_and_supplier_rules():
    product = {
        "product_id": 1,
        "supplier_id": 1,
        "name": "Sofá Ipê 0001",
        "description": "Um sofá.",
        "categoria": "Móveis",
        "price": 1200.0,
        "email_fornecedor": "contato@ipe1.com.br",
        "created_at": WHEN,
        "updated_at": WHEN,
    }
    Product.model_validate(product, context=CONTEXT)
    assert "categoria" in reject(Product, product | {"categoria": "Brinquedos"})
    assert "unknown supplier" in reject(Product, product | {"supplier_id": 2})
    supplier = {
        "supplier_id": 1,
        "company_name": "Ipê Ltda",
        "contact_name": "Carla Dias",
        "email": "contato@ipe.com.br",
        "phone_number": "(11) 3333-4444",
        "website": "https://www.ipe.com.br",
        "address": "Rua A, 1 - São Paulo",
        "product_categories": "Móveis, Roupas",
        "primary_product": "Sofá",
        "created_at": WHEN,
        "updated_at": WHEN,
    }
    Supplier.model_validate(supplier, context=CONTEXT)
    assert "outside the catalog" in reject(Supplier, supplier | {"product_categories": "Móveis, Armas"})
    assert "website" in reject(Supplier, supplier | {"website": "javascript:alert(1)"})


def test_validation_needs_its_context():
    customer = {
        "customer_id": 1,
        "first_name": "Ana",
        "last_name": "Lima",
        "email": "ana@gmail.com",
        "phone_number": "11987654321",
        "city": "Recife",
        "state": "PE",
        "created_at": WHEN,
        "updated_at": WHEN,
    }
    Customer.model_validate(customer, context=CONTEXT)
    with pytest.raises(ValidationError, match="ValidationContext"):
        Customer.model_validate(customer, context=None)


@pytest.mark.parametrize("entity", sorted(CONTRACTS))
def test_batch_and_record_paths_agree(entity):
    """The single-source promise: on dirty data, the Arrow batch engine rejects exactly the
    records Pydantic rejects one at a time."""
    day = date(2026, 3, 10)
    config = SimulatorConfig(sales_per_day=100, dirty_rate=0.3, seed=3)
    table = snapshot(entity, day, config) if entity != "sales" else activity(entity, day, config)
    table = table.slice(0, 300)  # one record at a time is slow: a sample of the day is enough
    known = {
        name: pa.array(range(1, 200_000)) for name in ("customers", "products", "employees", "suppliers")
    }
    context = ValidationContext(as_of=end_of_day(day, "America/Sao_Paulo"), references=known)
    outcome = validate_table(CONTRACTS[entity], table, context)
    key = CONTRACTS[entity].natural_key
    rejected_one_by_one = set()
    seen = set()
    for position, record in enumerate(table.to_pylist()):
        try:
            CONTRACTS[entity].model_validate(record, context=context)
        except ValidationError:
            rejected_one_by_one.add(position)
            continue
        if record[key] in seen:  # a repeat is a batch-level rule
            rejected_one_by_one.add(position)
        seen.add(record[key])
    assert outcome.invalid_rows.num_rows > 0
    assert set(outcome.invalid_positions.tolist()) == rejected_one_by_one


def test_schema_drift_names_the_columns():
    table = pa.Table.from_pylist([SALE]).drop_columns(["quantity"]).append_column("coupon", pa.array(["X"]))
    with pytest.raises(SchemaDriftError, match="missing columns quantity; unexpected columns coupon"):
        validate_table(Sale, table, CONTEXT, source="sales/dt=2026-05-04/part-0.parquet")


def test_a_value_of_the_wrong_type_fails_its_record_not_the_batch():
    """Text in a number column (a whole column of text, as an export writes it): the value that
    reads as a number loads, the one that does not is quarantined naming field and value."""
    rows = [SALE | {"sale_id": 1, "quantity": "3"}, SALE | {"sale_id": 2, "quantity": "three"}]
    table = pa.Table.from_pylist(rows, schema=pa.Table.from_pylist(rows).schema)
    assert table.schema.field("quantity").type == pa.string()
    outcome = validate_table(Sale, table, CONTEXT)
    assert outcome.valid.column("sale_id").to_pylist() == [1]
    assert outcome.valid.column("quantity").type == pa.int64()
    [[violation]] = outcome.violations
    assert violation.field == "quantity"
    assert violation.reason == "cannot be read as an integer: 'three' (a string value)"
    [payload] = outcome.payloads()
    assert payload["quantity"] == "three", "the quarantine keeps the value as received"


def test_a_boolean_is_not_a_number_even_where_arrow_would_cast_it():
    table = pa.Table.from_pylist([SALE]).set_column(11, "quantity", pa.array([True]))
    outcome = validate_table(Sale, table, CONTEXT)
    assert outcome.valid.num_rows == 0
    assert [v.field for v in outcome.violations[0]] == ["quantity"]
    assert "(a bool value)" in outcome.violations[0][0].reason
