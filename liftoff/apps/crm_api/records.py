"""One CRM record checked by the contracts, and the API's request and response shapes derived from them.

The API never restates a rule. A record is typed field by field (a JSON value that is not even the
field's type cannot reach the contract), then checked by the engine's one-record path
(`liftoff.contracts.engine.validate_record`: the same compiled rules ingestion runs on a whole day,
with the verdict and reasons a one-row batch would get), so the API's 422 carries exactly the
reasons `raw.quarantine` would record for the same record, and the record stored is the engine's
normalised one (e-mail lower-cased, phone in E.164), as ingestion would load it. (The Pydantic
model's own validator runs the same path; calling it too would only add Pydantic's parsing.)
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, create_model

from liftoff.apps.crm_api.database import SERVER_FIELDS
from liftoff.contracts import CRM_CONTRACTS, field_shapes
from liftoff.contracts.engine import PATTERN_REASONS, Contract, ValidationContext, validate_record

INT64_MAX = 2**63 - 1


@dataclass(frozen=True)
class FieldError:
    """What was wrong (reason, in the contract's words), where (field) and with which value."""

    field: str
    reason: str
    value: Any = None


def client_fields(contract: type[Contract]) -> list[str]:
    """The fields a client sends: all but the key and the timestamps, which the server sets."""
    return [
        name for name in contract.model_fields if name != contract.natural_key and name not in SERVER_FIELDS
    ]


# --- typing a JSON value -----------------------------------------------------------------------


def read_json_value(base: type, value: Any) -> Any:
    """The JSON value as the field's Python type, or ValueError saying what type was expected.

    Public because the API reads query parameters (`updated_since`) with the same strict rules as
    record fields: Pydantic's lax parsing would take "0.5" for a Unix time.
    """
    if base is bool:
        if isinstance(value, bool):
            return value
        raise ValueError("must be true or false")
    if base is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError("must be a whole number")
        if not -INT64_MAX - 1 <= value <= INT64_MAX:
            raise ValueError("is out of range (64-bit whole number)")
        return value
    if base is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError("must be a number")
        if not math.isfinite(value) or abs(value) > 1e300:
            raise ValueError("must be a finite number")
        return float(value)
    if base is str:
        if not isinstance(value, str):
            raise ValueError("must be text")
        # JSON's \ud800 escapes reach Python as lone surrogates, which are not Unicode text: no
        # database, file or response can encode them. Refused here, once for every text field.
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as error:
            raise ValueError(
                f"is not valid Unicode text (a lone surrogate, U+{ord(value[error.start]):04X})"
            ) from None
        return value
    if base is date:
        if not isinstance(value, str):
            raise ValueError("must be a date (YYYY-MM-DD)")
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise ValueError("must be a date (YYYY-MM-DD)") from None
    if base is datetime:
        if not isinstance(value, str):
            raise ValueError("must be a date and time (ISO 8601)")
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError("must be a date and time (ISO 8601, e.g. 2026-11-29T14:30:00-03:00)") from None
        # A moment without an offset is read as UTC, as ingestion reads one.
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    raise TypeError(f"no JSON reading for {base}")


def check_record(
    contract: type[Contract], record: dict[str, Any], context: ValidationContext
) -> tuple[dict[str, Any], list[FieldError]]:
    """(normalised record, []) when the record passes its contract, else ({}, every error)."""
    errors = [
        FieldError(name, f"is not a field of {contract.entity}", record[name])
        for name in record
        if name not in contract.model_fields
    ]
    typed: dict[str, Any] = {}
    mistyped: set[str] = set()
    for name, shape in field_shapes(contract).items():
        value = record.get(name)
        typed[name] = None
        if value is None:
            continue  # a missing required value is the contract's "is required"
        try:
            typed[name] = read_json_value(shape.python_type, value)
        except ValueError as error:
            errors.append(FieldError(name, str(error), value))
            mistyped.add(name)
    outcome = validate_record(contract, typed, context)
    for violation in outcome.violations:
        if violation.field not in mistyped:
            errors.append(FieldError(violation.field, violation.reason, record.get(violation.field)))
    if errors or outcome.record is None:
        return {}, errors
    # The record as the engine normalised it (e-mail lower-cased, phone in E.164): exactly what
    # ingestion would load into raw for the same input.
    return outcome.record, []


# --- shapes for the OpenAPI spec and responses -------------------------------------------------

_MODEL_NAMES = {
    "suppliers": "Supplier",
    "products": "Product",
    "employees": "Employee",
    "customers": "Customer",
    "sales": "Sale",
    "opt_outs": "OptOut",
}


def model_name(entity: str) -> str:
    return _MODEL_NAMES[entity]


def _portable(schema: dict[str, Any]) -> dict[str, Any]:
    """The JSON schema with patterns every OpenAPI tool can read.

    Unicode property classes (`\\p{L}`: any letter) are not in every regex dialect OpenAPI tools use
    (ECMA-262 without the u flag, Python's re): such a pattern moves into the description, in words.
    """
    schema = copy.deepcopy(schema)

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            pattern = node.get("pattern")
            if isinstance(pattern, str) and "\\p{" in pattern:
                node.pop("pattern")
                words = PATTERN_REASONS.get(pattern, "must match the contract's pattern")
                node["description"] = f"Rejected when it {words}."
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(schema)
    return schema


def request_schema(entity: str, partial: bool = False, optional: Iterable[str] = ()) -> dict[str, Any]:
    """JSON schema of a create (or, `partial`, an update) body: the contract's fields a client sends,
    with the contract's constraints (documentation; the contract itself checks). `optional` fields
    may be left out because the server fills them."""
    contract = CRM_CONTRACTS[entity]
    fields = {
        name: (contract.model_fields[name].annotation, contract.model_fields[name])
        for name in client_fields(contract)
    }
    model = create_model(
        f"{model_name(entity)}{'Update' if partial else 'Create'}",
        __config__=ConfigDict(extra="forbid"),
        **fields,
    )
    schema = _portable(model.model_json_schema())
    optional = set(optional)
    if optional:
        schema["required"] = [name for name in schema.get("required", []) if name not in optional]
        for name in optional:
            schema["properties"][name]["description"] = (
                schema["properties"][name].get("description", "") + " Filled by the server when left out."
            ).strip()
    if partial:
        schema.pop("required", None)
        schema["minProperties"] = 1
    return schema


def response_model(entity: str) -> type[BaseModel]:
    """A stored record: the contract's fields with their types (no rules: stored data is shown as it
    is), plus updated_at and deleted_at for every entity."""
    contract = CRM_CONTRACTS[entity]
    fields: dict[str, Any] = {}
    for name, shape in field_shapes(contract).items():
        base = shape.python_type
        fields[name] = (base if shape.required else (base | None), ...)
    fields["updated_at"] = (datetime, ...)
    fields["deleted_at"] = (datetime | None, None)
    return create_model(model_name(entity), **fields)


def page_model(entity: str, item: type[BaseModel]) -> type[BaseModel]:
    return create_model(
        f"{model_name(entity)}Page",
        items=(list[item], ...),
        total=(int, ...),
        limit=(int, ...),
        offset=(int, ...),
    )
