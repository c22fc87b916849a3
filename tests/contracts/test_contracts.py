"""Contracts: each rule rejects what it should, with the field and reason named; the per-record
path (Pydantic) and the batch path (Arrow) give the same verdict on the same records."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

import annotated_types
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    StringConstraints,
    ValidationError,
    WrapValidator,
    create_model,
    field_serializer,
    field_validator,
    model_validator,
)

from liftoff.contracts import (
    CONTRACTS,
    CRM_CONTRACTS,
    Customer,
    Employee,
    FieldShape,
    Product,
    Sale,
    Supplier,
    UncompilableContractError,
    field_shapes,
    normalise_email,
    normalise_phone,
    rules_by_field,
)
from liftoff.contracts.engine import (
    Contract,
    Normalise,
    SchemaDriftError,
    ValidationContext,
    arrow_schema,
    compile_contract,
    end_of_day,
    validate_table,
)
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


def test_a_quantity_no_float_holds_exactly_fails_its_record_not_the_batch():
    """2**53 + 1 has no float64: the row rule comparing the total must not make Arrow raise for the
    batch (it did: the loader stopped on one absurd record instead of quarantining it)."""
    rows = [SALE | {"sale_id": 1}, SALE | {"sale_id": 2, "quantity": 2**53 + 1}]
    outcome = validate_table(Sale, pa.Table.from_pylist(rows), CONTEXT)
    assert outcome.valid.column("sale_id").to_pylist() == [1]
    [[violation]] = outcome.violations
    assert violation.field == "quantity"
    assert violation.reason == "must be at most 1000"


# --- the engine refuses, when a contract is defined, any rule it cannot compile ------------------


def _same(value: Any) -> Any:
    return value


def _wrapped(value: Any, handler: Any) -> Any:
    return handler(value)


@pytest.mark.parametrize(
    ("annotation", "default", "constraint"),
    [
        (Annotated[int, Field(multiple_of=5)], ..., "MultipleOf(multiple_of=5)"),
        (Annotated[int, annotated_types.MultipleOf(5)] | None, None, "MultipleOf(multiple_of=5)"),
        (Annotated[int, annotated_types.Interval(gt=0, lt=9)], ..., "Interval("),
        (Annotated[int, annotated_types.Predicate(bool)], ..., "Predicate("),
        (Annotated[int, AfterValidator(_same)], ..., "AfterValidator("),
        (Annotated[int, BeforeValidator(_same)] | None, None, "BeforeValidator("),
        (Annotated[int, PlainValidator(_same)], ..., "PlainValidator("),
        (Annotated[int, WrapValidator(_wrapped)], ..., "WrapValidator("),
        (Annotated[str, Field(pattern="^[0-9]+$")], ..., "pattern='^[0-9]+$'"),
        (Annotated[str, Field(strict=True)], ..., "Strict(strict=True)"),
        (Annotated[str, StringConstraints(to_upper=True)], ..., "StringConstraints(to_upper=True)"),
        (Annotated[float, Field(allow_inf_nan=True)], ..., "AllowInfNan("),
        (Decimal, ..., "the type <class 'decimal.Decimal'>"),
        (int | str, ..., "the type int | str"),
        (list[int], ..., "the type list[int]"),
        (Literal[1, "one"], ..., "the type typing.Literal[1, 'one']"),
        (int, Field(alias="qty"), "the alias 'qty'"),
        (int, 5, "the default 5"),
        (int | None, Field(default_factory=lambda: 5), "the default <function"),
    ],
)
def test_a_field_constraint_the_engine_cannot_compile_is_refused_naming_contract_field_constraint(
    annotation, default, constraint
):
    with pytest.raises(UncompilableContractError) as error:
        create_model("Refused", __base__=Contract, quantity=(annotation, default))
    message = str(error.value)
    assert message.startswith("contract Refused, field 'quantity': the validation engine cannot compile ")
    assert constraint in message
    assert (error.value.contract, error.value.field) == ("Refused", "quantity")


def test_a_field_validator_is_refused_naming_its_field():
    with pytest.raises(
        UncompilableContractError,
        match=r"contract Refused, field 'quantity': .* the field_validator 'round_up'",
    ):

        class Refused(Contract):
            quantity: int

            @field_validator("quantity")
            @classmethod
            def round_up(cls, value: int) -> int:
                return value

    with pytest.raises(UncompilableContractError, match=r"field 'quantity': .* field_serializer 'shown'"):

        class Shown(Contract):
            quantity: int

            @field_serializer("quantity")
            def shown(self, value: int) -> str:
                return str(value)


@pytest.mark.parametrize("mode", ["before", "after"])
def test_a_model_validator_is_refused(mode):
    with pytest.raises(
        UncompilableContractError,
        match=r"contract Refused, field '\(whole record\)': .* the model_validator 'check_everything'",
    ):

        class Refused(Contract):
            quantity: int

            @model_validator(mode=mode)
            def check_everything(cls_or_self, value: Any = None) -> Any:
                return value

    with pytest.raises(UncompilableContractError, match="model_validator '_check_with_the_batch_engine'"):

        class Overridden(Contract):  # the base's own validator replaced by another is refused too
            quantity: int

            @model_validator(mode="after")
            def _check_with_the_batch_engine(self) -> Any:
                return self


@pytest.mark.parametrize(
    "config", [ConfigDict(str_to_lower=True), ConfigDict(strict=True), ConfigDict(extra="allow")]
)
def test_model_config_with_a_rule_the_engine_ignores_is_refused(config):
    [setting] = config
    with pytest.raises(
        UncompilableContractError, match=rf"field '\(whole record\)': .* model_config {setting}="
    ):

        class Refused(Contract):
            model_config = config
            quantity: int


def test_everything_the_engine_compiles_is_accepted():
    """The refusal is an allow-list: it must not refuse what the engine checks (nor the contracts)."""
    for contract in CRM_CONTRACTS.values():
        compile_contract(contract)

    class Everything(Contract):
        model_config = ConfigDict(str_strip_whitespace=False, title="Everything")
        entity = "everythings"
        natural_key = "key"

        key: Annotated[int, Field(gt=0, lt=10)]
        level: Annotated[float, Field(ge=0, le=1)] | None = None
        code: Annotated[str, StringConstraints(min_length=1, max_length=9, pattern="^[a-z]+$", to_lower=True,
                                               strip_whitespace=True, strict=False)]  # fmt: skip
        email: Annotated[str, Normalise(normalise_email), Field(min_length=3, max_length=99)] | None = None
        kind: Literal["a", "b"]
        when: date
        at: datetime
        flag: bool | None = None

    assert rules_by_field(Everything)["code"] == [
        "is required",
        "contains control characters",
        "must have at least 1 characters",
        "must have at most 9 characters",
        "does not match ^[a-z]+$",
    ]
    record = {"key": 1, "code": " AB ", "kind": "a", "when": date(2026, 1, 1), "at": WHEN}
    outcome = validate_table(
        Everything, pa.Table.from_pylist([record], schema=arrow_schema(Everything)), CONTEXT
    )
    assert outcome.valid.column("code").to_pylist() == ["ab"]


def test_field_shapes_give_each_field_its_type_and_whether_it_may_be_empty():
    shapes = field_shapes(Employee)
    assert list(shapes) == list(Employee.model_fields)
    assert shapes["manager_id"] == FieldShape("manager_id", int, required=False)
    assert shapes["gender"] == FieldShape("gender", str, required=True)  # a Literal: its values' type
    assert shapes["hire_date"] == FieldShape("hire_date", date, required=True)
    assert shapes["termination_date"] == FieldShape("termination_date", date, required=False)


def test_rules_by_field_lists_field_checks_then_row_rules_then_references():
    rules = rules_by_field(Sale)
    assert rules["price"] == [
        "is required",
        "must be a finite number (not NaN or infinity)",
        "must be greater than 0",
        "differs from unit_price × quantity by more than R$ 0.01",
    ]
    assert rules["customer_id"][-1] == "references an unknown customer"


def test_a_pattern_shortcut_accepts_only_what_its_pattern_accepts_and_never_decides_a_rejection():
    """The person-name pattern is checked through a Latin-letters shortcut (the full Unicode one
    takes 1.5 ms to compile per batch): whatever the shortcut accepts, the pattern accepts; a batch
    with one value outside the shortcut is judged by the full pattern, value by value."""
    import re

    from liftoff.contracts.engine import PATTERN_SHORTCUTS
    from liftoff.contracts.entities import PERSON_NAME_PATTERN

    shortcut = PATTERN_SHORTCUTS[PERSON_NAME_PATTERN]
    characters = [chr(code) for code in range(0x20, 0x2100) if not 0xD800 <= code <= 0xDFFF]
    candidates = pa.array(characters + [f"A{c}b" for c in characters])
    quick = pc.match_substring_regex(candidates, shortcut).to_pylist()
    full = pc.match_substring_regex(candidates, PERSON_NAME_PATTERN).to_pylist()
    assert [c for c, q, f in zip(candidates.to_pylist(), quick, full, strict=True) if q and not f] == []
    assert sum(quick) > 2 * 52, "the shortcut accepts Latin letters beyond ASCII"
    assert re.fullmatch(shortcut.strip("^$"), "Conceição")

    # One batch: Latin names, a Greek and a Devanagari one (valid, past the shortcut), a digit (not).
    names = ["José", "Ana", "Ζωή", "अनु", "R2"]
    records = [SALE | {"sale_id": n, "first_name": name} for n, name in enumerate(names, 1)]
    table = pa.Table.from_pylist(records)
    outcome = validate_table(Sale, table, CONTEXT)
    assert outcome.invalid_positions.tolist() == [4]
    assert [v.field for v in outcome.violations[0]] == ["first_name"]
    latin_only = validate_table(Sale, table.slice(0, 2), CONTEXT)
    assert latin_only.invalid_rows.num_rows == 0


def test_keys_seen_in_earlier_batches_make_a_repeat_as_within_one_batch():
    """A file checked batch by batch: a key (or a null key) met in an earlier batch is a repeat, keys
    near 2**63 stay distinct, and the batch's own first occurrence still passes."""
    from liftoff.contracts.engine import KeysSeen

    seen = KeysSeen()
    assert seen.contains(pa.array([1, None], pa.int64())).tolist() == [False, False]
    seen.add(pa.array([2**63 - 1, 5, None, 5], pa.int64()))
    seen.add(pa.chunked_array([[3], [1]], pa.int64()))
    assert len(seen) == 4
    assert seen.contains(pa.array([2**63 - 2, 2**63 - 1, None, 4, 5, 3, 1, 0], pa.int64())).tolist() == [
        False, True, True, False, True, True, True, False,
    ]  # fmt: skip
    context = ValidationContext(AS_OF, KNOWN, earlier_keys=seen)
    batch = [SALE | {"sale_id": 7}, SALE | {"sale_id": 7}, SALE | {"sale_id": 5}]
    outcome = validate_table(Sale, pa.Table.from_pylist(batch, schema=arrow_schema(Sale)), context)
    assert outcome.valid.column("sale_id").to_pylist() == [7]
    assert [[v.reason for v in row] for row in outcome.violations] == [
        ["repeats a record earlier in the same batch"]
    ] * 2
