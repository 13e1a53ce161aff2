"""Filter values no row can match: refused with the column constraint that rules them out.

A row holds only values that pass its field's constraints (validation refuses the release
otherwise), so `nationality=KOR` against the pattern `^[A-Z]{2}$` can match nothing: it is a
mistake in the query, and answering it with an empty page would be a silent wrong answer.

- An equality value (`exact`, each value of `in`) must pass every constraint of its column:
  `pattern`, `enum`, `minLength`/`maxLength`, `minimum`/`maximum` (and their exclusive forms)
  and, for a foreign-key column whose referenced table is small, the referenced keys.
- A range bound (`gt`, `gte`, `lt`, `lte`, `between`) on a text column with a `pattern` must
  match the pattern: text is compared as text, in code-point order, which is the order of the
  values themselves only between values of the pattern's shape (`2025-12-31` sorts after
  `2025-10-01`; `01/10/2025` sorts before both). A range that leaves the column's allowed range
  (`value__gt=100` with `maximum: 100`) is refused too.
- `not`, `notin`, `isnull` and the text searches are never refused: excluding a value no row
  holds is true of every row, which is a correct answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import frictionless
import orjson

from api.errors import plain, quoted
from api.model import FieldSpec, Reference, TableSpec
from api.query.decode import stored_or_problem

Problem = tuple[str, str]  # (code, message)


@dataclass(frozen=True)
class Bound:
    """One end of the values a column allows: a stored value, and whether it is allowed too."""

    value: Any
    inclusive: bool
    constraint: str  # the constraint's name, for the message
    text: str  # the constraint as the schema writes it


@dataclass(frozen=True)
class Rules:
    """The constraints of one field in the form the checks use, built once per descriptor."""

    pattern: re.Pattern[str] | None
    pattern_text: str | None
    enum: tuple[Any, ...] | None
    enum_text: str | None
    min_length: int | None
    max_length: int | None
    low: Bound | None
    high: Bound | None


LOW_CONSTRAINTS = (("minimum", True), ("exclusiveMinimum", False))
HIGH_CONSTRAINTS = (("maximum", True), ("exclusiveMaximum", False))


@lru_cache(maxsize=4096)
def rules_of(descriptor: str) -> Rules:
    """The constraint rules of the field whose descriptor is the JSON text `descriptor`."""
    field = frictionless.Field.from_descriptor(orjson.loads(descriptor))
    reader = field.create_value_reader()
    constraints = field.constraints

    def read(raw: Any) -> Any:
        value = reader(raw)
        stored, reason = stored_or_problem(field.type, value)
        return None if value is None or reason is not None else stored

    def bound(names: tuple[tuple[str, bool], ...]) -> Bound | None:
        for name, inclusive in names:
            raw = constraints.get(name)
            value = read(raw) if raw is not None else None
            if value is not None:
                return Bound(value, inclusive, name, str(raw))
        return None

    pattern = constraints.get("pattern")
    enum = constraints.get("enum")
    return Rules(
        pattern=_compiled(pattern),
        pattern_text=pattern if isinstance(pattern, str) else None,
        enum=tuple(read(v) for v in enum) if isinstance(enum, list) else None,
        enum_text=", ".join(str(v) for v in enum) if isinstance(enum, list) else None,
        min_length=_whole(constraints.get("minLength")),
        max_length=_whole(constraints.get("maxLength")),
        low=bound(LOW_CONSTRAINTS),
        high=bound(HIGH_CONSTRAINTS),
    )


def _compiled(pattern: Any) -> re.Pattern[str] | None:
    """The pattern compiled as frictionless compiles it, so both accept the same values."""
    if not isinstance(pattern, str):
        return None
    try:
        return re.compile(f"^{pattern}$")
    except re.error:  # validation refuses such a schema; never a 500 here
        return None


def _whole(raw: Any) -> int | None:
    return raw if isinstance(raw, int) and not isinstance(raw, bool) else None


def _below(value: Any, bound: Bound) -> bool:
    """Whether `value` is under the low end `bound` allows."""
    return bool(value < bound.value if bound.inclusive else value <= bound.value)


def _above(value: Any, bound: Bound) -> bool:
    """Whether `value` is over the high end `bound` allows."""
    return bool(value > bound.value if bound.inclusive else value >= bound.value)


def _pattern_problem(rules: Rules, field: FieldSpec, value: Any) -> Problem | None:
    if rules.pattern is None or not isinstance(value, str) or rules.pattern.match(value):
        return None
    return (
        "pattern-mismatch",
        f"{quoted(value)} does not match the pattern {plain(str(rules.pattern_text))} of "
        f"column {quoted(field.name)} (constraint pattern), so no row can hold it.",
    )


def value_problems(
    spec: TableSpec, field: FieldSpec, rules: Rules, value: Any, text: str
) -> list[Problem]:
    """Why no row can hold `value` (stored form, read from `text`) in `field`; empty if one can."""
    name = quoted(field.name)
    found: list[Problem] = []
    pattern = _pattern_problem(rules, field, value)
    if pattern is not None:
        found.append(pattern)
    if rules.enum is not None and value not in rules.enum:
        found.append(
            (
                "not-in-enum",
                f"{quoted(text)} is not an allowed value of column {name}; "
                f"the allowed values are: {rules.enum_text}.",
            )
        )
    if isinstance(value, str):
        if rules.min_length is not None and len(value) < rules.min_length:
            found.append(
                (
                    "length-out-of-range",
                    f"{quoted(text)} is {len(value)} characters long; column {name} holds at "
                    f"least {rules.min_length} (constraint minLength).",
                )
            )
        if rules.max_length is not None and len(value) > rules.max_length:
            found.append(
                (
                    "length-out-of-range",
                    f"{quoted(text)} is {len(value)} characters long; column {name} holds at "
                    f"most {rules.max_length} (constraint maxLength).",
                )
            )
    for bound, outside, side in ((rules.low, _below, "under"), (rules.high, _above, "over")):
        if bound is not None and _comparable(value, bound) and outside(value, bound):
            found.append(
                (
                    "out-of-range",
                    f"{quoted(text)} is {side} the {bound.constraint} {bound.text} of column "
                    f"{name}, so no row can hold it.",
                )
            )
    reference = spec.references.get(field.name)
    if not found and reference is not None and value not in reference.values:
        found.append(_reference_problem(reference, field, text))
    return found


def _reference_problem(reference: Reference, field: FieldSpec, text: str) -> Problem:
    return (
        "unknown-reference",
        f"{quoted(text)} is not a {reference.column} of {quoted(reference.resource)}, which "
        f"column {quoted(field.name)} refers to; see the {reference.resource} table for the "
        "values it can hold.",
    )


def _comparable(value: Any, bound: Bound) -> bool:
    try:
        value < bound.value  # noqa: B015 - only whether the two compare at all
    except TypeError:
        return False
    return True


# For each range operator: (whether it gives a low end, whether that end is included).
RANGE_ENDS: dict[str, tuple[bool, bool]] = {
    "gt": (True, False),
    "gte": (True, True),
    "lt": (False, False),
    "lte": (False, True),
}


def bound_problems(field: FieldSpec, rules: Rules, op: str, value: Any) -> list[Problem]:
    """Why the range of operator `op` with `value` (one value, or a `(low, high)` pair for
    `between`) is refused: a bound outside the column's pattern, a range outside its limits."""
    if op == "between":
        low, high = value
        low_in, high_in = True, True
    else:
        gives_low, included = RANGE_ENDS[op]
        low, high = (value, None) if gives_low else (None, value)
        low_in = high_in = included
    found = [
        problem
        for end in (low, high)
        if end is not None
        for problem in [_pattern_problem(rules, field, end)]
        if problem is not None
    ]
    name = quoted(field.name)
    if low is not None and rules.high is not None and _comparable(low, rules.high):
        limit = rules.high
        empty = low > limit.value or (low == limit.value and not (low_in and limit.inclusive))
        if empty:
            found.append(
                (
                    "out-of-range",
                    f"Column {name} holds no value above its {limit.constraint} {limit.text}, "
                    f"so this range matches no row.",
                )
            )
    if high is not None and rules.low is not None and _comparable(high, rules.low):
        limit = rules.low
        empty = high < limit.value or (high == limit.value and not (high_in and limit.inclusive))
        if empty:
            found.append(
                (
                    "out-of-range",
                    f"Column {name} holds no value below its {limit.constraint} {limit.text}, "
                    f"so this range matches no row.",
                )
            )
    return found
