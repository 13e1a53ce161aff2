"""How a value typed by frictionless is stored: one table shared by the loader and the queries.

Filters and cursors compare against stored values, so they convert their values the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import isodate


def _number(value: Any) -> Any:
    return float(value) if isinstance(value, Decimal) else value


def _datetime(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def _yearmonth(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    return f"{int(value[0]):04d}-{int(value[1]):02d}"


def _duration(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    return isodate.duration_isoformat(value)


def _geopoint(value: Any) -> Any:
    return [float(part) for part in value] if isinstance(value, tuple) else value


def _any(value: Any) -> Any:
    return value if value is None or isinstance(value, str) else str(value)


# Types whose values are stored as JSON documents (they do not sort in SQL as in Python).
JSON_TYPES = frozenset({"geopoint", "geojson", "object", "array", "list"})


# What a frictionless-typed Python value becomes before it is bound to its column.
STORAGE_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "number": _number,
    "datetime": _datetime,
    "yearmonth": _yearmonth,
    "duration": _duration,
    "geopoint": _geopoint,
    "any": _any,
}


def storage_converter(field_type: str) -> Callable[[Any], Any] | None:
    """Return the function that turns a typed value into its stored form, if any."""
    return STORAGE_CONVERTERS.get(field_type)


def stored_value(field_type: str, value: Any) -> Any:
    """Return a frictionless-typed value in the form the loader stores for its type."""
    convert = STORAGE_CONVERTERS.get(field_type)
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
