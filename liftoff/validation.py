"""The engine behind the contracts: one set of rules, checked record by record or a million at once.

A contract (see `liftoff.contracts`) is a Pydantic model. Its rules live in three places, each
written once:

- field constraints in the annotations (`Field(gt=0)`, `StringConstraints(pattern=...)`,
  `Literal[...]`, optional or required);
- `RowRule`s: checks across fields (termination not before hire, total = unit price × quantity),
  written as vectorised functions over Arrow columns;
- `Reference`s: keys that must exist in another entity.

Pydantic validates a single record (the data-entry API) with the same objects: field constraints
natively, row rules and references by running the vectorised check on a one-row table. Ingestion
compiles the same objects into Arrow compute expressions and checks a whole day in one pass,
because validating a million records one at a time in Python costs seconds per column.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, ClassVar, Literal

import annotated_types
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationInfo, model_validator

Columns = Mapping[str, pa.ChunkedArray | pa.Array]
Mask = pa.ChunkedArray | pa.Array  # boolean, True where the record passes


@dataclass(frozen=True)
class ValidationContext:
    """What a rule needs beyond the record: the time it is checked at and the known keys."""

    as_of: datetime
    references: Mapping[str, pa.Array] = field(default_factory=dict)


@dataclass(frozen=True)
class RowRule:
    """A check across fields. `check` returns True where a record passes (nulls count as passing:
    whether a field may be empty is the field's own constraint)."""

    field: str
    reason: str
    check: Callable[[Columns, ValidationContext], Mask]


@dataclass(frozen=True)
class Reference:
    """`field` must name an existing record of `entity` (null allowed when the field is optional)."""

    field: str
    entity: str


@dataclass(frozen=True)
class Normalise:
    """An annotation that normalises a field (e.g. phone numbers to E.164) before its constraints.

    Written once, vectorised; a single record runs it on a one-element array.
    """

    vectorised: Callable[[pa.ChunkedArray | pa.Array], pa.ChunkedArray | pa.Array]

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> Any:
        from pydantic_core import core_schema

        def one(value: Any) -> Any:
            if not isinstance(value, str):
                return value
            return self.vectorised(pa.array([value], pa.string()))[0].as_py()

        return core_schema.no_info_before_validator_function(one, handler(source))


@dataclass(frozen=True)
class Violation:
    field: str
    reason: str


class Contract(BaseModel):
    """Base of every entity contract: field rules in annotations, plus row rules and references."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    entity: ClassVar[str]
    natural_key: ClassVar[str]
    row_rules: ClassVar[tuple[RowRule, ...]] = ()
    references: ClassVar[tuple[Reference, ...]] = ()

    @model_validator(mode="after")
    def _check_with_the_batch_engine(self, info: ValidationInfo) -> Contract:
        """Run the batch engine on this one record, so both paths give the same verdict.

        Pydantic has already enforced the field constraints; this adds what only the engine
        holds: row rules, references and the checks every text field gets (no control characters).
        """
        context = info.context
        if not isinstance(context, ValidationContext):
            raise ValueError("validation needs a ValidationContext (as_of and known references)")
        table = pa.Table.from_pylist([self.model_dump()], schema=arrow_schema(type(self)))
        outcome = validate_table(type(self), table, context, source="record")
        if outcome.violations:
            raise ValueError("; ".join(f"{v.field}: {v.reason}" for v in outcome.violations[0]))
        return self


# --- Arrow schema derived from the annotations -------------------------------------------------

_ARROW_TYPES: dict[Any, pa.DataType] = {
    int: pa.int64(),
    float: pa.float64(),
    str: pa.string(),
    bool: pa.bool_(),
    date: pa.date32(),
    datetime: pa.timestamp("us", tz="UTC"),
}


def _unwrap(annotation: Any) -> tuple[Any, bool, list[Any]]:
    """(base type, optional?, constraints) of an annotation such as `Annotated[int, Gt(0)] | None`.

    Pydantic lifts the constraints of a top-level Annotated into FieldInfo.metadata, but not those
    of an Annotated inside an Optional: those are returned here.
    """
    optional = False
    metadata: list[Any] = []
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        optional = len(members) < len(typing.get_args(annotation))
        annotation = members[0]
    if typing.get_origin(annotation) is typing.Annotated:
        annotation, *extra = typing.get_args(annotation)
        for item in extra:
            metadata.extend(getattr(item, "metadata", None) or [item])
    if typing.get_origin(annotation) is Literal:
        annotation = type(typing.get_args(annotation)[0])
    return annotation, optional, metadata


def _constraints(info: Any) -> list[Any]:
    return [*info.metadata, *_unwrap(info.annotation)[2]]


# No text field may hold these (NUL cannot even be stored in a Postgres text column).
CONTROL_CHARACTERS = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"

# Human wording for the patterns contracts use; a pattern without one is quoted as it is.
PATTERN_REASONS: dict[str, str] = {}


def describe_pattern(pattern: str, reason: str) -> str:
    """Register how a violated pattern reads in a quarantine reason or an API error."""
    PATTERN_REASONS[pattern] = reason
    return pattern


def arrow_schema(contract: type[Contract]) -> pa.Schema:
    fields = []
    for name, info in contract.model_fields.items():
        base, _, _ = _unwrap(info.annotation)
        # All nullable: a missing required value is a violation to report, not a schema error.
        fields.append(pa.field(name, _ARROW_TYPES[base], nullable=True))
    return pa.schema(fields)


# --- compiled field constraints ----------------------------------------------------------------


def _field_checks(contract: type[Contract]) -> list[tuple[Violation, Callable[[pa.ChunkedArray], Mask]]]:
    """Each field constraint of the annotations as (violation, vectorised check)."""
    checks: list[tuple[Violation, Callable[[pa.ChunkedArray], Mask]]] = []
    for name, info in contract.model_fields.items():
        base, optional, _ = _unwrap(info.annotation)
        if not optional and info.is_required():
            checks.append((Violation(name, "is required"), lambda a: pc.is_valid(a)))
        if base is str:
            checks.append((Violation(name, "contains control characters"),
                           lambda a: pc.or_kleene(pc.invert(pc.match_substring_regex(a, CONTROL_CHARACTERS)),
                                                  pc.is_null(a))))  # fmt: skip
        literal = info.annotation
        if typing.get_origin(literal) is Literal:
            allowed = pa.array(typing.get_args(literal))
            checks.append(
                (Violation(name, f"must be one of {', '.join(map(str, allowed.to_pylist()))}"),
                 lambda a, allowed=allowed: pc.or_kleene(pc.is_in(a, value_set=allowed), pc.is_null(a)))
            )  # fmt: skip
        for meta in _constraints(info):
            checks.extend(_metadata_checks(name, meta))
    return checks


def _metadata_checks(name: str, meta: Any) -> list[tuple[Violation, Callable[[pa.ChunkedArray], Mask]]]:
    def passes(expression: Callable[[pa.ChunkedArray], Mask]) -> Callable[[pa.ChunkedArray], Mask]:
        return lambda a: pc.or_kleene(expression(a), pc.is_null(a))

    out: list[tuple[Violation, Callable[[pa.ChunkedArray], Mask]]] = []
    if isinstance(meta, annotated_types.Gt):
        out.append(
            (
                Violation(name, f"must be greater than {meta.gt}"),
                passes(lambda a, v=meta.gt: pc.greater(a, v)),
            )
        )
    elif isinstance(meta, annotated_types.Ge):
        out.append(
            (
                Violation(name, f"must be at least {meta.ge}"),
                passes(lambda a, v=meta.ge: pc.greater_equal(a, v)),
            )
        )
    elif isinstance(meta, annotated_types.Lt):
        out.append(
            (Violation(name, f"must be less than {meta.lt}"), passes(lambda a, v=meta.lt: pc.less(a, v)))
        )
    elif isinstance(meta, annotated_types.Le):
        out.append(
            (Violation(name, f"must be at most {meta.le}"), passes(lambda a, v=meta.le: pc.less_equal(a, v)))
        )
    elif isinstance(meta, annotated_types.MinLen):
        out.append((Violation(name, f"must have at least {meta.min_length} characters"),
                    passes(lambda a, v=meta.min_length: pc.greater_equal(pc.utf8_length(a), v))))  # fmt: skip
    elif isinstance(meta, annotated_types.MaxLen):
        out.append((Violation(name, f"must have at most {meta.max_length} characters"),
                    passes(lambda a, v=meta.max_length: pc.less_equal(pc.utf8_length(a), v))))  # fmt: skip
    elif isinstance(meta, StringConstraints):
        if meta.min_length is not None:
            out.extend(_metadata_checks(name, annotated_types.MinLen(meta.min_length)))
        if meta.max_length is not None:
            out.extend(_metadata_checks(name, annotated_types.MaxLen(meta.max_length)))
        if meta.pattern is not None:
            reason = PATTERN_REASONS.get(meta.pattern, f"does not match {meta.pattern}")
            out.append((Violation(name, reason),
                        passes(lambda a, p=meta.pattern: pc.match_substring_regex(a, p))))  # fmt: skip
    return out


def _transforms(contract: type[Contract]) -> dict[str, Callable[[pa.ChunkedArray], pa.ChunkedArray]]:
    """Normalisations the annotations ask for (strip, lower case, `Normalise(...)` functions)."""
    out: dict[str, list[Callable[[pa.ChunkedArray], pa.ChunkedArray]]] = {}
    for name, info in contract.model_fields.items():
        steps = out.setdefault(name, [])
        base, _, _ = _unwrap(info.annotation)
        if base is str and contract.model_config.get("str_strip_whitespace"):
            steps.append(pc.utf8_trim_whitespace)
        for meta in _constraints(info):
            if isinstance(meta, StringConstraints):
                if meta.strip_whitespace:
                    steps.append(pc.utf8_trim_whitespace)
                if meta.to_lower:
                    steps.append(pc.utf8_lower)
            vector = getattr(meta, "vectorised", None)
            if vector is not None:
                steps.append(vector)

    def chain(functions: list[Callable[[pa.ChunkedArray], pa.ChunkedArray]]):
        def apply(array: pa.ChunkedArray) -> pa.ChunkedArray:
            for function in functions:
                array = function(array)
            return array

        return apply

    return {name: chain(steps) for name, steps in out.items() if steps}


# --- the engine --------------------------------------------------------------------------------


class SchemaDriftError(ValueError):
    """The file's columns are not the contract's; the message names the columns."""


@dataclass(frozen=True)
class ValidationOutcome:
    valid: pa.Table
    invalid_rows: pa.Table  # the records as received, for the quarantine payload
    violations: list[list[Violation]]  # per invalid row, in order
    invalid_positions: np.ndarray  # where the invalid rows stood in the batch

    @property
    def rows_in(self) -> int:
        return self.valid.num_rows + self.invalid_rows.num_rows


def check_schema(contract: type[Contract], table: pa.Table, source: str) -> None:
    expected = set(contract.model_fields)
    present = set(table.column_names)
    missing, extra = sorted(expected - present), sorted(present - expected)
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing columns {', '.join(missing)}")
        if extra:
            parts.append(f"unexpected columns {', '.join(extra)}")
        raise SchemaDriftError(f"{source} does not match the {contract.entity} contract: {'; '.join(parts)}")


def conform(contract: type[Contract], table: pa.Table, source: str) -> pa.Table:
    """Columns in contract order and types; values that do not fit their type become violations."""
    check_schema(contract, table, source)
    schema = arrow_schema(contract)
    columns = []
    for target in schema:
        column = table.column(target.name)
        if column.type != target.type:
            try:
                column = column.cast(target.type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
                raise SchemaDriftError(
                    f"{source}: column {target.name} is {column.type}, the {contract.entity} contract "
                    f"needs {target.type} ({error})"
                ) from None
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=schema.with_metadata(None))


def _rule_masks(
    contract: type[Contract], table: pa.Table, context: ValidationContext
) -> list[tuple[Violation, Mask]]:
    columns = {name: table.column(name) for name in table.column_names}
    masks = [
        (Violation(rule.field, rule.reason), pc.fill_null(rule.check(columns, context), True))
        for rule in contract.row_rules
    ]
    for reference in contract.references:
        known = context.references.get(reference.entity)
        if known is None:
            raise KeyError(
                f"no known keys of {reference.entity} given to check {contract.entity}.{reference.field}"
            )
        column = columns[reference.field]
        passes = pc.or_kleene(pc.is_in(column, value_set=known), pc.is_null(column))
        masks.append((Violation(reference.field, f"references an unknown {reference.entity[:-1]}"), passes))
    return masks


def validate_table(
    contract: type[Contract], table: pa.Table, context: ValidationContext, source: str = "batch"
) -> ValidationOutcome:
    """Split a batch into valid records (normalised) and invalid ones (as received), with reasons.

    Field constraints, row rules, references, and one more rule only a batch can see: a natural
    key repeated within the batch keeps its first record; the repeats are violations.
    """
    received = conform(contract, table, source)
    transforms = _transforms(contract)
    normalised = pa.Table.from_arrays(
        [
            transforms[n](received.column(n)) if n in transforms else received.column(n)
            for n in received.column_names
        ],
        schema=received.schema,
    )
    checks: list[tuple[Violation, Mask]] = [
        (violation, pc.fill_null(check(normalised.column(violation.field)), False))
        for violation, check in _field_checks(contract)
    ]
    field_ok = _all(normalised.num_rows, [mask for _, mask in checks])
    # Row rules and references see only records whose fields are sound (no rule fires on garbage).
    checks += [
        (v, pc.or_kleene(m, pc.invert(field_ok))) for v, m in _rule_masks(contract, normalised, context)
    ]
    checks.append((Violation(contract.natural_key, "repeats a record earlier in the same batch"),
                   _first_occurrence(normalised.column(contract.natural_key))))  # fmt: skip

    failing = [(violation, np.asarray(pc.invert(mask))) for violation, mask in checks]
    bad = np.zeros(normalised.num_rows, dtype=bool)
    for _, flags in failing:
        bad |= flags
    bad_rows = np.flatnonzero(bad)
    per_row = [[violation for violation, flags in failing if flags[row]] for row in bad_rows]
    return ValidationOutcome(
        valid=normalised.filter(pa.array(~bad)),
        invalid_rows=received.take(pa.array(bad_rows, pa.int64())),
        violations=per_row,
        invalid_positions=bad_rows,
    )


def _all(length: int, masks: Sequence[Mask]) -> pa.Array:
    result = pa.array(np.ones(length, dtype=bool))
    for mask in masks:
        result = pc.and_(result, mask)
    return result


def _first_occurrence(keys: pa.ChunkedArray) -> pa.Array:
    values = keys.to_numpy(zero_copy_only=False)
    flags = np.zeros(len(values), dtype=bool)
    if len(values):
        _, first = np.unique(values, return_index=True)
        flags[first] = True
    return pa.array(flags)


def payload_json(row: dict[str, Any]) -> str:
    """A received record as JSON for the quarantine, whatever it holds (dates, bytes, NaN, NUL)."""

    def default(value: Any) -> Any:
        if isinstance(value, datetime | date):
            return value.isoformat()
        if isinstance(value, bytes):
            return value.decode("utf-8", "replace")
        return str(value)

    clean = {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in row.items()}
    text = json.dumps(clean, default=default, ensure_ascii=False)
    # jsonb cannot hold \u0000: keep it visible as text instead.
    return text.replace("\\u0000", "\\\\u0000")


def end_of_day(day: date, timezone: str) -> datetime:
    """The last instant of `day` in `timezone`, in UTC: the default `as_of` for a day's records."""
    from datetime import time, timedelta
    from zoneinfo import ZoneInfo

    local = datetime.combine(day + timedelta(days=1), time(), tzinfo=ZoneInfo(timezone))
    return local.astimezone(UTC)
