"""How a value typed by frictionless is stored: shared by the loader and the queries.

Filters and cursors compare against stored values, so they convert their values the same way;
each type's conversion is its entry's `store` in the field-type registry.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from api.fieldtypes import type_of


def storage_converter(field_type: str) -> Callable[[Any], Any] | None:
    """Return the function that turns a typed value into its stored form, if any."""
    return type_of(field_type).store


def stored_value(field_type: str, value: Any) -> Any:
    """Return a frictionless-typed value in the form the loader stores for its type."""
    convert = type_of(field_type).store
    return value if value is None or convert is None else convert(value)


# The values both backends can hold: 64-bit integers, and text without NUL (PostgreSQL refuses it).
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def unstorable(value: Any) -> str | None:
    """Why a value from a request cannot be compared with stored values, or None if it can."""
    if (
        isinstance(value, int)
        and not isinstance(value, bool)
        and not (INT64_MIN <= value <= INT64_MAX)
    ):
        return "it is outside the 64-bit integer range"
    if isinstance(value, str) and "\x00" in value:
        return "it contains a NUL character"
    return None
