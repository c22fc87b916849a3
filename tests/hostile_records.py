"""A corpus of hostile CRM records, landed the way the landing zone really holds them.

Each case is one kind of bad input (wrong types, SQL injection, huge strings, control characters,
invalid Unicode, duplicated keys, dates in year 9999 or year 0, empty and blank text, numeric
overflow, NaN and infinities), written as changes to a valid record of its entity and the outcome
the contracts must give: loaded (and stored verbatim where said) or quarantined naming a field.

Landing: Parquet under `raw/<entity>/dt=<day>/`, written by `liftoff.ingest.landing.write_partition`
like every other writer of the zone. A Parquet column has one type, so a case that needs text in
a number column (an export that wrote everything as text) states its column types, and cases of
the same entity and column types share a file (`hostile-<n>.parquet`). Two raw-bytes variants
carry invalid UTF-8: a `binary` column (a writer that types text as bytes) and a `string` column
whose bytes are not UTF-8 (a writer that never checks; Parquet readers do not either).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pyarrow as pa

from liftoff.contracts import CONTRACTS
from liftoff.contracts.engine import arrow_schema
from liftoff.ingest import landing
from liftoff.ingest.daily import natural_key_text

LOADED = "loaded"
# A `string` column whose bytes are written unchecked (the raw-bytes variant of a text column).
UNCHECKED_TEXT = "string, bytes unchecked"
MEGABYTE = 1_000_000
EPOCH = date(1970, 1, 1)


@dataclass(frozen=True)
class Days:
    """A date as days since 1970-01-01: Arrow and Parquet hold years Python's `date` cannot."""

    days: int


@dataclass(frozen=True)
class Micros:
    """A UTC timestamp as microseconds since 1970 (for years before 1)."""

    micros: int


class _LoadedKey:
    """The natural key of the base record, which the warehouse loaded on an earlier day."""

    def __repr__(self) -> str:
        return "LOADED_KEY"


LOADED_KEY = _LoadedKey()
YEAR_0 = Days((date(1, 1, 1) - EPOCH).days - 366)  # 0000-01-01 (proleptic Gregorian, a leap year)
YEAR_MINUS_1 = Micros(((date(1, 1, 1) - EPOCH).days - 366 - 365) * 86_400_000_000)  # -0001-01-01
END_OF_9999 = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)

SQL_INJECTIONS = (
    "'); drop table raw.sales; --",
    "Robert'); DROP TABLE raw.customers;--",
    "1' OR '1'='1",
    "x'; delete from raw.quarantine where '1'='1",
    "$$; drop schema raw cascade; $$",
    "\\.\n'); truncate raw.sales; --",  # COPY's end-of-data marker on a line of its own, then SQL
    "\"; copy raw.sales to program 'id'; --",
)
# Text fields without a pattern or a list of values: an injection string is just text there.
FREE_TEXT = {
    "suppliers": ("company_name", "address", "primary_product"),
    "products": ("name", "description"),
    "employees": ("job_title", "location", "nationality"),
    "customers": ("city",),
    "sales": ("name_product",),
}


@dataclass(frozen=True)
class HostileRecord:
    changes: Mapping[str, Any]  # fields set on the base record of the entity
    outcome: str  # LOADED, or the field the quarantine must name (its headline)
    stored: Mapping[str, Any] = field(default_factory=dict)  # LOADED: exact values in raw
    reason: str = ""  # quarantined: text the reason must contain
    payload: Mapping[str, Any] = field(default_factory=dict)  # quarantined: payload values (JSON)
    key: Any = None  # the record's natural key (assigned when the case is defined)


@dataclass(frozen=True)
class HostileCase:
    id: str
    kind: str
    entity: str
    records: tuple[HostileRecord, ...]
    column_types: Mapping[str, pa.DataType | str] = field(default_factory=dict)

    @property
    def file_shape(self) -> tuple[str, tuple[tuple[str, str], ...]]:
        return self.entity, tuple(sorted((name, str(kind)) for name, kind in self.column_types.items()))


_keys: Iterator[int] = itertools.count(9_000_001)


def _case(
    kind: str,
    name: str,
    entity: str,
    *records: HostileRecord,
    types: Mapping[str, pa.DataType | str] | None = None,
) -> HostileCase:
    """A case whose records get fresh keys (9 000 001 on) unless they set their natural key (None: a
    record without one, at most one per entity, found in the quarantine by its null key)."""
    key_field = CONTRACTS[entity].natural_key
    shared: dict[str, int] = {}
    keyed = []
    for record in records:
        key = record.changes.get(key_field)
        if key_field not in record.changes:
            key = next(_keys)
        elif isinstance(key, str) and key.startswith("same:"):  # records that share one fresh key
            key = shared.setdefault(key, next(_keys))
        changes = {**record.changes, key_field: key}
        keyed.append(replace(record, changes=changes, key=key))
    return HostileCase(f"{kind}-{entity}-{name}", kind, entity, tuple(keyed), dict(types or {}))


def loaded(stored: Mapping[str, Any] | None = None, **changes: Any) -> HostileRecord:
    return HostileRecord(changes, LOADED, stored or {})


def quarantined(
    headline: str, reason: str = "", payload: Mapping[str, Any] | None = None, **changes: Any
) -> HostileRecord:
    return HostileRecord(changes, headline, reason=reason, payload=payload or {})


def _sale_total(quantity: Any, unit_price: Any = 10.0, price: Any = None) -> dict[str, Any]:
    """Changes that keep a sale's total consistent, so only the field under test is wrong."""
    return {"unit_price": unit_price, "quantity": quantity, "price": 10.0 * 2 if price is None else price}


def _hired(when: Any) -> dict[str, Any]:
    """Changes that keep an employee's dates consistent around a hire date under test."""
    return {"hire_date": when, "birth_date": date(1990, 1, 1), "start_date": date(2020, 1, 6),
            "termination_date": None}  # fmt: skip


def _cases() -> list[HostileCase]:
    string, binary, double, int64, boolean = pa.string(), pa.binary(), pa.float64(), pa.int64(), pa.bool_()
    cases: list[HostileCase] = [
        _case("control", "valid", entity, loaded()) for entity in ("suppliers", "products", "employees",
                                                                  "customers", "sales")
    ]  # fmt: skip

    # --- wrong types per column kind ---------------------------------------------------------
    cases += [
        _case("wrong-type", "text-in-integer", "sales",
              loaded({"quantity": 2}, **_sale_total("2")),
              quarantined("quantity", "cannot be read as an integer: 'three'", {"quantity": "three"},
                          **_sale_total("three")),
              quarantined("quantity", "'0x2'", {"quantity": "0x2"}, **_sale_total("0x2")),
              quarantined("quantity", "''", **_sale_total("")),
              quarantined("quantity", "' 2 '", **_sale_total(" 2 ")),
              types={"quantity": string}),
        _case("wrong-type", "text-in-key", "sales",
              quarantined("sale_id", "cannot be read as an integer: 'SALE-1'", sale_id="SALE-1"),
              quarantined("sale_id", "'99999999999999999999'", sale_id="99999999999999999999"),
              types={"sale_id": string}),
        _case("wrong-type", "fraction-in-integer", "sales",
              loaded({"quantity": 2}, **_sale_total(2.0)),
              quarantined("quantity", "cannot be read as an integer: 1.5", **_sale_total(1.5, price=15.0)),
              quarantined("quantity", "1e+20", **_sale_total(1e20, price=1e21)),
              quarantined("quantity", "nan", **_sale_total(float("nan"))),
              types={"quantity": double}),
        _case("wrong-type", "text-in-number", "products",
              loaded({"price": 12.5}, price="12.5"),
              quarantined("price", "cannot be read as a number: 'cheap'", {"price": "cheap"}, price="cheap"),
              quarantined("price", "must be a finite number", price="NaN"),
              quarantined("price", "must be a finite number", price="1e309"),
              quarantined("price", "must be a finite number", price="-Infinity"),
              types={"price": string}),
        _case("wrong-type", "text-in-date", "employees",
              quarantined("hire_date", "cannot be read as a date (YYYY-MM-DD): '31/12/2020'",
                          hire_date="31/12/2020"),
              quarantined("hire_date", "'2026-02-30'", hire_date="2026-02-30"),
              quarantined("birth_date", "is outside the years 0001 to 9999", {"birth_date": "0000-01-01"},
                          birth_date="0000-01-01"),
              types={"hire_date": string, "birth_date": string}),
        _case("wrong-type", "integer-in-date", "employees",
              quarantined("hire_date", "(a int64 value)", {"hire_date": 20200101}, hire_date=20200101),
              types={"hire_date": int64}),
        _case("wrong-type", "timestamp-in-date", "employees",
              loaded({"hire_date": date(2020, 1, 6)}, **_hired(datetime(2020, 1, 6, tzinfo=UTC))),
              quarantined("hire_date", "cannot be read as a date (YYYY-MM-DD): '2020-01-06 15:30:00",
                          **_hired(datetime(2020, 1, 6, 15, 30, tzinfo=UTC))),
              types={"hire_date": pa.timestamp("us", tz="UTC")}),
        _case("wrong-type", "text-in-timestamp", "customers",
              quarantined("created_at", "cannot be read as a timestamp with a time zone: 'yesterday'",
                          created_at="yesterday"),
              quarantined("created_at", "'2026-03-10 10:00:00'", created_at="2026-03-10 10:00:00"),
              types={"created_at": string}),
        _case("wrong-type", "boolean-in-integer", "sales",
              quarantined("quantity", "cannot be read as an integer: True (a bool value)",
                          **_sale_total(True)),
              types={"quantity": boolean}),
        _case("wrong-type", "boolean-in-text", "customers",
              quarantined("city", "cannot be read as text: False (a bool value)", {"city": False},
                          city=False),
              types={"city": boolean}),
        _case("wrong-type", "boolean-word-in-integer", "customers",
              quarantined("telegram_chat_id", "'true'", telegram_chat_id="true"),
              quarantined("telegram_chat_id", "''", telegram_chat_id=""),
              loaded({"telegram_chat_id": -1001234567890}, telegram_chat_id="-1001234567890"),
              types={"telegram_chat_id": string}),
        _case("wrong-type", "boolean-in-small-integer", "employees",
              quarantined("department_id", "(a bool value)", department_id=True),
              types={"department_id": boolean}),
        _case("wrong-type", "number-in-text", "customers",
              loaded({"phone_number": "+5511987654321"}, phone_number=5511987654321),
              types={"phone_number": int64}),
    ]  # fmt: skip

    # --- SQL injection in every text field ---------------------------------------------------
    payloads = itertools.cycle(SQL_INJECTIONS)
    for entity, contract in CONTRACTS.items():
        for name in arrow_schema(contract).names:
            if arrow_schema(contract).field(name).type != pa.string():
                continue
            text = next(payloads)
            if name in FREE_TEXT[entity]:
                record = loaded({name: text}, **{name: text})
            else:  # a pattern (e-mail, phone, name, web address) or a list of values rejects it
                record = quarantined(name, "", {name: text}, **{name: text})
            cases.append(_case("sql-injection", name, entity, record))
    cases += [
        _case("sql-injection", f"city-{number}", "customers", loaded({"city": text}, city=text))
        for number, text in enumerate(SQL_INJECTIONS)
    ]

    # --- huge strings ------------------------------------------------------------------------
    huge = "x" * MEGABYTE
    cases += [
        _case("huge-string", "city", "customers",
              quarantined("city", "must have at most 200 characters", city=huge)),
        _case("huge-string", "description", "products",
              quarantined("description", "must have at most 2000 characters", description="é" * MEGABYTE)),
        _case("huge-string", "injection-megabyte", "suppliers",
              quarantined("company_name", "at most 200",
                          company_name=(SQL_INJECTIONS[0] * (MEGABYTE // 20))[:MEGABYTE])),
        _case("huge-string", "key", "sales",
              quarantined("sale_id", "(1,000,000 characters)", sale_id="9" * MEGABYTE),
              types={"sale_id": string}),
    ]  # fmt: skip

    # --- control characters and NUL ----------------------------------------------------------
    cases += [
        _case("control-characters", "nul-in-text", "customers",
              quarantined("city", "contains control characters", {"city": "Reci\\u0000fe"},
                          city="Reci\x00fe")),
        _case("control-characters", "nul-beside-literal-escape", "customers",
              # The six characters \u0000 typed into a field, in a record quarantined for a real NUL.
              quarantined("first_name", "control characters",
                          {"first_name": "Ana\\u0000", "city": "C:\\u0000"},
                          first_name="Ana\x00", city="C:\\u0000")),
        _case("control-characters", "ansi-escape", "customers",
              quarantined("first_name", "contains control characters", first_name="\x1b[31mAna")),
        _case("control-characters", "bell", "products",
              quarantined("description", "contains control characters", description="ding\x07dong")),
        _case("control-characters", "nul-in-key", "sales",
              quarantined("sale_id", "'7\\x00'", {"sale_id": "7\\u0000"}, sale_id="7\x00"),
              types={"sale_id": string}),
        _case("control-characters", "newline-tab-and-copy-marker", "products",
              loaded({"description": "line one\nline two\r\n\\.\n\ttabbed"},
                     description="line one\nline two\r\n\\.\n\ttabbed")),
    ]  # fmt: skip

    # --- Unicode: invalid bytes in the landed file, and valid but odd text -------------------
    cases += [
        _case("invalid-unicode", "bytes-column", "customers",
              loaded({"city": "Recife"}, city=b"Recife"),
              quarantined("city", "is not valid UTF-8 text: b'Recife \\xff'", {"city": "Recife \\xff"},
                          city=b"Recife \xff"),
              quarantined("city", "b'S\\xc3'", city=b"S\xc3"),  # a multi-byte character cut short
              types={"city": binary}),
        _case("invalid-unicode", "unchecked-string-column", "customers",
              quarantined("last_name", "b'Souza\\xed\\xa0\\x80'", {"last_name": "Souza\\xed\\xa0\\x80"},
                          last_name=b"Souza\xed\xa0\x80"),  # a lone surrogate, encoded
              quarantined("first_name", "b'\\xc0\\xafAna'", first_name=b"\xc0\xafAna"),  # overlong "/"
              loaded({"first_name": "Jos\u00e9"}, first_name="Jos\u00e9".encode()),
              types={"last_name": UNCHECKED_TEXT, "first_name": UNCHECKED_TEXT}),
        _case("odd-unicode", "valid-but-odd", "customers",
              loaded({"city": "S\u00e3o Paulo \U0001f680 \u202eevil\u202c zero\u200dwidth"},
                     city="S\u00e3o Paulo \U0001f680 \u202eevil\u202c zero\u200dwidth"),
              loaded({"first_name": "Jose\u0301"}, first_name="Jose\u0301"),  # combining accent
              loaded({"city": "\ufeffRecife"}, city="\ufeffRecife")),  # a byte-order mark inside text
    ]  # fmt: skip

    # --- duplicated keys ---------------------------------------------------------------------
    cases += [
        _case("duplicate-key", "within-file", "customers",
              loaded({"city": "First"}, customer_id="same:a", city="First"),
              quarantined("customer_id", "repeats a record earlier in the same batch", {"city": "Second"},
                          customer_id="same:a", city="Second")),
        _case("duplicate-key", "within-file", "sales",
              loaded({"name_product": "First"}, sale_id="same:a", name_product="First"),
              quarantined("sale_id", "repeats a record earlier", sale_id="same:a", name_product="Second")),
        # Raw keeps every version as Airbyte's append sync does; silver keeps the latest.
        _case("duplicate-key", "already-loaded", "customers",
              loaded({"city": "Moved away"}, customer_id=LOADED_KEY, city="Moved away")),
        _case("duplicate-key", "already-loaded", "sales",
              loaded({"name_product": "Sold again"}, sale_id=LOADED_KEY, name_product="Sold again")),
    ]  # fmt: skip

    # --- dates in year 9999 and year 0 -------------------------------------------------------
    cases += [
        _case("extreme-date", "sale-in-9999", "sales",
              quarantined("date", "is in the future", date=END_OF_9999)),
        _case("extreme-date", "birth-in-9999", "employees",
              quarantined("birth_date", "is in the future", birth_date=date(9999, 12, 31))),
        _case("extreme-date", "updated-in-9999", "customers",  # would win silver's latest version forever
              quarantined("updated_at", "is in the future", updated_at=END_OF_9999)),
        # A start date may lie ahead of the hire (hired now, starting later), but not beyond a year.
        _case("extreme-date", "start-in-9999", "employees",
              quarantined("start_date", "is more than 366 days in the future",
                          start_date=date(9999, 12, 31))),
        _case("extreme-date", "birth-in-year-0", "employees",
              quarantined("birth_date", "is outside the years 0001 to 9999", {"birth_date": "0000-01-01"},
                          birth_date=YEAR_0)),
        _case("extreme-date", "created-in-year-minus-1", "customers",
              quarantined("created_at", "is outside the years 0001 to 9999", created_at=YEAR_MINUS_1)),
        _case("extreme-date", "terminated-in-year-1", "employees",
              quarantined("termination_date", "is before hire_date", termination_date=date(1, 1, 1))),
    ]  # fmt: skip

    # --- dates Python and Postgres can hold, but no business would: outside the contracts' bounds
    # (a sale in year 1 became year 1 BC in Brasília time in gold, which psycopg cannot read).
    year_1 = datetime(1, 1, 1, tzinfo=UTC)
    cases += [
        _case("implausible-date", "sale-in-year-1", "sales",
              quarantined("date", "is before 2000-01-01 (the CRM's first day)",
                          {"date": "0001-01-01T00:00:00+00:00"}, date=year_1)),
        _case("implausible-date", "sale-created-in-year-1", "sales",
              quarantined("created_at", "is before 2000-01-01", created_at=year_1)),
        _case("implausible-date", "sale-on-the-eve-of-the-crm", "sales",
              quarantined("date", "is before 2000-01-01", date=datetime(1999, 12, 31, 23, 59, tzinfo=UTC))),
        _case("implausible-date", "customer-updated-in-1970", "customers",
              quarantined("updated_at", "is before 2000-01-01", updated_at=datetime(1970, 1, 1, tzinfo=UTC))),
        _case("implausible-date", "product-created-in-year-1", "products",
              quarantined("created_at", "is before 2000-01-01", created_at=year_1)),
        _case("implausible-date", "supplier-updated-in-year-1", "suppliers",
              quarantined("updated_at", "is before 2000-01-01", updated_at=year_1)),
        _case("implausible-date", "birth-in-year-1", "employees",
              quarantined("birth_date", "is before 1900-01-01 (the earliest plausible birth date)",
                          {"birth_date": "0001-01-01"}, birth_date=date(1, 1, 1))),
        _case("implausible-date", "hire-in-1850", "employees",
              quarantined("hire_date", "is before 1950-01-01 (the earliest plausible hire)",
                          hire_date=date(1850, 3, 1), birth_date=date(1820, 1, 1),
                          start_date=date(1850, 3, 2))),
    ]  # fmt: skip

    # --- empty and whitespace-only text ------------------------------------------------------
    cases += [
        _case("empty", "city", "customers", quarantined("city", "must have at least 1 characters", city="")),
        _case("whitespace", "city", "customers", quarantined("city", "at least 1", city="   ")),
        _case("whitespace", "first-name", "customers", quarantined("first_name", "", first_name="\t \n")),
        _case("empty", "description", "products", loaded({"description": ""}, description="")),
        _case("whitespace", "description", "products", loaded({"description": ""}, description="  \n ")),
        _case("empty", "website", "suppliers", quarantined("website", "web address", website="")),
        _case("empty", "no-website", "suppliers", loaded({"website": None}, website=None)),
        _case("empty", "missing-email", "customers", quarantined("email", "is required", email=None)),
    ]  # fmt: skip

    # --- numeric overflow, NaN and infinities ------------------------------------------------
    cases += [
        _case("numeric-extreme", "largest-bigint", "customers",
              loaded({"telegram_chat_id": 2**63 - 1}, telegram_chat_id=2**63 - 1)),
        _case("numeric-extreme", "smallest-bigint", "customers",
              loaded({"telegram_chat_id": -(2**63)}, telegram_chat_id=-(2**63))),
        _case("numeric-extreme", "largest-key", "sales", loaded({}, sale_id=2**63 - 1)),
        # Keys one apart near 2**63 beside a missing key: distinct records, not repeats.
        _case("numeric-extreme", "neighbouring-keys-beside-a-missing-one", "employees",
              quarantined("employee_id", "is required", employee_id=None),
              loaded({}, employee_id=2**63 - 2), loaded({}, employee_id=2**63 - 3)),
        _case("numeric-extreme", "huge-price", "products",
              quarantined("price", "at most 100000", price=1e308)),
        _case("numeric-extreme", "huge-total", "sales",
              quarantined("price", "differs from unit_price", **_sale_total(2, price=1e308))),
        _case("numeric-extreme", "negative-zero", "sales",
              quarantined("unit_price", "greater than 0", **_sale_total(2, unit_price=-0.0, price=0.0))),
        _case("nan-infinity", "nan-price", "products",
              quarantined("price", "must be a finite number", {"price": "NaN"}, price=float("nan"))),
        _case("nan-infinity", "infinite-total", "sales",
              quarantined("price", "must be a finite number", {"price": "Infinity"},
                          **_sale_total(2, price=float("inf")))),
        _case("nan-infinity", "minus-infinite-salary", "employees",
              quarantined("salary", "must be a finite number", salary=float("-inf"))),
    ]  # fmt: skip
    return cases


CASES: tuple[HostileCase, ...] = tuple(_cases())
assert len({case.id for case in CASES}) == len(CASES), "case ids must be unique"


# --- landing -----------------------------------------------------------------------------------


def natural_key(record: HostileRecord, entity: str, base: Mapping[str, Mapping[str, Any]]) -> Any:
    """The record's key as landed (the base record's key for a duplicate of loaded data)."""
    return base[entity][CONTRACTS[entity].natural_key] if record.key is LOADED_KEY else record.key


def quarantine_key(record: HostileRecord, entity: str, base: Mapping[str, Mapping[str, Any]]) -> str | None:
    """The natural key as raw.quarantine's text column holds it."""
    return natural_key_text(natural_key(record, entity, base))


def full_record(record: HostileRecord, entity: str, base: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    key_field = CONTRACTS[entity].natural_key
    return {**base[entity], **record.changes, key_field: natural_key(record, entity, base)}


def _as_text(value: Any) -> Any:
    if value is None or isinstance(value, str | bytes):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _column(values: list[Any], kind: pa.DataType | str) -> pa.Array:
    if isinstance(kind, str) or kind == pa.binary():  # UNCHECKED_TEXT, or text typed as bytes
        raw = [v.encode() if isinstance(v, str) else v for v in map(_as_text, values)]
        array = pa.array(raw, pa.binary())
        return array if kind == pa.binary() else array.view(pa.string())
    if kind == pa.string():
        return pa.array([_as_text(v) for v in values], pa.string())
    if kind == pa.date32():
        days = [v.days if isinstance(v, Days) else None if v is None else (v - EPOCH).days for v in values]
        return pa.array(days, pa.int32()).view(pa.date32())
    if pa.types.is_timestamp(kind):
        return pa.array([_micros(v) for v in values], pa.int64()).view(kind)
    return pa.array(values, kind)


def _micros(value: datetime | Micros | None) -> int | None:
    if value is None or isinstance(value, Micros):
        return None if value is None else value.micros
    return (value - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def land(
    lake_url: str, day: date, base: Mapping[str, Mapping[str, Any]], cases: tuple[HostileCase, ...] = CASES
) -> dict[str, int]:
    """Write the corpus into the landing zone for `day`; records landed per entity."""
    root = landing.lake_root(lake_url)
    shapes: dict[tuple[str, tuple[tuple[str, str], ...]], list[HostileCase]] = {}
    for case in cases:
        shapes.setdefault(case.file_shape, []).append(case)
    landed: dict[str, int] = {}
    for number, ((entity, _), group) in enumerate(sorted(shapes.items(), key=lambda item: item[0])):
        schema = arrow_schema(CONTRACTS[entity])
        kinds = {name: group[0].column_types.get(name, schema.field(name).type) for name in schema.names}
        rows = [full_record(record, entity, base) for case in group for record in case.records]
        table = pa.table({name: _column([row[name] for row in rows], kinds[name]) for name in schema.names})
        landing.write_partition(root, entity, day, table, part_name=f"hostile-{number}.parquet")
        landed[entity] = landed.get(entity, 0) + table.num_rows
    return landed


def records(cases: tuple[HostileCase, ...] = CASES) -> Iterator[tuple[HostileCase, HostileRecord]]:
    for case in cases:
        for record in case.records:
            yield case, record
