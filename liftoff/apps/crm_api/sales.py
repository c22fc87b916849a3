"""What a sale must agree with in the records it references, beyond what its contract checks alone.

A sale repeats fields of its customer, product and seller (the CRM's own shape). A client may leave
them out: `fill_sale` copies them from the live records the sale references, and the total from
unit price × quantity. What the client sends is kept, and checked twice: by the contract (shapes,
rules within the record) and by `reference_conflicts` (rules across records), where the CRM decides:

- **Refused: a copied e-mail that is not the referenced person's.** `email_customer` must be the
  customer's e-mail on record and `email_employee` the seller's. A sale of customer A carrying B's
  address puts B's personal data in A's history (and any report or export keyed on the sale's
  e-mail reaches the wrong person); no legitimate entry needs it. Leave the field out and it is copied.
- **Refused unless the key is `admin`: a unit price more than MAX_DISCOUNT below the product's.**
  Discounts are ordinary; a sale far below list price is either a typing slip (R$ 19.90 for 1,990)
  or goods given away, and neither should pass unseen. A key with the `admin` scope (the sales
  manager's) may record it: the approval is who holds the key, and the key's name is on record.

Both rules judge what the request changes: a PATCH that touches neither the price nor the product
of an old sale (say, its quantity) is not refused because the product's list price moved since.
"""

from __future__ import annotations

from typing import Any

from liftoff.apps.crm_api.records import FieldError

# The live record each reference field of a record names, with the columns the checks read
# (None where it names no live record); fetched once per write by the API (`app._write_context`).
Referenced = dict[str, dict[str, Any] | None]

# Which fields a sale copies from which referenced record: reference → (entity, {sale field: its field}).
SALE_COPIES: dict[str, tuple[str, dict[str, str]]] = {
    "customer_id": (
        "customers",
        {"email_customer": "email", "first_name": "first_name", "last_name": "last_name",
         "phone_number": "phone_number"},
    ),
    "product_id": ("products", {"name_product": "name", "unit_price": "price"}),
    "seller_id": ("employees", {"email_employee": "email"}),
}  # fmt: skip
# The columns of each referenced record a sale's checks read (its copies' sources).
REFERENCED_COLUMNS = {reference: tuple(copies.values()) for reference, (_, copies) in SALE_COPIES.items()}
SALE_FILLED = frozenset({"price", *(name for _, copies in SALE_COPIES.values() for name in copies)})
# The copies that must equal their source: reference → (copied field, the source's field).
MATCHING_COPIES = {"customer_id": ("email_customer", "email"), "seller_id": ("email_employee", "email")}
# The deepest discount on the product's price a standard key may record (0.5: half price).
MAX_DISCOUNT = 0.5


def is_key(value: Any) -> bool:
    """A whole number that can be a bigint key (booleans are not numbers here)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**63


def fill_sale(body: dict[str, Any], referenced: Referenced) -> tuple[dict[str, Any], list[FieldError]]:
    """The sale with what it omits copied from the records it references (`referenced`: the live
    record each reference names, None for none), and the references nothing could be copied from
    (as the contract's own error: the fields they would have filled are then not "required")."""
    filled = dict(body)
    unresolved: list[FieldError] = []
    for reference, (entity, copies) in SALE_COPIES.items():
        missing = [name for name in copies if name not in body]
        if not missing or not is_key(body.get(reference)):
            continue  # a missing or malformed reference is the contract's to report
        row = referenced.get(reference)
        if row is not None:
            filled.update({name: row[copies[name]] for name in missing})
        else:
            unresolved.append(FieldError(reference, f"references an unknown {entity[:-1]}", body[reference]))
    unit_price, quantity = filled.get("unit_price"), filled.get("quantity")
    numbers = (int, float)
    if "price" not in body and isinstance(unit_price, numbers) and is_key(quantity) and quantity <= 10**6:
        filled["price"] = round(float(unit_price) * quantity, 2)
    return filled, unresolved


def reference_conflicts(
    sale: dict[str, Any], referenced: Referenced, changed: set[str], may_discount_deeply: bool
) -> list[FieldError]:
    """What in `sale` (as the contract stored it: e-mails normalised) disagrees with the records it
    references, judging only the rules whose fields are in `changed` (every field on a create)."""
    conflicts: list[FieldError] = []
    for reference, (field, source_field) in MATCHING_COPIES.items():
        row = referenced.get(reference)
        if changed & {reference, field} and row is not None and row[source_field] != sale[field]:
            entity = SALE_COPIES[reference][0]
            conflicts.append(
                FieldError(
                    field,
                    f"is not the e-mail of {entity[:-1]} {sale[reference]} on record "
                    "(leave it out to copy theirs)",
                    sale[field],
                )
            )
    product = referenced.get("product_id")
    judged = bool(changed & {"product_id", "unit_price"}) and not may_discount_deeply and product is not None
    if judged and sale["unit_price"] < round(product["price"] * (1 - MAX_DISCOUNT), 2):
        conflicts.append(
            FieldError(
                "unit_price",
                f"is more than {MAX_DISCOUNT:.0%} below product {sale['product_id']}'s price "
                f"(R$ {product['price']:.2f}): a deeper discount needs an admin key",
                sale["unit_price"],
            )
        )
    return conflicts
