"""Data contracts of the CRM: one Pydantic model per entity, the single source of validation rules.

Used by ingestion (a whole day at once, compiled by `liftoff.contracts.engine`) and by the data-entry
API (one record at a time). Column names are the CRM's own (as Airbyte would sync them: e.g. the
product's `categoria`, the sale's `price` meaning the sale's total value); bronze renames them.

Rules beyond the original CRM's (valid e-mails, positive money and quantities, 5 categories):
phone numbers normalised to E.164; no dates after the batch's `as_of`; termination not before
hire; employees at least 18 at hire; no update after `as_of` either (silver keeps each record's
latest version by updated_at: a version dated 9999 would win forever); references to managers,
sellers, customers, products and suppliers that exist; a sale's total equal to unit price ×
quantity to the cent (tolerance R$ 0.01, float rounding); length limits on every text; names made
of letters.

Plausible dates only: every date and timestamp lies between a business floor and ceiling (see the
constants below), not merely within the years 1–9999 a file can carry. A sale dated 0001-01-01 once
passed, reached gold.daily_sales as a day psycopg cannot read (it is in year 1 BC in Brasília time)
and broke the dashboard; a hire in 1850 or a birth in year 1 is an entry error just the same.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, StringConstraints

from liftoff.contracts.engine import (
    Columns,
    Contract,
    Normalise,
    Reference,
    RowRule,
    ValidationContext,
    describe_pattern,
    lower_one,
    trim_one,
)

CATEGORIES: tuple[str, ...] = ("Eletrônico", "Eletrodoméstico", "Móveis", "Roupas", "Calçados")
Category = Literal["Eletrônico", "Eletrodoméstico", "Móveis", "Roupas", "Calçados"]
GENDERS: tuple[str, ...] = ("Masculino", "Feminino", "Prefiro não dizer")
Gender = Literal["Masculino", "Feminino", "Prefiro não dizer"]
STATES: tuple[str, ...] = (
    "AC", "AL", "AP", "AM", "BA", "CE", "DF", "ES", "GO", "MA", "MT", "MS", "MG", "PA",
    "PB", "PR", "PE", "PI", "RJ", "RN", "RS", "RO", "RR", "SC", "SP", "SE", "TO",
)  # fmt: skip
State = Literal[
    "AC", "AL", "AP", "AM", "BA", "CE", "DF", "ES", "GO", "MA", "MT", "MS", "MG", "PA",
    "PB", "PR", "PE", "PI", "RJ", "RN", "RS", "RO", "RR", "SC", "SP", "SE", "TO",
]  # fmt: skip

# Largest plausible amounts: anything above is an entry error ("absurd"), not a sale.
MAX_UNIT_PRICE = 100_000.0
MAX_SALARY = 200_000.0
MAX_QUANTITY = 1_000
TOTAL_TOLERANCE = 0.01  # R$: a sale's total vs unit price × quantity
ADULT_AGE_YEARS = 18

# Business bounds of dates (each quarantines, or the API refuses, naming the field and the bound).
# Ceilings: nothing after the end of the loaded day (`as_of`), except a start date, which may lie
# up to a year ahead (hired now, starting later).
# The CRM's first day: no sale, creation or update before it. Generous (the simulated CRM opened in
# 2024; sale ids count days from the same date), yet it stops year 1, 1970 (a zero epoch) and 1900.
CRM_FIRST_DAY = date(2000, 1, 1)
# The oldest plausible birth date of someone on the payroll.
EARLIEST_BIRTH_DATE = date(1900, 1, 1)
# The oldest plausible hire, start or termination (a company founded before 1950 migrating its staff
# records would still be after it; a hire in 1850 is a typo).
EARLIEST_EMPLOYMENT_DATE = date(1950, 1, 1)
MAX_START_LEAD_DAYS = 366  # start_date at most this many days after the loaded day (API: today)

# Patterns run in two engines (Rust regex in Pydantic, RE2 in Arrow): keep to their common syntax.
EMAIL_PATTERN = describe_pattern(
    r"^[a-z0-9._%+-]+@[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}$", "is not a valid e-mail address"
)
E164_PATTERN = describe_pattern(r"^\+[1-9][0-9]{7,14}$", "is not a phone number (E.164 after normalising)")
# Latin letters (ASCII and Latin-1's À-ÿ but × and ÷) are the shortcut: they are all \p{L}.
PERSON_NAME_PATTERN = describe_pattern(
    r"^\p{L}[\p{L}\p{M}'’. -]*$",
    "has characters a person's name does not (letters, spaces, ' . - only)",
    shortcut=r"^[A-Za-zÀ-ÖØ-öø-ÿ][A-Za-zÀ-ÖØ-öø-ÿ'’. -]*$",
)
URL_PATTERN = describe_pattern(
    r"^https?://[A-Za-z0-9.-]+\.[A-Za-z]{2,}(/[A-Za-z0-9._~/%-]*)?$", "is not an http(s) web address"
)


def normalise_phone(numbers: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """Brazilian phone numbers as E.164: `(11) 98765-4321` and `011 98765 4321` → `+5511987654321`.

    Digits only, a leading `+` kept; national numbers (10 or 11 digits after a trunk `0`) get `+55`;
    `55…` with 12 or 13 digits gets its `+`. Anything else is left for the E.164 pattern to reject.
    """
    has_plus = pc.starts_with(pc.utf8_trim_whitespace(numbers), "+")
    digits = pc.replace_substring_regex(numbers, r"[^0-9]", "")
    national = pc.replace_substring_regex(digits, r"^0+", "")
    length = pc.utf8_length(national)
    is_national = pc.and_(pc.greater_equal(length, 10), pc.less_equal(length, 11))
    is_country = pc.and_(
        pc.starts_with(national, "55"), pc.and_(pc.greater_equal(length, 12), pc.less_equal(length, 13))
    )
    prefixed = pc.if_else(
        is_national,
        pc.binary_join_element_wise("+55", national, ""),
        pc.if_else(is_country, pc.binary_join_element_wise("+", national, ""), numbers),
    )
    return pc.if_else(has_plus, pc.binary_join_element_wise("+", digits, ""), prefixed)


def normalise_phone_one(number: str) -> str:
    """`normalise_phone` of one value, step for step (the one-record path's: the CRM API's check
    of a sale spent a third of its time running the Arrow function on a one-element array)."""
    digits = re.sub(r"[^0-9]", "", number)
    if trim_one(number).startswith("+"):
        return "+" + digits
    national = digits.lstrip("0")
    if 10 <= len(national) <= 11:
        return "+55" + national
    if national.startswith("55") and 12 <= len(national) <= 13:
        return "+" + national
    return number


def normalise_email(addresses: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """E-mail addresses trimmed and lower-cased, so one mailbox has one spelling."""
    return pc.utf8_lower(pc.utf8_trim_whitespace(addresses))


def normalise_email_one(address: str) -> str:
    """`normalise_email` of one value."""
    return lower_one(trim_one(address))


Email = Annotated[
    str,
    Normalise(normalise_email, normalise_email_one),
    StringConstraints(max_length=254, pattern=EMAIL_PATTERN),
]
Phone = Annotated[
    str,
    Normalise(normalise_phone, normalise_phone_one),
    StringConstraints(max_length=16, pattern=E164_PATTERN),
]
PersonName = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=PERSON_NAME_PATTERN)]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=200)]
LongText = Annotated[str, StringConstraints(max_length=2_000)]
Key = Annotated[int, Field(gt=0)]


# --- row rules: written once, vectorised; one record runs them on one-element arrays -------------


def _not_after_as_of(column: str) -> RowRule:
    def check(columns: Columns, context: ValidationContext) -> pa.Array:
        values = columns[column]
        if pa.types.is_date(values.type):
            return pc.less_equal(values, pa.scalar(context.as_of.date(), pa.date32()))
        return pc.less_equal(values, pa.scalar(context.as_of, pa.timestamp("us", tz="UTC")))

    return RowRule(column, "is in the future", check)


def _not_before_day(column: str, floor: date, what: str) -> RowRule:
    """`column` (a date, or a timestamp compared with the floor's midnight UTC) not before `floor`."""

    def check(columns: Columns, _: ValidationContext) -> pa.Array:
        values = columns[column]
        if pa.types.is_date(values.type):
            return pc.greater_equal(values, pa.scalar(floor, pa.date32()))
        midnight = datetime(floor.year, floor.month, floor.day, tzinfo=UTC)
        return pc.greater_equal(values, pa.scalar(midnight, pa.timestamp("us", tz="UTC")))

    return RowRule(column, f"is before {floor.isoformat()} ({what})", check)


def _dated(
    column: str, floor: date = CRM_FIRST_DAY, what: str = "the CRM's first day"
) -> tuple[RowRule, ...]:
    """A date field's bounds: not after the loaded day, not before its floor."""
    return _not_after_as_of(column), _not_before_day(column, floor, what)


def _start_not_far_ahead(columns: Columns, context: ValidationContext) -> pa.Array:
    latest = (context.as_of + timedelta(days=MAX_START_LEAD_DAYS)).date()
    return pc.less_equal(columns["start_date"], pa.scalar(latest, pa.date32()))


def _not_before(column: str, earlier: str) -> RowRule:
    return RowRule(
        column,
        f"is before {earlier}",
        lambda columns, _: pc.greater_equal(columns[column], columns[earlier]),
    )


def _adult_at_hire(columns: Columns, _: ValidationContext) -> pa.Array:
    hire = columns["hire_date"].cast(pa.date32()).to_numpy(zero_copy_only=False).astype("datetime64[D]")
    birth = columns["birth_date"].cast(pa.date32()).to_numpy(zero_copy_only=False).astype("datetime64[D]")
    adult_from = birth.astype("datetime64[M]") + np.timedelta64(12 * ADULT_AGE_YEARS, "M")
    # Add back the day of the month (month arithmetic keeps the calendar day; Feb 29 → Mar 1).
    adult_from = adult_from.astype("datetime64[D]") + (
        birth - birth.astype("datetime64[M]").astype("datetime64[D]")
    )
    result = hire >= adult_from
    return pa.array(result, mask=np.isnat(hire) | np.isnat(birth))


def _total_matches(columns: Columns, _: ValidationContext) -> pa.Array:
    # Unsafe cast: a quantity beyond 2**53 (already refused by its own field check) must not make
    # Arrow raise for the whole batch; its row's verdict here is ignored anyway.
    quantity = pc.cast(columns["quantity"], pa.float64(), safe=False)
    expected = pc.multiply(columns["unit_price"], quantity)
    return pc.less_equal(pc.abs(pc.subtract(columns["price"], expected)), TOTAL_TOLERANCE + 1e-9)


def _not_own_manager(columns: Columns, _: ValidationContext) -> pa.Array:
    return pc.not_equal(columns["manager_id"], columns["employee_id"])


def _categories_known(columns: Columns, _: ValidationContext) -> pa.Array:
    allowed = "|".join(CATEGORIES)
    return pc.match_substring_regex(columns["product_categories"], rf"^({allowed})(, ?({allowed}))*$")


# --- the entities ------------------------------------------------------------------------------


class Supplier(Contract):
    entity = "suppliers"
    natural_key = "supplier_id"
    row_rules = (
        RowRule("product_categories", "lists a category outside the catalog", _categories_known),
        *_dated("created_at"),
        *_dated("updated_at"),
    )

    supplier_id: Key
    company_name: ShortText
    contact_name: PersonName
    email: Email
    phone_number: Phone
    website: Annotated[str, StringConstraints(max_length=200, pattern=URL_PATTERN)] | None = None
    address: ShortText
    product_categories: ShortText
    primary_product: ShortText
    created_at: datetime
    updated_at: datetime


class Product(Contract):
    entity = "products"
    natural_key = "product_id"
    references = (Reference("supplier_id", "suppliers"),)
    row_rules = (
        *_dated("created_at"),
        *_dated("updated_at"),
    )

    product_id: Key
    supplier_id: Key
    name: ShortText
    description: LongText
    categoria: Category
    price: Annotated[float, Field(gt=0, le=MAX_UNIT_PRICE)]
    email_fornecedor: Email
    created_at: datetime
    updated_at: datetime


class Employee(Contract):
    entity = "employees"
    natural_key = "employee_id"
    references = (Reference("manager_id", "employees"),)
    row_rules = (
        RowRule("manager_id", "is the employee's own id", _not_own_manager),
        *_dated("hire_date", EARLIEST_EMPLOYMENT_DATE, "the earliest plausible hire"),
        *_dated("birth_date", EARLIEST_BIRTH_DATE, "the earliest plausible birth date"),
        RowRule("hire_date", f"is before the employee turned {ADULT_AGE_YEARS}", _adult_at_hire),
        _not_before("start_date", "hire_date"),
        RowRule("start_date", f"is more than {MAX_START_LEAD_DAYS} days in the future", _start_not_far_ahead),
        _not_before("termination_date", "hire_date"),
        *_dated("termination_date", EARLIEST_EMPLOYMENT_DATE, "the earliest plausible termination"),
        *_dated("created_at"),
        *_dated("updated_at"),
    )

    employee_id: Key
    manager_id: Key | None = None
    first_name: PersonName
    last_name: PersonName
    email: Email
    phone_number: Phone
    hire_date: date
    department_id: Annotated[int, Field(ge=1, le=20)]
    job_title: ShortText
    location: ShortText
    gender: Gender
    nationality: Annotated[str, StringConstraints(min_length=1, max_length=60)]
    birth_date: date
    start_date: date
    termination_date: date | None = None
    salary: Annotated[float, Field(gt=0, le=MAX_SALARY)]
    created_at: datetime
    updated_at: datetime


class Customer(Contract):
    entity = "customers"
    natural_key = "customer_id"
    row_rules = (
        *_dated("created_at"),
        *_dated("updated_at"),
    )

    customer_id: Key
    first_name: PersonName
    last_name: PersonName
    email: Email
    phone_number: Phone
    city: ShortText
    state: State
    telegram_chat_id: int | None = None
    created_at: datetime
    updated_at: datetime


class Sale(Contract):
    entity = "sales"
    natural_key = "sale_id"
    references = (
        Reference("customer_id", "customers"),
        Reference("product_id", "products"),
        Reference("seller_id", "employees"),
    )
    row_rules = (
        RowRule(
            "price", f"differs from unit_price × quantity by more than R$ {TOTAL_TOLERANCE}", _total_matches
        ),
        *_dated("date"),
        *_dated("created_at"),
    )

    sale_id: Key
    customer_id: Key
    product_id: Key
    seller_id: Key
    email_employee: Email
    email_customer: Email
    first_name: PersonName
    last_name: PersonName
    phone_number: Phone
    name_product: ShortText
    unit_price: Annotated[float, Field(gt=0, le=MAX_UNIT_PRICE)]
    quantity: Annotated[int, Field(gt=0, le=MAX_QUANTITY)]
    price: Annotated[float, Field(gt=0)]
    date: datetime
    created_at: datetime


def _names_someone(columns: Columns, _: ValidationContext) -> pa.Array:
    return pc.or_(pc.is_valid(columns["customer_id"]), pc.is_valid(columns["email"]))


OPT_OUT_CHANNELS: tuple[str, ...] = ("email", "telegram", "all")
OptOutChannel = Literal["email", "telegram", "all"]


class OptOut(Contract):
    """A customer's refusal of marketing on a channel ("all": every channel); the campaign reads them.

    Kept in the CRM (crm.opt_outs), not ingested into the warehouse: consent is operational data the
    campaign checks at send time. Names the customer by id, by e-mail, or both.
    """

    entity = "opt_outs"
    natural_key = "opt_out_id"
    references = (Reference("customer_id", "customers"),)
    row_rules = (
        RowRule("customer_id", "or email is required (who opted out)", _names_someone),
        *_dated("created_at"),
        *_dated("updated_at"),
    )

    opt_out_id: Key
    customer_id: Key | None = None
    email: Email | None = None
    channel: OptOutChannel
    reason: Annotated[str, StringConstraints(max_length=500)] | None = None
    created_at: datetime
    updated_at: datetime


# Load order within a day: referenced entities first.
CONTRACTS: dict[str, type[Contract]] = {
    contract.entity: contract for contract in (Supplier, Product, Employee, Customer, Sale)
}
ENTITIES: tuple[str, ...] = tuple(CONTRACTS)
# Everything the CRM data-entry API writes: the ingested entities and the opt-outs.
CRM_CONTRACTS: dict[str, type[Contract]] = {**CONTRACTS, OptOut.entity: OptOut}
