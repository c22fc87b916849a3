"""A sale must agree with the records it references (issue 19, the last part of finding 8).

Decided (liftoff/apps/crm_api/sales.py): a sale carrying another person's e-mail is refused; a unit
price more than half below the product's is refused unless the key is `admin`. Each rule is judged
on what a request changes, so an old sale stays editable after its product's price moves.
"""

from __future__ import annotations

import pytest

from liftoff.apps.crm_api.auth import ADMIN, mint_key
from tests import crm_samples as sample
from tests.crm_samples import created

pytestmark = pytest.mark.services


def errors_of(response) -> list[tuple[str, str]]:
    assert response.status_code == 422, response.text
    return [(error["loc"][-1], error["msg"]) for error in response.json()["detail"]]


@pytest.fixture
def parts(api):
    supplier = created(api, "/suppliers", sample.supplier())
    product = created(api, "/products", sample.product(supplier["supplier_id"], price=200.0))
    seller = created(api, "/employees", sample.employee())
    customer = created(api, "/customers", sample.customer())
    other = created(api, "/customers", sample.customer(email="bruno.reis@example.com"))
    return customer, other, product, seller


@pytest.fixture
def admin(api) -> dict[str, str]:
    return {"X-API-Key": mint_key(api.app.state.engine, "sales-manager", scope=ADMIN).key}


def test_a_sale_with_another_customers_email_is_refused(api, parts):
    customer, other, product, seller = parts
    response = api.post("/sales", json=sample.sale(customer, product, seller, email_customer=other["email"]))
    assert errors_of(response) == [
        ("email_customer", f"is not the e-mail of customer {customer['customer_id']} on record "
                           "(leave it out to copy theirs)"),
    ]  # fmt: skip
    assert response.json()["detail"][0]["input"] == "bruno.reis@example.com"
    # Not the seller's either.
    response = api.post("/sales", json=sample.sale(customer, product, seller, email_employee=other["email"]))
    assert [field for field, _ in errors_of(response)] == ["email_employee"]
    assert api.get("/sales").json()["total"] == 0, "nothing refused was stored"

    # The customer's own address in another spelling is theirs (the contract normalises it first).
    spelled = sample.sale(customer, product, seller, email_customer=customer["email"].upper() + " ")
    assert created(api, "/sales", spelled)["email_customer"] == customer["email"]
    # Left out, it is copied.
    body = sample.sale(customer, product, seller)
    del body["email_customer"]
    sold = created(api, "/sales", body)
    assert sold["email_customer"] == customer["email"]

    # Moving a sale to another customer while keeping the first one's e-mail is the same mismatch.
    moved = api.patch(f"/sales/{sold['sale_id']}", json={"customer_id": other["customer_id"]})
    assert [field for field, _ in errors_of(moved)] == ["email_customer"]
    moved = api.patch(
        f"/sales/{sold['sale_id']}",
        json={"customer_id": other["customer_id"], "email_customer": other["email"]},
    )
    assert moved.status_code == 200, moved.text
    assert api.get(f"/sales/{sold['sale_id']}").json()["email_customer"] == other["email"]


def test_a_price_far_below_the_products_needs_an_admin_key(api, parts, admin):
    customer, _, product, seller = parts
    half = sample.sale(customer, product, seller, unit_price=100.0, quantity=1, price=100.0)
    half_price = created(api, "/sales", half)  # 50% off: any key

    deeper = sample.sale(customer, product, seller, unit_price=99.99, quantity=1, price=99.99)
    assert errors_of(api.post("/sales", json=deeper)) == [
        ("unit_price", f"is more than 50% below product {product['product_id']}'s price (R$ 200.00): "
                       "a deeper discount needs an admin key"),
    ]  # fmt: skip
    typo = sample.sale(customer, product, seller, unit_price=2.0, quantity=1, price=2.0)  # R$ 200 typed as 2
    assert [field for field, _ in errors_of(api.post("/sales", json=typo))] == ["unit_price"]
    assert api.get("/sales").json()["total"] == 1

    approved = api.post("/sales", json=typo, headers=admin)
    assert approved.status_code == 201, approved.text
    sale_id = approved.json()["sale_id"]
    # A standard key cannot cut the price of a stored sale either...
    cut = api.patch(f"/sales/{half_price['sale_id']}", json={"unit_price": 10.0, "price": 10.0})
    assert [field for field, _ in errors_of(cut)] == ["unit_price"]
    # ...but may change what the rule does not judge on the approved sale (its quantity),
    # and after the product's price moves, on the half-price one.
    assert api.patch(f"/sales/{sale_id}", json={"quantity": 2, "price": 4.0}).status_code == 200
    assert api.patch(f"/products/{product['product_id']}", json={"price": 500.0}).status_code == 200
    assert (
        api.patch(f"/sales/{half_price['sale_id']}", json={"quantity": 3, "price": 300.0}).status_code == 200
    )
    assert [s["unit_price"] for s in api.get("/sales").json()["items"]] == [100.0, 2.0]
