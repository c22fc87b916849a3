"""The simulator's dirty-data knob: the bad records real CRMs produce, injected on purpose.

Each corrupted record carries exactly one defect, so a test can expect every one of them in the
quarantine. Duplicates are copies of clean records appended to the batch.
"""

from __future__ import annotations

import json
from datetime import timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

DEFECTS_METADATA_KEY = b"liftoff.defects"
SQL_INJECTION = "Robert'); DROP TABLE sales;--"
ODD_UNICODE_SUFFIX = "\u200b\u202e"  # zero-width space, right-to-left override
ABSURD_PRICE = 10_000_000.0
UNKNOWN_ID = 99_999_999

_NAME_COLUMN = {
    "sales": "first_name", "customers": "first_name", "employees": "first_name",
    "suppliers": "contact_name", "products": "name",
}  # fmt: skip
_EMAIL_COLUMN = {
    "sales": "email_customer", "customers": "email", "employees": "email",
    "suppliers": "email", "products": "email_fornecedor",
}  # fmt: skip
_DATE_COLUMN = {
    "sales": "date", "customers": "created_at", "employees": "hire_date",
    "suppliers": "created_at", "products": "created_at",
}  # fmt: skip
_REFERENCE_COLUMN = {"sales": "product_id", "products": "supplier_id", "employees": "manager_id"}
_PRICE_COLUMN = {"sales": "unit_price", "products": "price", "employees": "salary"}


def defect_kinds(entity: str) -> list[str]:
    kinds = ["invalid_email", "missing_field", "future_date", "duplicate"]
    if entity in _PRICE_COLUMN:
        kinds += ["negative_price", "absurd_price"]
    if entity in _REFERENCE_COLUMN:
        kinds.append("unknown_reference")
    if entity != "products":
        kinds += ["sql_injection", "odd_unicode"]
    return kinds


def corrupt(entity: str, table: pa.Table, rate: float, rng: np.random.Generator) -> pa.Table:
    n = table.num_rows
    picked = int(rng.binomial(n, min(rate, 1.0))) if n else 0
    if picked == 0:
        return table
    kinds = defect_kinds(entity)
    rows = rng.choice(n, picked, replace=False)
    assigned = np.array(kinds)[rng.integers(0, len(kinds), picked)]
    counts: dict[str, int] = {}
    duplicates = rows[assigned == "duplicate"]
    for kind in kinds:
        targets = rows[assigned == kind]
        if kind == "duplicate" or not len(targets):
            continue
        mask = np.zeros(n, dtype=bool)
        mask[targets] = True
        table = _apply(entity, kind, table, pa.array(mask))
        counts[kind] = len(targets)
    if len(duplicates):
        # A copy of a record that is otherwise clean: only the copy is a defect.
        clean = np.setdiff1d(np.arange(n), rows)
        sources = clean[: len(duplicates)] if len(clean) else np.array([], dtype=np.int64)
        if len(sources):
            table = pa.concat_tables([table, table.take(pa.array(sources))])
            counts["duplicate"] = len(sources)
    metadata = dict(table.schema.metadata or {})
    metadata[DEFECTS_METADATA_KEY] = json.dumps(counts).encode()
    return table.replace_schema_metadata(metadata)


def _set(table: pa.Table, column: str, mask: pa.Array, values: pa.Array | pa.Scalar) -> pa.Table:
    index = table.schema.get_field_index(column)
    original = table.column(column)
    return table.set_column(index, table.schema.field(index), pc.if_else(mask, values, original))


def _apply(entity: str, kind: str, table: pa.Table, mask: pa.Array) -> pa.Table:
    if kind == "invalid_email":
        column = _EMAIL_COLUMN[entity]
        broken = pc.replace_substring(table.column(column), "@", " at ")
        return _set(table, column, mask, broken)
    if kind == "missing_field":
        column = _EMAIL_COLUMN[entity]
        return _set(table, column, mask, pa.scalar(None, pa.string()))
    if kind == "future_date":
        # A year past the newest date of the batch: in the future whatever day it is loaded for.
        column = _DATE_COLUMN[entity]
        newest = pc.max(table.column(column))
        future = pc.add(newest, pa.scalar(timedelta(days=400))).cast(table.schema.field(column).type)
        return _set(table, column, mask, future)
    if kind == "sql_injection":
        return _set(table, _NAME_COLUMN[entity], mask, pa.scalar(SQL_INJECTION))
    if kind == "odd_unicode":
        column = _NAME_COLUMN[entity]
        return _set(
            table, column, mask, pc.binary_join_element_wise(table.column(column), ODD_UNICODE_SUFFIX, "")
        )
    if kind == "unknown_reference":
        return _set(table, _REFERENCE_COLUMN[entity], mask, pa.scalar(UNKNOWN_ID, pa.int64()))
    if kind in ("negative_price", "absurd_price"):
        column = _PRICE_COLUMN[entity]
        values = pc.negate(table.column(column)) if kind == "negative_price" else pa.scalar(ABSURD_PRICE)
        table = _set(table, column, mask, values)
        if entity == "sales":  # keep the total consistent, so the price is the only defect
            total = pc.round(
                pc.multiply(table.column("unit_price"), pc.cast(table.column("quantity"), pa.float64())), 2
            )
            table = _set(table, "price", mask, total)
        return table
    raise ValueError(f"unknown defect {kind!r}")
