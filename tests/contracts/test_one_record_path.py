"""The engine's one-record path (`validate_record`, the CRM API's) and its batch path
(`validate_table`, ingestion's) give every record the same verdict: accepted with the same
normalised values, or rejected with the same violations in the same order.

Corpus: the hostile records (tests/hostile_records.py) whose values are of their fields' types
(what reaches the engine from the API; text in a number column is the API's to refuse first), the
simulator's dirty days, the API's sample records (tests/crm_samples.py), probes derived from every
constraint's bounds, and records Hypothesis builds from edge values. The corpus must break every
rule of every contract at least once, so a rule the two paths disagree on cannot hide.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import StringConstraints

from liftoff.apps.crm_api.records import read_json_value
from liftoff.contracts import CRM_CONTRACTS, ENTITIES, field_shapes, rules_by_field
from liftoff.contracts.engine import (
    CONTROL_CHARACTERS,
    PATTERN_REASONS,
    PATTERN_SHORTCUTS,
    Contract,
    KeysSeen,
    Normalise,
    ValidationContext,
    Violation,
    _arrow_whitespace,
    _constraints,
    _matches_one,
    _python_pattern,
    _unwrap,
    arrow_schema,
    end_of_day,
    lower_one,
    validate_record,
    validate_table,
)
from liftoff.ingest.simulator import SimulatorConfig, activity, snapshot
from tests import crm_samples as sample
from tests import hostile_records

DAY = date(2026, 3, 10)
AS_OF = end_of_day(DAY, "America/Sao_Paulo")
KNOWN = {entity: pa.array([1, 2, 3, 7], pa.int64()) for entity in CRM_CONTRACTS}
CONTEXT = ValidationContext(as_of=AS_OF, references=KNOWN)
WHEN = datetime(2026, 3, 9, 12, tzinfo=UTC)

BASE: dict[str, dict[str, Any]] = {
    "suppliers": {"supplier_id": 1, "company_name": "Ipê Ltda", "contact_name": "Carla Dias",
                  "email": "contato@ipe.com.br", "phone_number": "(11) 3333-4444",
                  "website": "https://www.ipe.com.br", "address": "Rua A, 1 - São Paulo",
                  "product_categories": "Móveis, Roupas", "primary_product": "Sofá",
                  "created_at": WHEN, "updated_at": WHEN},
    "products": {"product_id": 1, "supplier_id": 1, "name": "Sofá Ipê 0001", "description": "Um sofá.",
                 "categoria": "Móveis", "price": 1200.0, "email_fornecedor": "contato@ipe1.com.br",
                 "created_at": WHEN, "updated_at": WHEN},
    "employees": {"employee_id": 7, "manager_id": 1, "first_name": "Ana", "last_name": "Souza",
                  "email": "ana@liftoff.com.br", "phone_number": "+55 21 99876-5432",
                  "hire_date": date(2025, 3, 1), "department_id": 1, "job_title": "Vendedor",
                  "location": "Rio de Janeiro, RJ, Brasil", "gender": "Feminino", "nationality": "Brasileira",
                  "birth_date": date(1990, 6, 15), "start_date": date(2025, 3, 3), "termination_date": None,
                  "salary": 4500.0, "created_at": WHEN, "updated_at": WHEN},
    "customers": {"customer_id": 2, "first_name": "José", "last_name": "da Silva",
                  "email": "jose.silva@gmail.com", "phone_number": "(11) 98765-4321", "city": "Recife",
                  "state": "PE", "telegram_chat_id": None, "created_at": WHEN, "updated_at": WHEN},
    "sales": {"sale_id": 1, "customer_id": 2, "product_id": 1, "seller_id": 7,
              "email_employee": "ana@liftoff.com.br", "email_customer": "jose.silva@gmail.com",
              "first_name": "José", "last_name": "da Silva", "phone_number": "(11) 98765-4321",
              "name_product": "Smart TV Aurora 0001", "unit_price": 10.0, "quantity": 3, "price": 30.0,
              "date": WHEN, "created_at": WHEN},
    "opt_outs": {"opt_out_id": 1, "customer_id": 2, "email": "jose.silva@gmail.com", "channel": "email",
                 "reason": "não quero", "created_at": WHEN, "updated_at": WHEN},
}  # fmt: skip


def batch_verdict(
    contract: type[Contract], record: dict[str, Any], context: ValidationContext = CONTEXT
) -> tuple[dict[str, Any] | None, list[Violation]]:
    """The record alone in a batch, through ingestion's engine."""
    table = pa.Table.from_pylist([record], schema=arrow_schema(contract))
    outcome = validate_table(contract, table, context)
    if outcome.valid.num_rows:
        return outcome.valid.to_pylist()[0], []
    return None, outcome.violations[0]


def assert_same_verdict(
    contract: type[Contract], record: dict[str, Any], context: ValidationContext = CONTEXT
) -> list[Violation]:
    stored, violations = batch_verdict(contract, record, context)
    one = validate_record(contract, record, context)
    assert one.violations == violations, (contract.entity, record)
    assert one.record == stored, (contract.entity, record)
    if stored is not None:
        assert all(
            type(one.record[name]) is type(value) or value is None for name, value in stored.items()
        ), (one.record, stored)
    return violations


def _of_its_type(contract: type[Contract], record: dict[str, Any]) -> bool:
    """Every value is of its field's Python type (what the API's typing lets through), in range."""
    for name, shape in field_shapes(contract).items():
        value = record.get(name)
        if value is None:
            continue
        kind = shape.python_type
        if kind is int and (type(value) is not int or not -(2**63) <= value < 2**63):
            return False
        if kind is float and type(value) is not float:
            return False
        if kind is str and (type(value) is not str or _has_surrogate(value)):
            return False
        if kind is date and type(value) is not date:
            return False
        if kind is datetime and type(value) is not datetime:
            return False
        if kind is bool and type(value) is not bool:
            return False
    return set(record) <= set(contract.model_fields)


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


# --- probes: each constraint's bounds, each type's edge values ---------------------------------


def _text_probes(base: str) -> list[str]:
    return [
        "", " ", "\t", base + "\n", " " + base + " ", "\u3000" + base + "\u2028", base + "\x00", "1\x00",
        base + "\x1f",
        base + "\x7f", base + "\u202e", "İ" + base, base.upper(), "x" * 2_001, "ÿ" + base, "×", "Ǆ" + base,
        "o'brien", "ana-maria", "ana@b", "ana@b.c", "a b@c.com", "ANA@GMAIL.COM", "+5511987654321",
        "(11) 9876-5432", "011 98765 4321", "+0 1234", "55 11 98765 4321", "12", "https://a.b",
        "https://a.com/x y", "http://ex.com/ok", "Móveis, Roupas", "Móveis,Armas", "Eletrônico",
        "Masculino", "email", "all", "SP", "XX", "a" * 100, "a" * 101, "a" * 200, "a" * 201, "a" * 254,
        "a" * 3_000 + "@b.com", "日本語", "Zoë", "Ægir", "Ślązak", "Ωmega",
    ]  # fmt: skip


def _number_probes(kind: type, constraints: list[Any], key: Any) -> list[Any]:
    values: list[Any] = [0, 1, -1, 2, 3, 7, 999_999, key]
    for meta in constraints:
        for attribute in ("gt", "ge", "lt", "le"):
            bound = getattr(meta, attribute, None)
            if bound is not None:
                values += [bound, bound + 1, bound - 1]
                if kind is float:
                    values += [bound + 0.005, bound - 0.005, math.nextafter(bound, math.inf)]
    if kind is float:
        values += [math.nan, math.inf, -math.inf, 1e300, 30.0, 31.0, 30.004, 30.02, 4.999]
        return [float(v) for v in values if v is not None]
    return [int(v) for v in values if v is not None and not (isinstance(v, float) and not v.is_integer())]


def _date_probes(kind: type) -> list[Any]:
    days = [date(1, 1, 1), date(1899, 12, 31), date(1900, 1, 1), date(1949, 12, 31), date(1950, 1, 1),
            date(1999, 12, 31), date(2000, 1, 1), date(2007, 3, 1), date(2007, 3, 2), date(2008, 2, 29),
            date(2025, 2, 28), date(2025, 3, 1), date(2025, 3, 2), DAY, DAY + timedelta(days=1),
            DAY + timedelta(days=366), DAY + timedelta(days=367), date(9999, 12, 31)]  # fmt: skip
    if kind is date:
        return days
    minus_five, plus_five = timezone(timedelta(hours=-5)), timezone(timedelta(hours=5))
    return [datetime(d.year, d.month, d.day, tzinfo=UTC) for d in days] + [
        datetime(1, 1, 1, tzinfo=plus_five), datetime(9999, 12, 31, 23, tzinfo=minus_five),
        AS_OF, AS_OF + timedelta(microseconds=1), datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2000, 1, 1, 1, tzinfo=plus_five), datetime(2026, 3, 10, 12), WHEN.astimezone(minus_five),
    ]  # fmt: skip


def probes(contract: type[Contract]) -> Iterator[dict[str, Any]]:
    """The base record with one field changed to each of its probe values (and to None)."""
    base = BASE[contract.entity]
    for name, info in contract.model_fields.items():
        kind, _, _ = _unwrap(info.annotation)
        constraints = _constraints(info)
        if kind is str:
            values: list[Any] = _text_probes(base[name] or "x")
        elif kind in (int, float):
            values = _number_probes(kind, constraints, base[contract.natural_key])
        elif kind in (date, datetime):
            values = _date_probes(kind)
        else:
            values = [True, False]
        for value in [None, *values]:
            yield base | {name: value}
    # Rules across fields: a sale's total, an employee's dates.
    if contract.entity == "sales":
        yield base | {"unit_price": 0.1, "quantity": 3, "price": 0.3}
        yield base | {"unit_price": 99_999.99, "quantity": 1_000, "price": 99_999_990.0}
    if contract.entity == "employees":
        yield base | {"birth_date": date(2007, 3, 1)}
        yield base | {"birth_date": date(2007, 3, 2)}
        yield base | {"hire_date": date(2024, 2, 29), "birth_date": date(2006, 2, 28)}
        yield base | {"termination_date": date(2025, 2, 1)}
        yield base | {"start_date": date(2025, 2, 1)}
    if contract.entity == "opt_outs":
        yield base | {"customer_id": None, "email": None}
        yield base | {"customer_id": None, "email": "  Jose@Gmail.COM "}


def simulated(entity: str) -> list[dict[str, Any]]:
    config = SimulatorConfig(sales_per_day=100, dirty_rate=0.3, seed=3)
    table = snapshot(entity, DAY, config) if entity != "sales" else activity(entity, DAY, config)
    return table.slice(0, 200).to_pylist()


def hostile(entity: str) -> list[dict[str, Any]]:
    base = {name: BASE[name] for name in ENTITIES}
    rows = []
    for case, record in hostile_records.records():
        if case.entity == entity and record.key is not hostile_records.LOADED_KEY:
            rows.append(hostile_records.full_record(record, entity, base))
    return rows


def api_samples(entity: str) -> list[dict[str, Any]]:
    """The API's sample records, typed as the API types them."""
    contract = CRM_CONTRACTS[entity]
    body = {
        "suppliers": sample.supplier(),
        "products": sample.product(1),
        "employees": sample.employee(),
        "customers": sample.customer(),
        "sales": sample.sale(
            {"customer_id": 2, "email": "carla.dias@example.com", "first_name": "Carla",
             "last_name": "Dias", "phone_number": "21 99876-5432"},
            {"product_id": 1, "name": "Notebook Pro 14", "price": 4500.0},
            {"employee_id": 7, "email": "bruno.lima@liftoff.com.br"},
        ),
        "opt_outs": {"customer_id": 2, "channel": "all"},
    }[entity]  # fmt: skip
    now = datetime.now(UTC).isoformat()
    body = body | {contract.natural_key: 5, "created_at": now, "updated_at": now}
    shapes = field_shapes(contract)
    return [
        {
            name: read_json_value(shapes[name].python_type, value)
            for name, value in body.items()
            if name in shapes
        }
    ]


@pytest.mark.parametrize("entity", sorted(CRM_CONTRACTS))
def test_both_paths_give_every_record_the_same_verdict_and_every_rule_is_exercised(entity):
    contract = CRM_CONTRACTS[entity]
    corpus = [*probes(contract), *api_samples(entity)]
    if entity in ENTITIES:
        corpus += [*hostile(entity), *simulated(entity)]
    broken: set[tuple[str, str]] = set()
    accepted = 0
    for record in corpus:
        if not _of_its_type(contract, record):
            continue
        violations = assert_same_verdict(contract, record)
        broken |= {(v.field, v.reason) for v in violations}
        accepted += not violations
    every_rule = {(name, reason) for name, reasons in rules_by_field(contract).items() for reason in reasons}
    # No Python date lies outside the years 1-9999: only a batch (Arrow's year 0) breaks that rule.
    unbreakable = {
        (name, "is outside the years 0001 to 9999")
        for name, shape in field_shapes(contract).items()
        if shape.python_type is date
    }
    assert every_rule - unbreakable - broken == set(), "rules no record of the corpus breaks"
    assert accepted >= 10


def test_a_repeat_of_an_earlier_batch_is_a_repeat_on_both_paths():
    seen = KeysSeen()
    seen.add(pa.array([1], pa.int64()))
    context = ValidationContext(as_of=AS_OF, references=KNOWN, earlier_keys=seen)
    for key in (1, 2):
        assert_same_verdict(CRM_CONTRACTS["sales"], BASE["sales"] | {"sale_id": key}, context)


def test_references_are_looked_up_in_long_and_short_lists_of_known_keys_alike():
    many = ValidationContext(as_of=AS_OF, references={e: pa.array(range(1, 1_000)) for e in CRM_CONTRACTS})
    for customer in (2, 999, 1_000, None):
        assert_same_verdict(CRM_CONTRACTS["sales"], BASE["sales"] | {"customer_id": customer}, many)


def test_a_missing_context_raises_on_both_paths():
    context = ValidationContext(as_of=AS_OF, references={})
    with pytest.raises(KeyError, match="no known keys of customers"):
        validate_record(CRM_CONTRACTS["sales"], BASE["sales"], context)
    with pytest.raises(KeyError, match="no known keys of customers"):
        batch_verdict(CRM_CONTRACTS["sales"], BASE["sales"], context)


# --- Hypothesis: records built from edge values ------------------------------------------------

_CHARACTERS = st.sampled_from(
    [*"aAzZ09 .-'’@+()_,/:%~", "\t", "\n", "\r", "\x00", "\x1f", "\x7f", "\x85", "\xa0", "\u3000",
     "\u2028", "\u202e", "\u0130", "ß", "ÿ", "×", "é", "É", "Ǆ", "ǅ", "Ω", "日", "\u0301", "\U0001f600"]
)  # fmt: skip
_TEXT = st.one_of(
    st.text(_CHARACTERS, max_size=24),
    st.text(max_size=12).filter(lambda t: not _has_surrogate(t)),
    st.sampled_from(["ana@gmail.com", " Ana@Gmail.Com ", "(11) 98765-4321", "+55 11 98765-4321", "Móveis",
                     "Móveis, Roupas", "https://ex.com.br/a", "Masculino", "SP", "email", "José da Silva"]),
)  # fmt: skip


def _value(kind: type) -> st.SearchStrategy[Any]:
    if kind is str:
        return _TEXT
    if kind is int:
        return st.one_of(st.integers(-3, 1_002), st.integers(-(2**63), 2**63 - 1))
    if kind is float:
        return st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.floats(-1, 200_001))
    if kind is date:
        return st.dates(date(1, 1, 1), date(9999, 12, 31))
    if kind is datetime:
        offsets = st.sampled_from([UTC, timezone(timedelta(hours=-3)), timezone(timedelta(hours=14))])
        return st.datetimes(datetime(1, 1, 2), datetime(9999, 12, 30), timezones=offsets)
    return st.booleans()


@st.composite
def _records(draw: st.DrawFn) -> tuple[type[Contract], dict[str, Any]]:
    entity = draw(st.sampled_from(sorted(CRM_CONTRACTS)))
    contract = CRM_CONTRACTS[entity]
    record = dict(BASE[entity])
    for name in draw(st.sets(st.sampled_from(list(contract.model_fields)), min_size=1, max_size=4)):
        kind = field_shapes(contract)[name].python_type
        record[name] = draw(st.one_of(st.none(), _value(kind)))
    return contract, record


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_records())
def test_both_paths_agree_on_generated_records(generated):
    contract, record = generated
    assert_same_verdict(contract, record)


# --- the pieces the one-record path reads alike -------------------------------------------------


def test_trimmed_whitespace_is_exactly_arrows():
    characters = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    trimmed = pc.utf8_trim_whitespace(pa.array(characters, pa.string())).to_pylist()
    assert {c for c, t in zip(characters, trimmed, strict=True) if t == ""} == set(_arrow_whitespace())


def _normalisers() -> dict[str, Normalise]:
    """Every `Normalise` of the contracts that has a form for one value, by its function's name."""
    found = {}
    for contract in CRM_CONTRACTS.values():
        for info in contract.model_fields.values():
            for meta in _constraints(info):
                if isinstance(meta, Normalise) and meta.one is not None:
                    found[meta.vectorised.__name__] = meta
    return found


_PHONE_TEXT = st.text(st.sampled_from([*"0123456789+ ()-.", "\t", "\xa0", "\u3000", "٣", "x"]), max_size=20)


def test_every_contract_normaliser_of_one_value_has_a_test():
    assert sorted(_normalisers()) == ["normalise_email", "normalise_phone"]


def test_the_phone_normaliser_of_one_value_is_its_arrow_function_on_every_character():
    """(The e-mail's is made of trimming and lower case, each tested on every character below.)"""
    normalise = _normalisers()["normalise_phone"]
    characters = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    values = [*characters, *(f"+{c}1" for c in characters), *(f"{c}11987654321" for c in characters)]
    arrow = normalise.vectorised(pa.array(values, pa.string())).to_pylist()
    assert [normalise.one(value) for value in values] == arrow


@pytest.mark.parametrize("name", sorted(_normalisers()))
@settings(max_examples=500, deadline=None)
@given(value=st.one_of(_TEXT, _PHONE_TEXT))
def test_each_normaliser_of_one_value_is_its_arrow_function_on_generated_text(name, value):
    normalise = _normalisers()[name]
    assert normalise.one(value) == normalise.vectorised(pa.array([value], pa.string()))[0].as_py()


def test_lower_case_is_arrows_for_every_character():
    characters = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    lowered = pc.utf8_lower(pa.array(characters, pa.string())).to_pylist()
    assert [lower_one(c) for c in characters] == lowered


@pytest.mark.parametrize(
    "pattern", sorted({*PATTERN_REASONS, *PATTERN_SHORTCUTS.values(), CONTROL_CHARACTERS})
)
@settings(max_examples=300, deadline=None)
@given(value=_TEXT)
def test_each_contract_pattern_matches_one_value_as_arrow_does(pattern, value):
    arrow = pc.match_substring_regex(pa.array([value], pa.string()), pattern)[0].as_py()
    assert _matches_one(value, pattern) == arrow


@pytest.mark.parametrize(
    ("pattern", "portable"),
    [
        (r"^[a-z0-9._%+-]+@[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}$", True),
        (r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", True),
        (r"^\p{L}+$", False),  # Unicode classes: RE2 only
        (r"^\d+$", False),  # Unicode digits in Python, ASCII in RE2
        (r"\bword\b", False),
        (r"^\w+$", False),
        (r"(?i)^abc$", False),
        (r"^a{,3}$", False),  # a literal in RE2
        (r"^[[:alpha:]]+$", False),
    ],
)
def test_only_patterns_both_engines_read_alike_run_in_python(pattern, portable):
    assert (_python_pattern(pattern) is not None) == portable


def test_every_string_constraint_of_the_contracts_is_covered_by_the_pattern_test():
    patterns = {
        meta.pattern
        for contract in CRM_CONTRACTS.values()
        for info in contract.model_fields.values()
        for meta in _constraints(info)
        if isinstance(meta, StringConstraints) and meta.pattern
    }
    assert patterns <= set(PATTERN_REASONS)
