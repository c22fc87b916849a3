"""Valid CRM records as a client sends them, for the API, contract and end-to-end tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from liftoff.contracts import CONTRACTS


def supplier(**changes: Any) -> dict[str, Any]:
    return {
        "company_name": "Alfa Eletrônicos Ltda",
        "contact_name": "Ana Souza",
        "email": "Contato@Alfa.com.br",
        "phone_number": "(11) 98765-4321",
        "website": "https://alfa.com.br",
        "address": "Rua Augusta, 100, São Paulo, SP",
        "product_categories": "Eletrônico, Móveis",
        "primary_product": "Notebook",
    } | changes


def product(supplier_id: int, **changes: Any) -> dict[str, Any]:
    return {
        "supplier_id": supplier_id,
        "name": "Notebook Pro 14",
        "description": "Notebook de 14 polegadas, 16 GB de memória.",
        "categoria": "Eletrônico",
        "price": 4500.0,
        "email_fornecedor": "contato@alfa.com.br",
    } | changes


def employee(**changes: Any) -> dict[str, Any]:
    return {
        "first_name": "Bruno",
        "last_name": "Lima",
        "email": "bruno.lima@liftoff.com.br",
        "phone_number": "+55 11 91234-5678",
        "hire_date": "2024-03-01",
        "department_id": 3,
        "job_title": "Vendedor",
        "location": "São Paulo, SP, Brasil",
        "gender": "Masculino",
        "nationality": "Brasileira",
        "birth_date": "1990-05-10",
        "start_date": "2024-03-04",
        "salary": 5200.0,
    } | changes


def customer(**changes: Any) -> dict[str, Any]:
    return {
        "first_name": "Carla",
        "last_name": "Dias",
        "email": "carla.dias@example.com",
        "phone_number": "21 99876-5432",
        "city": "Rio de Janeiro",
        "state": "RJ",
    } | changes


def sale(customer_record: dict, product_record: dict, seller_record: dict, **changes: Any) -> dict[str, Any]:
    quantity = changes.pop("quantity", 2)
    return {
        "customer_id": customer_record["customer_id"],
        "product_id": product_record["product_id"],
        "seller_id": seller_record["employee_id"],
        "email_employee": seller_record["email"],
        "email_customer": customer_record["email"],
        "first_name": customer_record["first_name"],
        "last_name": customer_record["last_name"],
        "phone_number": customer_record["phone_number"],
        "name_product": product_record["name"],
        "unit_price": product_record["price"],
        "quantity": quantity,
        "price": round(product_record["price"] * quantity, 2),
        "date": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
    } | changes


def created(client: Any, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST `body` to the CRM API and the created record (the test fails on any answer but 201)."""
    response = client.post(path, json=body)
    assert response.status_code == 201, response.text
    return response.json()


@dataclass(frozen=True)
class Shop:
    """The smallest CRM a sale can be made in, as the API returned each record."""

    supplier: dict[str, Any]
    product: dict[str, Any]
    seller: dict[str, Any]
    customers: dict[str, dict[str, Any]]  # by e-mail


def small_shop(client: Any, *customer_emails: str) -> Shop:
    """A supplier, its product, a seller and one customer per e-mail, created through the API."""
    supplier_record = created(client, "/suppliers", supplier())
    product_record = created(client, "/products", product(supplier_record["supplier_id"]))
    seller = created(client, "/employees", employee())
    customers = {email: created(client, "/customers", customer(email=email)) for email in customer_emails}
    return Shop(supplier_record, product_record, seller, customers)


def stamp(dsn: str, entity: str, key: int, moment: datetime) -> None:
    """Date a record's creation and last change to `moment` (the API takes the database's clock)."""
    natural_key = CONTRACTS[entity].natural_key
    with psycopg.connect(dsn) as conn:
        conn.execute(
            psycopg.sql.SQL(
                "update {} set created_at = least(created_at, %s), updated_at = %s where {} = %s"
            ).format(psycopg.sql.Identifier("crm", entity), psycopg.sql.Identifier(natural_key)),
            (moment, moment, key),
        )
