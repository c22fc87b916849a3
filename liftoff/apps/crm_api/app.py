"""The FastAPI application: CRUD for every CRM entity, behind API keys, checked by the contracts.

One router per entity, built from its contract (`liftoff.contracts`): the request bodies, the filters
and the responses all come from the contract's fields, so a new field appears in the API, the
OpenAPI spec and the ingestion at once. Writes take the database's clock for created_at/updated_at
(one clock for every API replica, the one the extraction's watermark compares with).

No `from __future__ import annotations` here: FastAPI reads the route functions' annotations at
run time, and they name objects local to the router factories.
"""

import inspect
import json
import math
import re
import typing
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from functools import cache
from typing import Annotated, Any

import pyarrow as pa
from fastapi import APIRouter, Body, Depends, FastAPI, HTTPException, Query, Request, Security
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.routing import APIRoute
from fastapi.security import APIKeyHeader
from fastapi.staticfiles import StaticFiles
from sqlalchemy import and_, bindparam, cast, exists, func, or_, select, true, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from liftoff.apps.crm_api import auth, limits
from liftoff.apps.crm_api.database import KEY_START, SERVER_FIELDS, TABLES, crm_database_url, make_engine
from liftoff.apps.crm_api.records import (
    FieldError,
    check_record,
    client_fields,
    model_name,
    page_model,
    read_json_value,
    request_schema,
    response_model,
)
from liftoff.apps.crm_api.sales import (
    MATCHING_COPIES,
    MAX_DISCOUNT,
    REFERENCED_COLUMNS,
    SALE_COPIES,
    SALE_FILLED,
    Referenced,
    fill_sale,
    is_key,
    reference_conflicts,
)
from liftoff.contracts import CRM_CONTRACTS, field_shapes
from liftoff.contracts.engine import CONTROL_CHARACTERS, Contract, ValidationContext

MAX_PAGE = 500
# A create reads what it checks against, then inserts only if that still holds: tries before a 409.
CREATE_ATTEMPTS = 3
# URL path of each entity (opt_outs reads better as opt-outs in a URL).
PATHS = {entity: entity.replace("_", "-") for entity in CRM_CONTRACTS}

API_DESCRIPTION = """
Data entry for the LiftOff CRM: suppliers, products, employees, customers, sales and opt-outs.

* **Authentication**: every data endpoint needs an API key in the `X-API-Key` header (Swagger:
  *Authorize*). Mint one with `make crm-api-key NAME=<who>`; it is shown once and stored hashed.
  The key is checked before the body is read; repeated failures from one address get 429 with
  `Retry-After`.
* **Limits**: a body up to 1 MiB (413), a header up to 8 KiB (431); a 422 echoes at most the
  first 64 characters of an offending value.
* **Scopes**: `include_deleted=true` needs an `admin` key (`make crm-api-key NAME=<who> SCOPE=admin`);
  any other key gets 403.
* **Validation**: the same contracts as ingestion (`liftoff/contracts/entities.py`). A rejected record gets a
  422 listing every field and the rule it broke, in the words `raw.quarantine` uses.
* **References** (a sale's customer, product and seller; a product's supplier; an employee's
  manager) must name live records: otherwise 422 with the field, the rule and the missing key.
* **A sale agrees with what it references**: `email_customer` and `email_employee` must be the
  customer's and the seller's e-mails on record (leave them out and they are copied); a `unit_price`
  more than 50% below the product's price needs an `admin` key (422 otherwise).
* **Deletes are soft**: the record keeps its row with `deleted_at`, so the warehouse's extraction
  sees the change; a record still referenced by live records cannot be deleted (409).
* **Pagination**: `limit` (≤ 500) and `offset`, or `after` (the last key of the previous page);
  results in key order with the `total`. `updated_since` and `updated_before` bound a half-open
  window of changes (the warehouse's extraction reads one day at a time).
"""

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "The body is not JSON."},
    401: {"description": "No API key, or an unknown or revoked one."},
    413: {"description": "The body is larger than 1 MiB."},
    422: {
        "description": "The record breaks its contract: every field with its rule (`detail[].loc`, `msg`)."
    },
    429: {
        "description": "Too many failed authentications from this address: retry after `Retry-After`.",
        "headers": {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}},
    },
    431: {"description": "A header is larger than 8 KiB (or all of them together than 32 KiB)."},
}
# What a 422 echoes of an offending value: enough to recognise it, never the whole of it.
ECHO_CHARACTERS = 64


def echo(value: Any) -> Any:
    """An offending value as a 422 may show it: JSON-safe (NaN and infinities as text, a lone
    surrogate escaped) and cut to its first ECHO_CHARACTERS characters, saying how long it was."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if value is None or isinstance(value, bool) or (isinstance(value, float) and math.isfinite(value)):
        return value
    if isinstance(value, int) and abs(value) < 10**ECHO_CHARACTERS:
        return value
    if isinstance(value, str):
        text = value
    elif isinstance(value, int | float):
        text = f"{value:.3e}" if isinstance(value, int) else str(value)  # nan, inf: JSON has no such number
    else:
        text = json.dumps(value, ensure_ascii=False, default=str)  # a list or an object, as text
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    if len(text) > ECHO_CHARACTERS:
        text = f"{text[:ECHO_CHARACTERS]}… ({len(text)} characters in all)"
    return text


def _error(status: int, errors: list[FieldError], where: str = "body") -> JSONResponse:
    detail = [
        {"loc": [where, echo(e.field)], "msg": e.reason, "type": "contract_violation", "input": echo(e.value)}
        for e in errors
    ]
    return JSONResponse(status_code=status, content={"detail": detail})


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _as_json_record(row: dict[str, Any]) -> dict[str, Any]:
    """A stored row as a client would have sent it (dates as ISO text), to re-check after a change."""
    return {name: _jsonable(value) for name, value in row.items()}


# A request's transaction ends (commits, or rolls back on an error) when the route function returns,
# before the response is sent: FastAPI's default ends a `yield` dependency after the response, so a
# client could hold a 201 for a write not yet visible (its next request, naming the new record,
# got 422 "references an unknown …"), or for one whose commit then failed.
TRANSACTION_SCOPE = "function"


class _Api:
    """Holds the engine; the routers' functions close over it."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.holders = auth.KeyHolders(engine)

    def connection(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def autocommit(self) -> Iterator[Connection]:
        """Each statement its own transaction: for a route that runs one SELECT (BEGIN and COMMIT
        were two of a read's three round trips), or whose writes are each one statement.

        Opened by the route function itself, not as a dependency: FastAPI runs a sync generator
        dependency's start and end each in a worker thread of their own, two hand-offs between the
        event loop and the pool per request (a fifth of a create's time in the interpreter); within
        the function it ends, as TRANSACTION_SCOPE wants, before the response is sent."""
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            yield conn

    def lookup(self, key: str | None) -> auth.KeyHolder | None:
        return self.holders.lookup(key)

    async def require_key(
        self,
        request: Request,
        key: Annotated[str | None, Security(APIKeyHeader(name=auth.HEADER, auto_error=False))] = None,
    ) -> auth.KeyHolder:
        """The holder the guard (`limits.Guard`) found before the body was read; looked up again
        only if the app runs without its guard, so a route is never open by a wiring mistake.
        Async (a sync dependency costs a hand-off to a worker thread and back per request); the
        lookup, which may ask the database, runs in a worker thread."""
        holder = getattr(request.state, limits.KEY_HOLDER_STATE, None) or await run_in_threadpool(
            self.lookup, key
        )
        if holder is None:
            raise HTTPException(
                status_code=401,
                detail=f"missing, unknown or revoked API key: send a live key in the {auth.HEADER} header "
                "(mint one with `make crm-api-key NAME=<who>`)",
                headers={"WWW-Authenticate": auth.HEADER},
            )
        return holder


# Statements are built once per shape (entity, which references a record names) with bind
# parameters, not per request: building and keying a statement with its CTEs or guards cost
# SQLAlchemy over a millisecond per write, more than the whole reference app's request.


def _names_read(contract: type[Contract], field: str, entity: str) -> list[str]:
    """The columns read of the record a reference names: its key, and what a sale copies from it."""
    copied = REFERENCED_COLUMNS.get(field, ()) if contract.entity == "sales" else ()
    return [CRM_CONTRACTS[entity].natural_key, *copied]


@cache
def _write_context_statement(entity: str, fields: tuple[str, ...], new_key: bool, lock: bool) -> Any:
    """The clock, a new key (`new_key`) and the live record each reference in `fields` names, with
    the columns read of it (`ref_<field>` parameters: the keys); see `_write_context`."""
    contract = CRM_CONTRACTS[entity]
    clock = [func.now().label("now")]
    if new_key:
        key_column = TABLES[entity].c[contract.natural_key]
        clock.append(func.nextval(f"{key_column.table.fullname}_{key_column.name}_seq").label("key"))
    joined: Any = select(*clock).subquery("clock")  # one row, whatever the references find
    columns = list(joined.c)
    for reference in contract.references:
        if reference.field not in fields:
            continue
        target = TABLES[reference.entity]
        names = _names_read(contract, reference.field, reference.entity)
        query = select(*(target.c[name].label(f"{reference.field}.{name}") for name in names)).where(
            target.c[names[0]] == bindparam(f"ref_{reference.field}"), target.c.deleted_at.is_(None)
        )
        cte = (query.with_for_update(read=True) if lock else query).cte(f"ref_{reference.field}")
        columns += list(cte.c)
        joined = joined.outerjoin(cte, true())
    return select(*columns).select_from(joined)


def _write_context(
    conn: Connection, contract: type[Contract], record: dict[str, Any], new_key: bool, lock: bool
) -> tuple[datetime, int | None, Referenced]:
    """In one round trip: the database's clock, a new key from the entity's sequence (`new_key`),
    and the live record each reference of `record` names (None where none), with the columns a
    sale copies from it, `lock`ed FOR SHARE until the write commits. (One query per reference,
    then one for the clock and the key, was four of a sale's seven round trips.)"""
    fields = tuple(r.field for r in contract.references if is_key(record.get(r.field)))
    statement = _write_context_statement(contract.entity, fields, new_key, lock)
    row = conn.execute(statement, {f"ref_{field}": record[field] for field in fields}).mappings().one()
    found: Referenced = {}
    for reference in contract.references:
        if reference.field in fields:
            names = _names_read(contract, reference.field, reference.entity)
            values = {name: row[f"{reference.field}.{name}"] for name in names}
            found[reference.field] = None if values[names[0]] is None else values
    return row["now"], row["key"] if new_key else None, found


@cache
def _insert_statement(entity: str, guarded: tuple[str, ...]) -> Any:
    """INSERT of every field (`v_<field>` parameters) only while each record the references in
    `guarded` name is still live and as read (`was_<field>_<column>`), each locked FOR SHARE until
    the insert commits: what the checks read cannot change or go before it commits."""
    contract, table = CRM_CONTRACTS[entity], TABLES[entity]
    names = list(dict.fromkeys([*contract.model_fields, "updated_at"]))
    row = select(*(cast(bindparam(f"v_{n}", type_=table.c[n].type), table.c[n].type) for n in names))
    for reference in contract.references:
        if reference.field not in guarded:
            continue
        target = TABLES[reference.entity]
        same = [
            target.c[name].is_not_distinct_from(
                bindparam(f"was_{reference.field}_{name}", type_=target.c[name].type)
            )
            for name in _names_read(contract, reference.field, reference.entity)
        ]
        live = select(same[0].left).where(*same, target.c.deleted_at.is_(None)).with_for_update(read=True)
        row = row.where(exists(live))
    columns = [table.c[name] for name in response_model(entity).model_fields]
    return table.insert().from_select(names, row).returning(*columns)


def _insert_if_still_as_read(
    conn: Connection, contract: type[Contract], values: dict[str, Any], referenced: Referenced
) -> dict[str, Any] | None:
    """The stored record, or None when a record it references changed since it was read."""
    guarded = tuple(r.field for r in contract.references if referenced.get(r.field) is not None)
    parameters = {f"v_{name}": value for name, value in values.items()}
    for field in guarded:
        parameters |= {f"was_{field}_{name}": value for name, value in referenced[field].items()}
    row = conn.execute(_insert_statement(contract.entity, guarded), parameters).mappings().one_or_none()
    return None if row is None else dict(row)


def _app_clock() -> datetime:
    """The app's clock, which the one-trip path checks a record at (the database's decides)."""
    return datetime.now(UTC)


# The key a record is checked with on the one-trip path, where the database draws the real one as it
# inserts. The contracts ask of a new key that it be positive (every key the sequence draws is) and,
# of an employee's, that it not be their manager's: a manager_id equal to the placeholder fails the
# check (the read-check way decides), one equal to the key about to be drawn names no live employee
# yet (the guard stores nothing, the read-check way decides).
PLACEHOLDER_KEY = KEY_START
# A sale whose unit price lies within this of the product's half price is left to the read-check path:
# it judges `round(price × (1 − MAX_DISCOUNT), 2)` in Python's own rounding, the guard only a price
# surely above it (rounding to the cent moves a value by half a cent at most).
DISCOUNT_GUARD_MARGIN = 0.01


@cache
def _insert_checked_statement(entity: str, fields: tuple[str, ...]) -> Any:
    """INSERT of the client's fields (`v_<field>` parameters; the key from the entity's sequence,
    created_at and updated_at from the database's clock, by the columns' defaults) only if every
    record the references in `fields` name is live, as the record was checked assuming, and locked
    FOR SHARE until the insert commits; for a sale, only if it also agrees with them
    (`sales.reference_conflicts`: the copied e-mails are theirs, the unit price is not a discount
    that needs an admin key, unless `may_discount_deeply`); and only if the database's clock is not
    behind the one the record was checked at (`checked_at`): the contracts' clock rules are ceilings
    and floors on a record's own dates, so a record that passes at a moment passes at any later one.
    See `create_in_one_trip` (in `entity_router`)."""
    contract, table = CRM_CONTRACTS[entity], TABLES[entity]
    names = client_fields(contract)
    row = select(*(cast(bindparam(f"v_{n}", type_=table.c[n].type), table.c[n].type) for n in names))
    row = row.where(func.now() >= bindparam("checked_at", type_=table.c.created_at.type))
    for reference in contract.references:
        if reference.field not in fields:
            continue
        target = TABLES[reference.entity]
        key = target.c[CRM_CONTRACTS[reference.entity].natural_key]
        conditions = [key == bindparam(f"v_{reference.field}"), target.c.deleted_at.is_(None)]
        if entity == "sales" and reference.field in MATCHING_COPIES:
            field, source_field = MATCHING_COPIES[reference.field]
            conditions.append(target.c[source_field] == bindparam(f"v_{field}"))
        if entity == "sales" and reference.field == "product_id":
            floor = target.c.price * (1 - MAX_DISCOUNT) + DISCOUNT_GUARD_MARGIN
            conditions.append(or_(bindparam("may_discount_deeply"), floor <= bindparam("v_unit_price")))
        row = row.where(exists(select(key).where(*conditions).with_for_update(read=True)))
    columns = [table.c[name] for name in response_model(entity).model_fields]
    return table.insert().from_select(names, row).returning(*columns)


def _known_keys(contract: type[Contract], referenced: Referenced) -> dict[str, pa.Array]:
    """The referenced keys that name live records, per referenced entity (the contract's context)."""
    known: dict[str, list[int]] = {reference.entity: [] for reference in contract.references}
    for reference in contract.references:
        row = referenced.get(reference.field)
        if row is not None:
            known[reference.entity].append(row[CRM_CONTRACTS[reference.entity].natural_key])
    return {entity: pa.array(keys, pa.int64()) for entity, keys in known.items()}


def _server_field_errors(contract: type[Contract], body: dict[str, Any]) -> list[FieldError]:
    managed = (contract.natural_key, *SERVER_FIELDS, "deleted_at")
    return [
        FieldError(name, "is set by the server, not sent", body[name]) for name in body if name in managed
    ]


def _conflict(error: IntegrityError, entity: str) -> HTTPException:
    text = str(error.orig)
    if "live_email_key" in text:
        return HTTPException(409, f"another live {entity[:-1]} already uses this email")
    return HTTPException(409, f"the change conflicts with stored data: {text.splitlines()[0]}")


def _filters_dependency(contract: type[Contract]) -> Callable[..., dict[str, Any]]:
    """A FastAPI dependency whose query parameters are the contract's filterable fields:
    references and keys (whole numbers), e-mails, and fields with a fixed set of values."""
    parameters = []
    shapes = field_shapes(contract)
    for name, info in contract.model_fields.items():
        base = shapes[name].python_type
        is_reference = any(r.field == name for r in contract.references)
        choices = info.annotation if typing.get_origin(info.annotation) is typing.Literal else None
        if is_reference or (base is int and name.endswith("_id") and name != contract.natural_key):
            annotation: Any = int | None
        elif "email" in name:
            annotation = str | None
        elif choices is not None:
            annotation = choices | None
        else:
            continue
        # Whole numbers are bigint columns: a larger value is a 422, not a database error.
        bounds = {"ge": -(2**63), "le": 2**63 - 1} if annotation == int | None else {}
        parameters.append(
            inspect.Parameter(
                name,
                inspect.Parameter.KEYWORD_ONLY,
                default=Query(None, description=f"Only records whose {name} equals this.", **bounds),
                annotation=annotation,
            )
        )

    def filters(**values: Any) -> dict[str, Any]:
        return {name: value for name, value in values.items() if value is not None}

    filters.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    return filters


def entity_router(api: _Api, entity: str) -> APIRouter:
    contract = CRM_CONTRACTS[entity]
    table = TABLES[entity]
    key_name = contract.natural_key
    key_column = table.c[key_name]
    singular = model_name(entity)
    record_model = response_model(entity)
    page = page_model(entity, record_model)
    columns = [table.c[name] for name in record_model.model_fields]
    router = APIRouter(prefix=f"/{PATHS[entity]}", tags=[entity], dependencies=[Depends(api.require_key)])
    not_found = {404: {"description": f"No live {singular} with this key."}}

    def load(conn: Connection, key: int, lock: bool = False) -> dict[str, Any]:
        query = select(*columns).where(key_column == key, table.c.deleted_at.is_(None))
        row = conn.execute(query.with_for_update() if lock else query).mappings().one_or_none()
        if row is None:
            raise HTTPException(404, f"no live {singular} with {key_name} {key} (never created, or deleted)")
        return dict(row)

    def check(
        record: dict[str, Any], now: datetime, referenced: Referenced
    ) -> tuple[dict[str, Any], list[FieldError]]:
        context = ValidationContext(as_of=now, references=_known_keys(contract, referenced))
        return check_record(contract, record, context)

    @router.get(
        "",
        response_model=page,
        summary=f"List {entity}",
        responses=ERROR_RESPONSES
        | {403: {"description": "`include_deleted=true` with a key whose scope is not `admin`."}},
    )
    def list_records(
        holder: Annotated[auth.KeyHolder, Depends(api.require_key)],
        conn: Annotated[Connection, Depends(api.connection, scope=TRANSACTION_SCOPE)],
        filters: Annotated[dict[str, Any], Depends(_filters_dependency(contract))],
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Records per page.")] = 50,
        offset: Annotated[int, Query(ge=0, le=2**31, description="Records to skip.")] = 0,
        updated_since: Annotated[
            str | None,
            Query(
                description="Only records changed at or after this moment (ISO 8601: 2026-11-29T00:00:00Z).",
                json_schema_extra={"format": "date-time"},
            ),
        ] = None,
        updated_before: Annotated[
            str | None,
            Query(
                description="Only records changed before this moment (exclusive): with `updated_since`, "
                "a half-open window, so consecutive windows never list one change twice.",
                json_schema_extra={"format": "date-time"},
            ),
        ] = None,
        after: Annotated[
            int | None,
            Query(
                ge=0,
                le=2**63 - 1,
                description="Only records whose key is greater than this (keyset paging: pass the last "
                "key of the previous page; unlike `offset`, a record changed meanwhile shifts no page).",
            ),
        ] = None,
        include_deleted: Annotated[
            bool, Query(description="Also list soft-deleted records (needs an `admin` key).")
        ] = False,
    ) -> dict[str, Any]:
        if include_deleted and not holder.is_admin:
            # Deleted records keep their personal data for the warehouse's extraction, not for
            # everyday reading: only an admin key sees them.
            raise HTTPException(
                403,
                f"include_deleted=true needs an {auth.ADMIN!r} key; this key's scope is {holder.scope!r} "
                f"(mint one with `make crm-api-key NAME=<who> SCOPE={auth.ADMIN}`)",
            )
        unstorable = [
            FieldError(name, "contains control characters", value)
            for name, value in filters.items()
            if isinstance(value, str) and re.search(CONTROL_CHARACTERS, value)
        ]
        if unstorable:  # no stored text holds them (the contracts refuse them), and Postgres cannot
            return _error(422, unstorable, where="query")
        conditions = [
            table.c[name] == (value.strip().lower() if isinstance(value, str) and "email" in name else value)
            for name, value in filters.items()
        ]
        # Parsed here, strictly: Pydantic's lax datetime would read "0.5" as a Unix time.
        for name, moment, compare in (
            ("updated_since", updated_since, table.c.updated_at.__ge__),
            ("updated_before", updated_before, table.c.updated_at.__lt__),
        ):
            if moment is None:
                continue
            try:
                conditions.append(compare(read_json_value(datetime, moment)))
            except ValueError as error:
                return _error(422, [FieldError(name, str(error), moment)], where="query")
        if after is not None:
            conditions.append(key_column > after)
        if not include_deleted:
            conditions.append(table.c.deleted_at.is_(None))
        where = and_(True, *conditions)
        total = conn.execute(select(func.count()).select_from(table).where(where)).scalar_one()
        rows = conn.execute(select(*columns).where(where).order_by(key_column).limit(limit).offset(offset))
        return {"items": [dict(r) for r in rows.mappings()], "total": total, "limit": limit, "offset": offset}

    @router.post(
        "",
        status_code=201,
        response_model=record_model,
        summary=f"Create a {singular}",
        responses=ERROR_RESPONSES
        | {409: {"description": "Conflicts with a stored record (e.g. e-mail in use)."}},
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": request_schema(entity, optional=SALE_FILLED if entity == "sales" else ())
                    }
                },
            }
        },
    )
    def create_record(
        body: Annotated[dict[str, Any], Body()],
        holder: Annotated[auth.KeyHolder, Depends(api.require_key)],
    ) -> Any:
        refused = _server_field_errors(contract, body)
        body = {name: value for name, value in body.items() if name not in {e.field for e in refused}}
        with api.autocommit() as conn:
            if not refused:
                written = create_in_one_trip(conn, body, holder)
                if written is not None:
                    return written
            for _ in range(CREATE_ATTEMPTS):
                written = create_once(conn, body, refused, holder)
                if written is not None:
                    return written
        raise HTTPException(
            409, f"the records this {singular} references kept changing while it was written: try again"
        )

    def create_in_one_trip(conn: Connection, body: dict[str, Any], holder: auth.KeyHolder) -> Any:
        """The stored record in one round trip, or None to go the read-check way (`create_once`).

        The record is checked before the database is asked anything, on what a valid create
        assumes (every record its references name is live, the clock is the app's), and the insert
        (`_insert_checked_statement`) stores it only if those assumptions hold in the database as
        it inserts. Anything else — a record that fails its check, a sale with fields to copy from
        what it references, a reference gone or disagreeing, a database clock behind the app's —
        returns None, and the read-check way decides, with the answer and errors it always gave.
        (Its two round trips were most of a sale's time against a busy server.)"""
        if entity == "sales" and not body.keys() >= SALE_FILLED:
            return None  # the copies come from the records as read
        fields = tuple(r.field for r in contract.references if is_key(body.get(r.field)))
        checked_at = _app_clock()
        record = {**body, key_name: PLACEHOLDER_KEY, "created_at": checked_at.isoformat()}
        if "updated_at" in contract.model_fields:
            record["updated_at"] = record["created_at"]
        assumed: dict[str, list[int]] = {reference.entity: [] for reference in contract.references}
        for reference in contract.references:
            if reference.field in fields:
                assumed[reference.entity].append(body[reference.field])
        context = ValidationContext(
            as_of=checked_at, references={e: pa.array(keys, pa.int64()) for e, keys in assumed.items()}
        )
        stored, errors = check_record(contract, record, context)
        if errors:
            return None
        parameters = {f"v_{name}": stored[name] for name in client_fields(contract)}
        parameters |= {"checked_at": checked_at, "may_discount_deeply": holder.is_admin}
        try:
            row = conn.execute(_insert_checked_statement(entity, fields), parameters).mappings().one_or_none()
        except IntegrityError as error:
            raise _conflict(error, entity) from None
        return None if row is None else dict(row)

    def create_once(
        conn: Connection, body: dict[str, Any], refused: list[FieldError], holder: auth.KeyHolder
    ) -> Any:
        """Two statements, each its own transaction: read (clock, key, references), then insert only
        if what the checks read still holds (`_insert_statement`); None when it no longer did."""
        unresolved: list[FieldError] = []
        now, key, referenced = _write_context(conn, contract, body, new_key=True, lock=False)
        if entity == "sales":
            body, unresolved = fill_sale(body, referenced)
        record = {**body, key_name: key, "created_at": now.isoformat()}
        if "updated_at" in contract.model_fields:
            record["updated_at"] = now.isoformat()
        stored, errors = check(record, now, referenced)
        if unresolved:
            uncopied = {name for e in unresolved for name in SALE_COPIES[e.field][1]} | {"price"}
            errors = unresolved + [
                e for e in errors if (e.field, e.reason) not in {(u.field, u.reason) for u in unresolved}
                and not (e.field in uncopied and e.reason == "is required")
            ]  # fmt: skip
        if entity == "sales" and not errors:
            errors = reference_conflicts(stored, referenced, set(stored), holder.is_admin)
        if refused or errors:
            return _error(422, refused + errors)
        try:
            return _insert_if_still_as_read(conn, contract, stored | {"updated_at": now}, referenced)
        except IntegrityError as error:
            raise _conflict(error, entity) from None

    @router.get(
        "/{key}",
        response_model=record_model,
        summary=f"Read a {singular}",
        responses=ERROR_RESPONSES | not_found,
    )
    def read_record(key: Annotated[int, _key_path()]) -> Any:
        with api.autocommit() as conn:
            return load(conn, key)

    @router.patch(
        "/{key}",
        response_model=record_model,
        summary=f"Change fields of a {singular}",
        description="Send only the fields to change; `null` clears an optional field. The whole "
        "record, as changed, must still pass its contract.",
        responses=ERROR_RESPONSES | not_found | {409: {"description": "Conflicts with a stored record."}},
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": request_schema(entity, partial=True)}},
            }
        },
    )
    def update_record(
        key: Annotated[int, _key_path()],
        body: Annotated[dict[str, Any], Body()],
        holder: Annotated[auth.KeyHolder, Depends(api.require_key)],
        conn: Annotated[Connection, Depends(api.connection, scope=TRANSACTION_SCOPE)],
    ) -> Any:
        refused = _server_field_errors(contract, body)
        body = {name: value for name, value in body.items() if name not in {e.field for e in refused}}
        if not body and not refused:
            refused = [FieldError("<body>", "names no field to change (send at least one)", body)]
        current = load(conn, key, lock=True)
        record = {name: current[name] for name in contract.model_fields} | body
        now, _, referenced = _write_context(conn, contract, record, new_key=False, lock=True)
        if "updated_at" in contract.model_fields:
            record["updated_at"] = now
        stored, errors = check(_as_json_record(record), now, referenced)
        if entity == "sales" and not errors:
            errors = reference_conflicts(stored, referenced, set(body), holder.is_admin)
        if refused or errors:
            return _error(422, refused + errors)
        changes = {name: stored[name] for name in client_fields(contract)}
        try:
            conn.execute(update(table).where(key_column == key).values(**changes, updated_at=now))
        except IntegrityError as error:
            raise _conflict(error, entity) from None
        return load(conn, key)

    @router.delete(
        "/{key}",
        response_model=record_model,
        summary=f"Delete a {singular} (soft)",
        description="Marks the record deleted (`deleted_at`); it disappears from reads and lists unless "
        "`include_deleted` is set. Refused (409) while live records reference it.",
        responses={401: ERROR_RESPONSES[401], 409: {"description": "Live records still reference it."}}
        | not_found,
    )
    def delete_record(
        key: Annotated[int, _key_path()],
        conn: Annotated[Connection, Depends(api.connection, scope=TRANSACTION_SCOPE)],
    ) -> Any:
        load(conn, key, lock=True)
        referrers = []
        for other in CRM_CONTRACTS.values():
            for reference in other.references:
                if reference.entity != entity:
                    continue
                other_table = TABLES[other.entity]
                count = conn.execute(
                    select(func.count()).where(
                        other_table.c[reference.field] == key,
                        other_table.c.deleted_at.is_(None),
                        # An employee who manages themself is no reference to keep them.
                        other_table.c[other.natural_key] != key if other.entity == entity else True,
                    )
                ).scalar_one()
                if count:
                    referrers.append(f"{count} {other.entity} ({reference.field})")
        if referrers:
            raise HTTPException(
                409,
                f"{singular} {key} is still referenced by live {', '.join(referrers)}: "
                "delete or change those first",
            )
        now = conn.execute(select(func.now())).scalar_one()
        conn.execute(update(table).where(key_column == key).values(deleted_at=now, updated_at=now))
        row = conn.execute(select(*columns).where(key_column == key)).mappings().one()
        return dict(row)

    return router


def _swagger_ui_assets() -> str:
    """Swagger UI's JavaScript and CSS as shipped in the fastapi-offline wheel (package data only),
    so /docs works on a machine without internet access."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("fastapi_offline")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the fastapi-offline package (Swagger UI assets) is missing: run `make install`")
    return str(Path(next(iter(spec.submodule_search_locations))) / "static")


async def _reject_unknown_query(request: Request) -> None:
    """A query parameter the operation does not have is a 422 (a typo such as `?stat=RJ` would
    otherwise return every record as if it had filtered). Async: it only reads the request, and a
    sync dependency costs every request a hand-off to a worker thread and back."""
    from fastapi.dependencies.utils import get_flat_dependant

    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or not request.query_params:
        return
    allowed = {param.alias for param in get_flat_dependant(route.dependant).query_params}
    unknown = sorted(set(request.query_params) - allowed)
    if unknown:
        choices = ", ".join(sorted(allowed)) or "none"
        raise HTTPException(
            422,
            detail=[
                {"loc": ["query", name], "msg": f"is not a parameter here (parameters: {choices})",
                 "type": "extra_forbidden", "input": echo(request.query_params.get(name))}
                for name in unknown
            ],
        )  # fmt: skip


def _key_path() -> Any:
    from fastapi import Path

    return Path(ge=1, le=2**63 - 1, description="The record's key.")


def create_app(database_url: str | None = None, throttle: limits.FailedAuthThrottle | None = None) -> FastAPI:
    """The application over the CRM database at `database_url` (default: from the environment),
    behind its guard (`limits.Guard`: key first, sizes bounded, failed keys throttled by `throttle`)."""
    engine = make_engine(database_url or crm_database_url())
    api = _Api(engine)
    app = FastAPI(
        dependencies=[Depends(_reject_unknown_query)],
        docs_url=None,  # served below from packaged assets: FastAPI's default page loads them from a CDN
        redoc_url=None,
        title="LiftOff CRM API",
        version="1.0.0",
        description=API_DESCRIPTION,
        openapi_tags=[
            {"name": entity, "description": CRM_CONTRACTS[entity].__doc__ or entity}
            for entity in CRM_CONTRACTS
        ],
    )
    app.state.engine = engine

    app.mount("/static/swagger-ui", StaticFiles(directory=_swagger_ui_assets()), name="swagger-ui")

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url="/static/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url="/static/swagger-ui/swagger-ui.css",
            swagger_favicon_url="/static/swagger-ui/favicon.png",
        )

    @app.get("/health", tags=["health"], summary="Liveness and database reachability (no data, no key)")
    def health() -> dict[str, str]:
        with engine.connect() as conn:
            conn.execute(select(1))
        return {"status": "ok"}

    for entity in CRM_CONTRACTS:
        app.include_router(entity_router(api, entity))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        """FastAPI's own answer, except that a 405's `Allow` names every method of the path
        (FastAPI makes one route per method, so Starlette alone would name only the first route's).
        An exception handler, not an HTTP middleware: that would wrap every request in a task."""
        if error.status_code == 405:
            methods = {
                method
                for route in app.routes
                if isinstance(route, APIRoute) and route.path_regex.match(request.url.path)
                for method in route.methods
            }
            if methods:
                error.headers = {**(error.headers or {}), "Allow": ", ".join(sorted(methods))}
        return await http_exception_handler(request, error)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
        """FastAPI's own 422 (query, path, malformed JSON), with the offending input cut short."""
        detail = [
            {**e, "loc": [echo(part) for part in e.get("loc", ())]}
            | ({"input": echo(e["input"])} if "input" in e else {})
            for e in error.errors()
        ]
        return JSONResponse(status_code=422, content={"detail": jsonable_encoder(detail)})

    # Added last, so it is the outermost of the app's own middleware: it answers before any of them.
    app.add_middleware(
        limits.Guard,
        holders=api.holders,
        throttle=throttle if throttle is not None else limits.FailedAuthThrottle(),
    )
    return app
