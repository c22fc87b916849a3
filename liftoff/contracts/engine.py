"""The engine behind the contracts: one set of rules, checked record by record or a million at once.

A contract (see `liftoff.contracts`) is a Pydantic model. Its rules live in three places, each
written once:

- field constraints in the annotations (`Field(gt=0)`, `StringConstraints(pattern=...)`,
  `Literal[...]`, optional or required);
- `RowRule`s: checks across fields (termination not before hire, total = unit price × quantity),
  written as vectorised functions over Arrow columns;
- `Reference`s: keys that must exist in another entity.

Ingestion compiles these objects into Arrow compute expressions and checks a whole day in one pass
(`validate_table`), because validating a million records one at a time in Python costs seconds
per column. A single record (the data-entry API, a Pydantic `model_validate`) goes through
`validate_record`: each field constraint and normalisation is compiled, next to its vectorised
form and from the same annotation, into a check of one Python value (`FieldCheck`); row rules run
their own vectorised check on one-element arrays; references look the key up. It gives the verdict
and the reasons a one-row batch would get (tests/contracts/test_one_record_path.py), at a tenth of
the cost (an Arrow compute call costs microseconds even on one row; a batch check makes ~250).
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import types
import typing
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cache, partial
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
    # The natural keys of the same file's earlier batches, when a file is checked batch by batch:
    # a key repeated across two batches is a repeat as it would be within one.
    earlier_keys: KeysSeen | None = None


class KeysSeen:
    """The natural keys (and whether a null key) met so far in one file, kept sorted in numpy.

    Memory is 8 bytes per record of the file, not the records themselves; each batch inserts its
    new keys in place (one copy of the array, no sort of the whole)."""

    def __init__(self) -> None:
        self._keys = np.empty(0, np.int64)
        self._null = False

    def __len__(self) -> int:
        return len(self._keys)

    def contains(self, keys: pa.ChunkedArray | pa.Array) -> np.ndarray:
        """Per key: whether an earlier batch had it (a null matches an earlier null)."""
        values, nulls = self._numbers(keys)
        found = self._found(values)
        found[nulls] = self._null
        return found

    def add(self, keys: pa.ChunkedArray | pa.Array) -> None:
        values, nulls = self._numbers(keys)
        self._null = self._null or bool(nulls.any())
        new = np.unique(values[~nulls])
        new = new[~self._found(new)]
        self._keys = np.insert(self._keys, np.searchsorted(self._keys, new), new)

    def _found(self, values: np.ndarray) -> np.ndarray:
        if not len(self._keys):
            return np.zeros(len(values), dtype=bool)
        at = np.searchsorted(self._keys, values).clip(max=len(self._keys) - 1)
        return self._keys[at] == values

    @staticmethod
    def _numbers(keys: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, np.ndarray]:
        if isinstance(keys, pa.ChunkedArray):
            keys = keys.combine_chunks() if keys.num_chunks != 1 else keys.chunk(0)
        nulls = np.asarray(keys.is_null(), dtype=bool)
        values = keys.cast(pa.int64()).fill_null(0).to_numpy(zero_copy_only=False)
        return values, nulls


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

    @property
    def reason(self) -> str:
        """How a broken reference reads in a quarantine reason, an API error and the docs."""
        return f"references an unknown {self.entity[:-1]}"


@dataclass(frozen=True)
class Normalise:
    """An annotation that normalises a field (e.g. phone numbers to E.164) before its constraints.

    Written once, vectorised; a single record runs it on a one-element array, or runs `one`, its
    form for one text value, when it has one: the Arrow function on one value costs a record some
    30 µs per compute call (a phone number's took a third of a sale's check in the CRM API).
    `tests/contracts/test_one_record_path.py` holds every `one` to its `vectorised` on each
    character and on generated text, as the one-record path is held to the batch path.
    """

    vectorised: Callable[[pa.ChunkedArray | pa.Array], pa.ChunkedArray | pa.Array]
    one: Callable[[str], str] | None = None

    def of_one(self, value: str) -> str:
        """The normalisation of one text value."""
        return self.one(value) if self.one is not None else _one_element(self.vectorised, value)

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> Any:
        from pydantic_core import core_schema

        def one(value: Any) -> Any:
            if not isinstance(value, str):
                return value
            return self.of_one(value)

        return core_schema.no_info_before_validator_function(one, handler(source))


@dataclass(frozen=True)
class Violation:
    field: str
    reason: str


class UncompilableContractError(TypeError):
    """A contract declares a rule the engine has no vectorised check for.

    Raised when the contract class is defined (so when `liftoff.contracts` is imported), never
    later: a rule the engine skipped would hold for a record sent to the API (Pydantic enforces it)
    and not for the same record ingested in a batch, or for neither, without a word. The message
    names the contract, the field and the constraint.
    """

    def __init__(self, contract: type, field: str, constraint: str, advice: str = "") -> None:
        self.contract = contract.__name__
        self.field = field
        self.constraint = constraint
        super().__init__(
            f"contract {contract.__name__}, field {field!r}: the validation engine cannot compile "
            f"{constraint}{advice or _ADVICE}"
        )


_ADVICE = (
    "; write the rule as a RowRule (vectorised, checked by ingestion and the API alike) or teach"
    " liftoff/contracts/engine.py to compile it"
)


class Contract(BaseModel):
    """Base of every entity contract: field rules in annotations, plus row rules and references."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    entity: ClassVar[str]
    natural_key: ClassVar[str]
    row_rules: ClassVar[tuple[RowRule, ...]] = ()
    references: ClassVar[tuple[Reference, ...]] = ()

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        """Compile the contract as soon as it is defined: one the engine cannot check fails here."""
        super().__pydantic_init_subclass__(**kwargs)
        compile_contract(cls)

    @model_validator(mode="after")
    def _check_with_the_engine(self, info: ValidationInfo) -> Contract:
        """Run the engine's one-record path (`validate_record`), which gives the batch's verdict.

        Pydantic has already enforced the field constraints; this adds what only the engine
        holds: row rules, references and the checks every text field gets (no control characters).
        """
        context = info.context
        if not isinstance(context, ValidationContext):
            raise ValueError("validation needs a ValidationContext (as_of and known references)")
        outcome = validate_record(type(self), self.model_dump(), context)
        if outcome.violations:
            raise ValueError("; ".join(f"{v.field}: {v.reason}" for v in outcome.violations))
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
    of an Annotated inside an Optional: those are returned here. An annotation with no single base
    type (`int | str`, a Literal of mixed types) gives None: `compile_contract` refuses it.
    """
    optional = False
    metadata: list[Any] = []
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        optional = len(members) < len(typing.get_args(annotation))
        if len(members) != 1:
            return None, optional, metadata
        annotation = members[0]
    if typing.get_origin(annotation) is typing.Annotated:
        annotation, *extra = typing.get_args(annotation)
        for item in extra:
            metadata.extend(getattr(item, "metadata", None) or [item])
    if typing.get_origin(annotation) is Literal:
        kinds = {type(value) for value in typing.get_args(annotation)}
        annotation = kinds.pop() if len(kinds) == 1 else None
    return annotation, optional, metadata


@dataclass(frozen=True)
class FieldShape:
    """A contract field as storage, API models and docs need it: its Python type, may it be empty.

    Other packages derive tables, request and response models and the data dictionary from the
    contracts; this spares each of them unwrapping Pydantic annotations (`X | None`, `Annotated`,
    `Literal`) and deciding on its own what "optional" means.
    """

    name: str
    python_type: type  # one of int, float, str, bool, date, datetime (a Literal gives its values' type)
    required: bool  # False when the field may be null or left out (`X | None`, or a default)


@cache  # a contract is a class, fixed once defined: its compiled form is made once
def field_shapes(contract: type[Contract]) -> dict[str, FieldShape]:
    """Each field's shape, in the contract's field order."""
    shapes = {}
    for name, info in contract.model_fields.items():
        base, optional, _ = _unwrap(info.annotation)
        shapes[name] = FieldShape(name, base, required=not optional and info.is_required())
    return shapes


def rules_by_field(contract: type[Contract]) -> dict[str, list[str]]:
    """Every rule of a contract, by field, in the words a violation of it reports.

    For documentation: the data dictionary lists what the engine checks, not what someone
    remembered to write down. Field constraints first, then row rules, then references.
    """
    rules: dict[str, list[str]] = {}
    for check in _field_checks(contract):
        rules.setdefault(check.violation.field, []).append(check.violation.reason)
    for rule in contract.row_rules:
        rules.setdefault(rule.field, []).append(rule.reason)
    for reference in contract.references:
        rules.setdefault(reference.field, []).append(reference.reason)
    return rules


def _constraints(info: Any) -> list[Any]:
    return [*info.metadata, *_unwrap(info.annotation)[2]]


# Dates a file may carry but neither Python nor the CSV that feeds Postgres's COPY can (Arrow holds
# year 0 and negative years; COPY would reject them half-way through a load).
_YEARS_1_TO_9999 = {
    date: (date(1, 1, 1), date(9999, 12, 31), pa.date32()),
    datetime: (
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        pa.timestamp("us", tz="UTC"),
    ),
}


# No text field may hold these (NUL cannot even be stored in a Postgres text column).
CONTROL_CHARACTERS = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"

# Human wording for the patterns contracts use; a pattern without one is quoted as it is.
PATTERN_REASONS: dict[str, str] = {}


# A faster pattern whose every match the full one also matches (see `describe_pattern`).
PATTERN_SHORTCUTS: dict[str, str] = {}


def describe_pattern(pattern: str, reason: str, shortcut: str | None = None) -> str:
    """Register how a violated pattern reads in a quarantine reason or an API error, and, for a
    pattern that is slow to compile (Unicode classes: 1.5 ms for a person's name, on every batch,
    so most of the API's check of one record), a `shortcut` matching a subset of what it matches:
    a batch whose values all match the shortcut never compiles the full pattern."""
    PATTERN_REASONS[pattern] = reason
    if shortcut is not None:
        PATTERN_SHORTCUTS[pattern] = shortcut
    return pattern


def _matches(values: pa.ChunkedArray, pattern: str) -> Mask:
    """Where `values` match `pattern` (null where null), through its shortcut when all match it."""
    shortcut = PATTERN_SHORTCUTS.get(pattern)
    if shortcut is not None:
        quick = pc.match_substring_regex(values, shortcut)
        if pc.all(quick).as_py() is not False:  # nulls are skipped; an empty batch is True
            return quick
    return pc.match_substring_regex(values, pattern)


# A value longer than this is matched by Arrow (RE2, linear time) even when Python's `re` could:
# a backtracking engine on a megabyte of hostile text is a denial of service.
_PYTHON_REGEX_MAX_CHARACTERS = 2_048
# Escapes RE2 and Python's `re` read alike: an escaped punctuation character, or \xHH.
_PORTABLE_ESCAPE = re.compile(r"\\(?:[^0-9A-Za-z]|x[0-9A-Fa-f]{2})")


@cache
def _python_pattern(pattern: str) -> re.Pattern[str] | None:
    """`pattern` compiled by Python's `re` when it means exactly what it means to RE2 (Arrow's
    engine), else None. Exactly: literals, classes with literal ranges, groups, alternation,
    quantifiers, ^ and $, and only the escapes of `_PORTABLE_ESCAPE`; no \\d, \\w, \\s, \\b
    (Unicode in Python, ASCII in RE2), no \\p{..} (RE2 only), no (?...) groups or flags. The one
    remaining difference, `$` also matching before a final newline in Python, is left to Arrow:
    `_matches_one` never gives Python a value with a newline."""
    unportable = ("(?", "{,", "[:")  # groups and flags; {,n} (a literal in RE2); POSIX classes
    if any(part in pattern for part in unportable) or "\\" in _PORTABLE_ESCAPE.sub("", pattern):
        return None
    try:
        return re.compile(pattern)
    except re.error:
        return None


def _matches_one(value: str, pattern: str) -> bool:
    """Whether one value matches `pattern` as `_matches` would say for it in a batch: through its
    shortcut when that matches, in Python's `re` where it reads the pattern as RE2 does (see
    `_python_pattern`), else in Arrow on a one-element array."""
    python_ok = "\n" not in value and len(value) <= _PYTHON_REGEX_MAX_CHARACTERS
    shortcut = PATTERN_SHORTCUTS.get(pattern)
    if shortcut is not None and python_ok:
        quick = _python_pattern(shortcut)
        if quick is not None and quick.search(value):
            return True
    compiled = _python_pattern(pattern) if python_ok else None
    if compiled is not None:
        return compiled.search(value) is not None
    return bool(pc.match_substring_regex(pa.array([value], pa.string()), pattern)[0].as_py())


@cache  # a contract is a class, fixed once defined: its compiled form is made once
def arrow_schema(contract: type[Contract]) -> pa.Schema:
    fields = []
    for name, info in contract.model_fields.items():
        base, _, _ = _unwrap(info.annotation)
        # All nullable: a missing required value is a violation to report, not a schema error.
        fields.append(pa.field(name, _ARROW_TYPES[base], nullable=True))
    return pa.schema(fields)


# --- compiled field constraints ----------------------------------------------------------------


class FieldCheck(typing.NamedTuple):
    """One field constraint, compiled twice from the same annotation: `vectorised` over an Arrow
    column (True where a record passes, null where the value is null), `one` on a single Python
    value of the field's type (None included). Both read the same bound, pattern or set of values,
    taken from the annotation here and nowhere else; `tests/contracts/test_one_record_path.py`
    proves they agree."""

    violation: Violation
    vectorised: Callable[[pa.ChunkedArray], Mask]
    one: Callable[[Any], bool]


def _nulls_pass(one: Callable[[Any], bool]) -> Callable[[Any], bool]:
    """A check of one value that lets an empty one pass (whether it may be empty is "is required")."""
    return lambda value: value is None or one(value)


def _nulls_pass_check(
    name: str, reason: str, vectorised: Callable[[pa.ChunkedArray], Mask], one: Callable[[Any], bool]
) -> FieldCheck:
    """A check under which an empty value passes (whether it may be empty is "is required")."""
    return FieldCheck(
        Violation(name, reason), lambda a: pc.or_kleene(vectorised(a), pc.is_null(a)), _nulls_pass(one)
    )


@cache  # a contract is a class, fixed once defined: its compiled form is made once
def _field_checks(contract: type[Contract]) -> list[FieldCheck]:
    """Each field constraint of the annotations, as a vectorised check and a check of one value."""
    checks: list[FieldCheck] = []
    for name, info in contract.model_fields.items():
        base, optional, _ = _unwrap(info.annotation)
        if not optional and info.is_required():
            checks.append(FieldCheck(Violation(name, "is required"), pc.is_valid, lambda v: v is not None))
        if base is float:
            # NaN and ±Infinity pass comparisons oddly (or not at all) and Postgres numeric would store them.
            reason = "must be a finite number (not NaN or infinity)"
            checks.append(_nulls_pass_check(name, reason, pc.is_finite, math.isfinite))
        if base in _YEARS_1_TO_9999:
            low, high, kind = _YEARS_1_TO_9999[base]  # scalars made here: pa.scalar imports pandas
            in_range = partial(_between, low=pa.scalar(low, kind), high=pa.scalar(high, kind))
            one_in_range = partial(_between_one, low=low, high=high)
            checks.append(
                _nulls_pass_check(name, "is outside the years 0001 to 9999", in_range, one_in_range)
            )
        if base is str:
            checks.append(
                _nulls_pass_check(
                    name,
                    "contains control characters",
                    lambda a: pc.invert(pc.match_substring_regex(a, CONTROL_CHARACTERS)),
                    lambda v: not _matches_one(v, CONTROL_CHARACTERS),
                )
            )
        literal = info.annotation
        if typing.get_origin(literal) is Literal:
            allowed = pa.array(typing.get_args(literal))
            values = frozenset(typing.get_args(literal))
            checks.append(
                _nulls_pass_check(
                    name,
                    f"must be one of {', '.join(map(str, allowed.to_pylist()))}",
                    lambda a, allowed=allowed: pc.is_in(a, value_set=allowed),
                    lambda v, values=values: v in values,
                )
            )
        for meta in _constraints(info):
            checks.extend(_metadata_checks(contract, name, meta))
    return checks


def _between_one(value: Any, low: Any, high: Any) -> bool:
    return low <= value <= high


def _between(values: pa.ChunkedArray, low: pa.Scalar, high: pa.Scalar) -> Mask:
    return pc.and_(pc.greater_equal(values, low), pc.less_equal(values, high))


def _metadata_checks(contract: type[Contract], name: str, meta: Any) -> list[FieldCheck]:
    """The checks of one constraint; UncompilableContractError for a constraint with no branch here.

    Refusing is the point: a constraint skipped here would still be enforced by Pydantic on a single
    record, so the API and ingestion would disagree (or, outside Pydantic, nothing would check it).
    Each branch reads the constraint's bound once and compiles it both ways (see `FieldCheck`).
    """

    def check(
        reason: str, vectorised: Callable[[pa.ChunkedArray], Mask], one: Callable[[Any], bool]
    ) -> FieldCheck:
        return _nulls_pass_check(name, reason, vectorised, one)

    out: list[FieldCheck] = []
    if isinstance(meta, annotated_types.Gt):
        v = meta.gt
        out.append(check(f"must be greater than {v}", lambda a: pc.greater(a, v), lambda x: x > v))
    elif isinstance(meta, annotated_types.Ge):
        v = meta.ge
        out.append(check(f"must be at least {v}", lambda a: pc.greater_equal(a, v), lambda x: x >= v))
    elif isinstance(meta, annotated_types.Lt):
        v = meta.lt
        out.append(check(f"must be less than {v}", lambda a: pc.less(a, v), lambda x: x < v))
    elif isinstance(meta, annotated_types.Le):
        v = meta.le
        out.append(check(f"must be at most {v}", lambda a: pc.less_equal(a, v), lambda x: x <= v))
    elif isinstance(meta, annotated_types.MinLen):
        v = meta.min_length
        at_least = f"must have at least {v} characters"
        out.append(check(at_least, lambda a: pc.greater_equal(pc.utf8_length(a), v), lambda x: len(x) >= v))
    elif isinstance(meta, annotated_types.MaxLen):
        v = meta.max_length
        at_most = f"must have at most {v} characters"
        out.append(check(at_most, lambda a: pc.less_equal(pc.utf8_length(a), v), lambda x: len(x) <= v))
    elif isinstance(meta, StringConstraints):
        for setting in dataclasses.fields(meta):
            value = getattr(meta, setting.name)
            if setting.name not in _STRING_CONSTRAINTS_COMPILED and value is not None and value is not False:
                raise UncompilableContractError(
                    contract, name, f"StringConstraints({setting.name}={value!r})"
                )
        if meta.min_length is not None:
            out.extend(_metadata_checks(contract, name, annotated_types.MinLen(meta.min_length)))
        if meta.max_length is not None:
            out.extend(_metadata_checks(contract, name, annotated_types.MaxLen(meta.max_length)))
        if meta.pattern is not None:
            p = meta.pattern
            reason = PATTERN_REASONS.get(p, f"does not match {p}")
            out.append(check(reason, lambda a: _matches(a, p), lambda x: _matches_one(x, p)))
    elif not isinstance(meta, Normalise):  # a Normalise is compiled by `_transforms`
        raise UncompilableContractError(contract, name, repr(meta))
    return out


# Settings of StringConstraints compiled above (limits, pattern) or by `_transforms` (strip, lower).
_STRING_CONSTRAINTS_COMPILED = frozenset(
    {"min_length", "max_length", "pattern", "strip_whitespace", "to_lower"}
)


@cache  # a contract is a class, fixed once defined: its compiled form is made once
def _transforms(contract: type[Contract]) -> dict[str, Callable[[pa.ChunkedArray], pa.ChunkedArray]]:
    """Normalisations the annotations ask for (strip, lower case, `Normalise(...)` functions)."""
    return {name: _chain([vectorised for vectorised, _ in steps]) for name, steps in _steps(contract).items()}


@cache
def _transforms_one(contract: type[Contract]) -> dict[str, Callable[[str], str]]:
    """The same normalisations of one text value (see `_steps`)."""
    return {name: _chain([one for _, one in steps]) for name, steps in _steps(contract).items()}


def _chain(functions: list[Callable[[Any], Any]]) -> Callable[[Any], Any]:
    def apply(value: Any) -> Any:
        for function in functions:
            value = function(value)
        return value

    return apply


@cache
def _steps(contract: type[Contract]) -> dict[str, list[tuple[Callable[[Any], Any], Callable[[str], str]]]]:
    """Each field's normalisations, in order, as (vectorised, of one value)."""
    out: dict[str, list[tuple[Callable[[Any], Any], Callable[[str], str]]]] = {}
    trim = (pc.utf8_trim_whitespace, trim_one)
    for name, info in contract.model_fields.items():
        steps = out.setdefault(name, [])
        base, _, _ = _unwrap(info.annotation)
        if base is str and contract.model_config.get("str_strip_whitespace"):
            steps.append(trim)
        for meta in _constraints(info):
            if isinstance(meta, StringConstraints):
                if meta.strip_whitespace:
                    steps.append(trim)
                if meta.to_lower:
                    steps.append((pc.utf8_lower, lower_one))
            if isinstance(meta, Normalise):
                steps.append((meta.vectorised, meta.of_one))
    return {name: steps for name, steps in out.items() if steps}


def _one_element(vectorised: Callable[[pa.Array], pa.Array], value: str) -> str:
    """A vectorised normalisation (a `Normalise`) run on one value: the function itself, on a
    one-element array."""
    return vectorised(pa.array([value], pa.string()))[0].as_py()


@cache
def _arrow_whitespace() -> str:
    """The characters `utf8_trim_whitespace` trims, asked of Arrow itself: those Python calls
    whitespace and every other separator or control character (a test checks every code point)."""
    candidates = [
        chr(code)
        for code in range(0x3001)  # every Unicode whitespace character is below U+3001
        if chr(code).isspace()
        or (unicodedata.category(chr(code))[0] in "ZC" and not 0xD800 <= code <= 0xDFFF)
    ]
    trimmed = pc.utf8_trim_whitespace(pa.array(candidates, pa.string())).to_pylist()
    return "".join(c for c, t in zip(candidates, trimmed, strict=True) if t == "")


def trim_one(value: str) -> str:
    """`utf8_trim_whitespace` of one value (Arrow's whitespace, asked of Arrow)."""
    return value.strip(_arrow_whitespace())


def lower_one(value: str) -> str:
    """`utf8_lower` of one value: Python's for ASCII (the same 26 letters), Arrow's otherwise
    (they differ on some 70 code points, e.g. U+0130)."""
    return value.lower() if value.isascii() else _one_element(pc.utf8_lower, value)


# --- refusing what the engine cannot compile ---------------------------------------------------

# model_config settings a contract may change: the one the engine reads (see `_transforms`) and
# ones without a rule in them. Any other change (str_to_lower, strict, extra, ...) is refused.
_CONFIG_WITHOUT_UNCOMPILED_RULES = frozenset({"str_strip_whitespace", "frozen", "title", "json_schema_extra"})
_WHOLE_RECORD = "(whole record)"  # the "field" of a rule on the whole record


def compile_contract(contract: type[Contract]) -> None:
    """Compile every rule of `contract`; UncompilableContractError for one the engine cannot check.

    Run when a contract class is defined (`Contract.__pydantic_init_subclass__`). The engine checks
    what it compiles and nothing else, so every other rule a contract could carry is refused here:
    field types without an Arrow type, constraints without a branch in `_metadata_checks`
    (`MultipleOf`, `Field(pattern=...)`, `AfterValidator`, ...), aliases and default values (the
    engine reads columns by field name and fills no default in), validator and serializer methods,
    and model_config settings that validate.
    """
    for name, info in contract.model_fields.items():
        base, _, _ = _unwrap(info.annotation)
        if base not in _ARROW_TYPES:
            allowed = ", ".join(kind.__name__ for kind in _ARROW_TYPES)
            raise UncompilableContractError(
                contract, name, f"the type {info.annotation!r}",
                f"; a field is one of {allowed} (optionally `| None`), or a Literal of one of them",
            )  # fmt: skip
        if info.alias is not None or info.validation_alias is not None:
            raise UncompilableContractError(
                contract, name, f"the alias {info.validation_alias or info.alias!r}",
                "; it reads columns by field name (a record would pass the API under one name and"
                " reach ingestion under the other)",
            )  # fmt: skip
        if info.default_factory is not None or (not info.is_required() and info.default is not None):
            default = info.default_factory or info.default
            raise UncompilableContractError(
                contract, name, f"the default {default!r}",
                "; it does not fill defaults in (a record without the field would be stored empty):"
                " declare the field `| None = None` or required",
            )  # fmt: skip
    _field_checks(contract)
    _transforms(contract)
    inherited = Contract.__pydantic_decorators__
    for kind in dataclasses.fields(contract.__pydantic_decorators__):
        for method, decorator in getattr(contract.__pydantic_decorators__, kind.name).items():
            known = getattr(inherited, kind.name).get(method)
            if known is not None and known.func is decorator.func:
                continue  # the base's own: runs the engine on one record
            fields = getattr(decorator.info, "fields", None)
            raise UncompilableContractError(
                contract, ", ".join(fields) if fields else _WHOLE_RECORD, f"the {kind.name[:-1]} {method!r}"
            )
    for setting, value in contract.model_config.items():
        if setting not in _CONFIG_WITHOUT_UNCOMPILED_RULES and value != Contract.model_config.get(setting):
            raise UncompilableContractError(contract, _WHOLE_RECORD, f"model_config {setting}={value!r}")


# --- the engine --------------------------------------------------------------------------------


class SchemaDriftError(ValueError):
    """The file's columns are not the contract's; the message names the columns."""


@dataclass(frozen=True)
class Unfit:
    """Values of one field that could not be read as the field's type, and what they were."""

    positions: np.ndarray  # rows of the batch
    reasons: list[str]  # per position: the value and the type it could not become
    received: list[Any]  # per position: the value as it came, JSON-ready for the quarantine payload


@dataclass(frozen=True)
class Conformed:
    """A batch in its contract's column order and types.

    A value that cannot be read as its field's type (text in a number, 30 February, bytes that are
    not UTF-8) is null in `table` and listed in `unfit`: its record is quarantined with a reason and
    the rest of the batch loads. The value is kept aside, not in the table, so that every later
    check stays one typed, vectorised expression over the whole batch.
    """

    table: pa.Table
    unfit: Mapping[str, Unfit] = field(default_factory=dict)

    @property
    def num_rows(self) -> int:
        return self.table.num_rows


def typed(batch: pa.Table | Conformed) -> pa.Table:
    """The typed table of a batch, whether conformed already or read in the contract's types."""
    return batch.table if isinstance(batch, Conformed) else batch


@dataclass(frozen=True)
class ValidationOutcome:
    valid: pa.Table
    invalid_rows: pa.Table  # the invalid records in the contract's types (a value that did not fit is null)
    violations: list[list[Violation]]  # per invalid row, in order
    invalid_positions: np.ndarray  # where the invalid rows stood in the batch
    received: list[dict[str, Any]] = field(default_factory=list)  # per invalid row: unfit values as they came

    @property
    def rows_in(self) -> int:
        return self.valid.num_rows + self.invalid_rows.num_rows

    def payloads(self) -> list[dict[str, Any]]:
        """The invalid records as received, for the quarantine payload: a value that did not fit its
        type appears as it came (`"abc"`, not the null the typed table holds)."""
        rows = python_rows(self.invalid_rows)
        received = self.received or [{} for _ in rows]
        return [row | extra for row, extra in zip(rows, received, strict=True)]


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


def conform(contract: type[Contract], table: pa.Table | Conformed, source: str) -> Conformed:
    """Columns in contract order and types.

    Missing or unexpected columns fail the whole file (SchemaDriftError naming them): the file is not
    what the contract describes, and loading part of it would hide that. A value that does not fit
    its column's type fails only its own record (see `Conformed`).
    """
    if isinstance(table, Conformed):
        return table
    check_schema(contract, table, source)
    schema = arrow_schema(contract)
    columns = []
    unfit: dict[str, Unfit] = {}
    for target in schema:
        column, bad = _conform_column(table.column(target.name), target.type)
        columns.append(column)
        if bad is not None:
            unfit[target.name] = bad
    return Conformed(pa.Table.from_arrays(columns, schema=schema.with_metadata(None)), unfit)


# --- casting values to the contract's types ----------------------------------------------------

_TYPE_NAMES = {
    pa.int64(): "an integer",
    pa.float64(): "a number",
    pa.string(): "text",
    pa.bool_(): "true or false",
    pa.date32(): "a date (YYYY-MM-DD)",
    pa.timestamp("us", tz="UTC"): "a timestamp with a time zone",
}
_DECIMAL_INTEGER = r"^-?[0-9]+$"
_UTF8, _TYPE = "utf8", "type"


def _is_text(kind: pa.DataType) -> bool:
    return pa.types.is_string(kind) or pa.types.is_large_string(kind)


def _is_bytes(kind: pa.DataType) -> bool:
    return pa.types.is_binary(kind) or pa.types.is_large_binary(kind)


def _is_number(kind: pa.DataType) -> bool:
    return pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)


def _is_moment(kind: pa.DataType) -> bool:
    return pa.types.is_date(kind) or pa.types.is_timestamp(kind)


def _may_cast(source: pa.DataType, target: pa.DataType) -> bool:
    """Which conversions ingestion accepts, whatever else Arrow can do.

    Text is parsed (exports often carry everything as text); numbers may become text (a phone
    number exported as a number) or another number when nothing is lost; dates and timestamps
    convert into each other (a timestamp into a date only at midnight). A boolean is never a
    number, a name or a date (Arrow would read true as 1), and a number is never a date (days or
    seconds since when?).
    """
    if _is_text(source):
        return True
    if pa.types.is_boolean(source):
        return pa.types.is_boolean(target)
    if _is_number(source):
        return _is_number(target) or _is_text(target)
    if _is_moment(source):
        return _is_moment(target)
    return False


def _cast_locating(array: pa.Array, target: pa.DataType) -> tuple[pa.Array, list[int]]:
    """Cast with Arrow's safe cast; where values cannot be cast, null them and say where.

    The common case is one vectorised cast. When it fails, halves are cast until the failing values
    are isolated: a few bad values in a million cost a few dozen small casts each, never a Python
    loop over the file.
    """
    try:
        return array.cast(target), []
    except pa.ArrowInvalid:
        if len(array) == 1:
            return pa.nulls(1, target), [0]
    middle = len(array) // 2
    left, left_bad = _cast_locating(array.slice(0, middle), target)
    right, right_bad = _cast_locating(array.slice(middle), target)
    return pa.concat_arrays([left, right]), left_bad + [middle + position for position in right_bad]


def _conform_chunk(array: pa.Array, target: pa.DataType) -> tuple[pa.Array, dict[int, str]]:
    """One chunk in `target`'s type, and {position: _UTF8 | _TYPE} of the values that did not fit."""
    bad: dict[int, str] = {}
    if _is_bytes(array.type):  # text a writer stored as bytes: it must be UTF-8
        array, failed = _cast_locating(array, pa.large_string() if pa.types.is_large_binary(array.type)
                                       else pa.string())  # fmt: skip
        bad.update(dict.fromkeys(failed, _UTF8))
    elif _is_text(array.type):
        try:
            array.validate(full=True)  # a Parquet reader does not check that text is UTF-8
        except pa.ArrowInvalid:
            raw = pa.large_binary() if pa.types.is_large_string(array.type) else pa.binary()
            array, failed = _cast_locating(array.view(raw), array.type)
            bad.update(dict.fromkeys(failed, _UTF8))
    if array.type == target:
        return array, bad
    if pa.types.is_null(array.type):
        return pa.nulls(len(array), target), bad
    if not _may_cast(array.type, target):
        bad.update(dict.fromkeys(np.flatnonzero(np.asarray(array.is_valid())).tolist(), _TYPE))
        return pa.nulls(len(array), target), bad
    if pa.types.is_timestamp(array.type) and pa.types.is_date(target):
        # Arrow's cast would drop a time of day without a word (and a day depends on the time zone).
        days = array.cast(target)
        midnight = np.asarray(pc.fill_null(pc.equal(days.cast(array.type), array), True))
        if not midnight.all():
            bad.update(dict.fromkeys(np.flatnonzero(~midnight).tolist(), _TYPE))
            array = pc.if_else(pa.array(midnight), array, pa.scalar(None, array.type))
    if _is_text(array.type) and pa.types.is_integer(target):
        # Arrow reads "0x10" as 16; a CRM's integers are written in decimal.
        decimal = np.asarray(pc.fill_null(pc.match_substring_regex(array, _DECIMAL_INTEGER), True))
        if not decimal.all():
            bad.update(dict.fromkeys(np.flatnonzero(~decimal).tolist(), _TYPE))
            array = pc.if_else(pa.array(decimal), array, pa.scalar(None, array.type))
    array, failed = _cast_locating(array, target)
    bad.update(dict.fromkeys(failed, _TYPE))
    return array, bad


def _conform_column(column: pa.ChunkedArray, target: pa.DataType) -> tuple[pa.ChunkedArray, Unfit | None]:
    chunks: list[pa.Array] = []
    positions: list[int] = []
    reasons: list[str] = []
    received: list[Any] = []
    offset = 0
    for chunk in column.chunks:  # chunk by chunk: text columns beyond 2 GB stay in 32-bit offsets
        converted, bad = _conform_chunk(chunk, target)
        chunks.append(converted)
        for position, why in sorted(bad.items()):
            value = _received_value(chunk, position)
            positions.append(offset + position)
            received.append(value)
            shown = _raw_bytes(chunk, position) if why == _UTF8 else value
            reasons.append(_unfit_reason(chunk.type, target, shown, why))
        offset += len(chunk)
    result = pa.chunked_array(chunks, target)
    if not positions:
        return result, None
    return result, Unfit(np.array(positions, dtype=np.int64), reasons, received)


def _raw_bytes(array: pa.Array, position: int) -> bytes:
    raw = pa.large_binary() if pa.types.is_large_string(array.type) else pa.binary()
    item = array.slice(position, 1)
    return (item.view(raw) if _is_text(array.type) else item)[0].as_py()


def _received_value(array: pa.Array, position: int) -> Any:
    """One value as it came, as plain Python a JSON payload can hold, whatever it is."""
    item = array.slice(position, 1)
    if pa.types.is_string(item.type):
        item = item.view(pa.binary())
    elif pa.types.is_large_string(item.type):
        item = item.view(pa.large_binary())
    if _is_bytes(item.type):
        # Invalid UTF-8 is kept, escaped (b"\xff" → "\\xff"), rather than replaced and lost.
        return item[0].as_py().decode("utf-8", "backslashreplace")
    if _is_moment(item.type):
        return item.cast(pa.string())[0].as_py()  # also years Python's datetime cannot hold
    value = item[0].as_py()
    return value if isinstance(value, bool | int | float | str) else str(value)


def preview(value: Any, limit: int = 60) -> str:
    """A value as it may appear in a reason: quoted, control characters escaped, long text cut."""
    shown = repr(value)
    if len(shown) > limit:
        size = len(value) if isinstance(value, str) else len(shown)
        shown = f"{shown[:limit]}… ({size:,} characters)"
    return shown


def _unfit_reason(source: pa.DataType, target: pa.DataType, value: Any, why: str) -> str:
    if why == _UTF8:
        return f"is not valid UTF-8 text: {preview(value)}"
    return f"cannot be read as {_TYPE_NAMES.get(target, str(target))}: {preview(value)} (a {source} value)"


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
        masks.append((Violation(reference.field, reference.reason), passes))
    return masks


def validate_table(
    contract: type[Contract], table: pa.Table | Conformed, context: ValidationContext, source: str = "batch"
) -> ValidationOutcome:
    """Split a batch into valid records (normalised) and invalid ones (as received), with reasons.

    Values that do not fit their type (see `conform`), field constraints, row rules, references,
    and one more rule only a batch can see: a natural key repeated within the batch keeps its first
    record; the repeats are violations.
    """
    conformed = conform(contract, table, source)
    received = conformed.table
    transforms = _transforms(contract)
    normalised = pa.Table.from_arrays(
        [
            transforms[n](received.column(n)) if n in transforms else received.column(n)
            for n in received.column_names
        ],
        schema=received.schema,
    )
    unfit = np.zeros(normalised.num_rows, dtype=bool)
    unfit_by_row: dict[int, list[tuple[Violation, Any]]] = {}
    for name, values in conformed.unfit.items():
        unfit[values.positions] = True
        for position, reason, value in zip(values.positions.tolist(), values.reasons, values.received,
                                           strict=True):  # fmt: skip
            unfit_by_row.setdefault(position, []).append((Violation(name, reason), value))
    checks: list[tuple[Violation, Mask]] = [
        (check.violation, pc.fill_null(check.vectorised(normalised.column(check.violation.field)), False))
        for check in _field_checks(contract)
    ]
    field_ok = _all(normalised.num_rows, [mask for _, mask in checks] + [pa.array(~unfit)])
    # Row rules and references see only records whose fields are sound (no rule fires on garbage).
    checks += [
        (v, pc.or_kleene(m, pc.invert(field_ok))) for v, m in _rule_masks(contract, normalised, context)
    ]
    first = _first_occurrence(normalised.column(contract.natural_key))
    if context.earlier_keys is not None and len(first):
        first = pa.array(
            np.asarray(first) & ~context.earlier_keys.contains(normalised.column(contract.natural_key))
        )
    checks.append((Violation(contract.natural_key, "repeats a record earlier in the same batch"), first))

    failing = [(violation, np.asarray(pc.invert(mask))) for violation, mask in checks]
    bad = unfit.copy()
    for _, flags in failing:
        bad |= flags
    bad_rows = np.flatnonzero(bad)
    per_row: list[list[Violation]] = []
    as_received: list[dict[str, Any]] = []
    for row in bad_rows.tolist():
        # A value that did not fit its type is the reason for its field; the null it left in the
        # typed table would only add a misleading "is required".
        first = unfit_by_row.get(row, [])
        unfit_fields = {violation.field for violation, _ in first}
        others = [v for v, flags in failing if flags[row] and v.field not in unfit_fields]
        per_row.append([violation for violation, _ in first] + others)
        as_received.append({violation.field: value for violation, value in first})
    return ValidationOutcome(
        valid=normalised.filter(pa.array(~bad)),
        invalid_rows=received.take(pa.array(bad_rows, pa.int64())),
        violations=per_row,
        invalid_positions=bad_rows,
        received=as_received,
    )


@dataclass(frozen=True)
class RecordOutcome:
    """The verdict on one record: normalised when it passes (`record`), else why not."""

    record: dict[str, Any] | None
    violations: list[Violation]


def validate_record(
    contract: type[Contract], record: Mapping[str, Any], context: ValidationContext
) -> RecordOutcome:
    """One record checked by the same rules as `validate_table`, with the same verdict and the same
    violations, in the same order, as for that record alone in a batch; for the data-entry API,
    where a one-row Arrow table cost some 250 compute calls (2 ms) per record.

    `record` holds Python values of each field's type (int, float, str, bool, date, datetime; a
    naive datetime is UTC, as Arrow reads one) or None; a missing field is None. What is not a
    value of its type is the caller's to refuse (`validate_table` reports it as unfit).

    The rules are the contract's, compiled once each: field constraints and normalisations as
    `FieldCheck.one` and `_transforms_one` (compiled next to their vectorised form, from the same
    annotation); row rules run their own vectorised check on one-element arrays of the fields
    they read, only when the fields pass (as in a batch); references look the key up in the
    context's known keys. `tests/contracts/test_one_record_path.py` holds the two paths together.
    """
    shapes = field_shapes(contract)
    transforms = _transforms_one(contract)
    values: dict[str, Any] = {}
    for name, shape in shapes.items():
        value = record.get(name)
        if value is not None:
            if shape.python_type is datetime and value.tzinfo is None:
                value = value.replace(tzinfo=UTC)
            elif shape.python_type is float and type(value) is int:
                value = float(value)
            transform = transforms.get(name)
            if transform is not None:
                value = transform(value)
        values[name] = value
    violations = [
        check.violation for check in _field_checks(contract) if not check.one(values[check.violation.field])
    ]
    rules = _rule_violations_one(contract, values, context)  # run even when unused: a missing context raises
    if not violations:
        violations = rules()
    if context.earlier_keys is not None:
        key = pa.array([values[contract.natural_key]], pa.int64())
        if context.earlier_keys.contains(key)[0]:
            violations.append(Violation(contract.natural_key, "repeats a record earlier in the same batch"))
    if violations:
        return RecordOutcome(None, violations)
    return RecordOutcome(
        {
            name: value.astimezone(UTC) if isinstance(value, datetime) else value
            for name, value in values.items()
        },
        [],
    )


class _OneRow(Mapping[str, pa.Array]):
    """A record's fields as one-element Arrow arrays, made when a row rule first reads one."""

    def __init__(self, contract: type[Contract], values: Mapping[str, Any]) -> None:
        self._schema, self._values, self._arrays = arrow_schema(contract), values, {}

    def __getitem__(self, name: str) -> pa.Array:
        array = self._arrays.get(name)
        if array is None:
            array = self._arrays[name] = pa.array([self._values[name]], self._schema.field(name).type)
        return array

    def __iter__(self):
        return iter(self._schema.names)

    def __len__(self) -> int:
        return len(self._schema)


def _rule_violations_one(
    contract: type[Contract], values: Mapping[str, Any], context: ValidationContext
) -> Callable[[], list[Violation]]:
    """The row rules and references one record breaks, as `_rule_masks` finds them in a batch;
    the context is checked now, the rules run when called."""
    known_sets = []
    for reference in contract.references:
        known = context.references.get(reference.entity)
        if known is None:
            raise KeyError(
                f"no known keys of {reference.entity} given to check {contract.entity}.{reference.field}"
            )
        known_sets.append((reference, known))

    def run() -> list[Violation]:
        columns = _OneRow(contract, values)
        out = [
            Violation(rule.field, rule.reason)
            for rule in contract.row_rules
            if rule.check(columns, context)[0].as_py() is False  # null passes, as in a batch
        ]
        for reference, known in known_sets:
            value = values[reference.field]
            if value is not None and not _is_known(known, value):
                out.append(Violation(reference.field, reference.reason))
        return out

    return run


def _is_known(known: Any, value: Any) -> bool:
    """Whether `value` is among the known keys (an Arrow array, as a batch is checked against)."""
    if len(known) <= 64:
        return value in known.to_pylist()
    return bool(pc.is_in(pa.array([value], known.type), value_set=known)[0].as_py())


def _all(length: int, masks: Sequence[Mask]) -> pa.Array:
    result = pa.array(np.ones(length, dtype=bool))
    for mask in masks:
        result = pc.and_(result, mask)
    return result


def _first_occurrence(keys: pa.ChunkedArray) -> pa.Array:
    """True at the first record of each key. Keys are compared by Arrow as they are: through numpy a
    column with a null becomes float64, and keys near 2**63 would collide into false repeats."""
    flags = np.zeros(len(keys), dtype=bool)
    if len(keys):
        codes = pc.index_in(keys, value_set=pc.unique(keys), skip_nulls=False)
        _, first = np.unique(codes.to_numpy(zero_copy_only=False), return_index=True)
        flags[first] = True
    return pa.array(flags)


def python_rows(table: pa.Table) -> list[dict[str, Any]]:
    """Rows as Python values; a date Python cannot hold (year 0, negative years) as Arrow's text."""
    columns = []
    for column in table.columns:
        try:
            columns.append(column.to_pylist())
        except (ValueError, OverflowError):
            columns.append([_python_value(column, position) for position in range(len(column))])
    return [dict(zip(table.column_names, values, strict=True)) for values in zip(*columns, strict=True)]


def _python_value(column: pa.ChunkedArray, position: int) -> Any:
    item = column.slice(position, 1)
    try:
        return item[0].as_py()
    except (ValueError, OverflowError):
        return item.cast(pa.string())[0].as_py()


# A NUL character as JSON writes it (\u0000 after an even run of backslashes, which are escaped
# backslashes of the data): jsonb cannot hold it.
_JSON_NUL = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")
_NON_FINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def payload_json(row: dict[str, Any]) -> str:
    """A received record as JSON for the quarantine, whatever it holds (dates, bytes, NaN, NUL).

    Nothing is replaced by a placeholder: NaN and infinities become the strings "NaN", "Infinity";
    bytes that are not UTF-8 are escaped ("\\xff"); a NUL character becomes the six characters
    `\\u0000`, because jsonb (like every Postgres text) cannot hold NUL.
    """

    def default(value: Any) -> Any:
        if isinstance(value, datetime | date):
            return value.isoformat()
        if isinstance(value, bytes):
            return value.decode("utf-8", "backslashreplace")
        return str(value)

    clean = {
        k: (_NON_FINITE[str(v)] if isinstance(v, float) and not np.isfinite(v) else v) for k, v in row.items()
    }
    return jsonb_text(json.dumps(clean, default=default, ensure_ascii=False))


def jsonb_text(text: str) -> str:
    """JSON text jsonb accepts: each escaped NUL (`\\u0000`) turned into the literal text `\\u0000`."""
    return _JSON_NUL.sub(r"\1\\\\u0000", text)


def end_of_day(day: date, timezone: str) -> datetime:
    """The last instant of `day` in `timezone`, in UTC: the default `as_of` for a day's records."""
    from datetime import time, timedelta
    from zoneinfo import ZoneInfo

    local = datetime.combine(day + timedelta(days=1), time(), tzinfo=ZoneInfo(timezone))
    return local.astimezone(UTC)
