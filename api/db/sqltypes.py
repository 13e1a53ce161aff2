"""Table Schema field types mapped to SQL column types, as one table."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import isodate
import sqlalchemy as sa

# One 64-bit integer type; on SQLite it must be spelled INTEGER to alias the rowid.
INTEGER = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

TABLE_SCHEMA_TYPES: dict[str, sa.types.TypeEngine[Any]] = {
    "string": sa.Text(),
    "integer": INTEGER,
    "number": sa.Double(),
    "boolean": sa.Boolean(),
    "date": sa.Date(),
    "datetime": sa.DateTime(),
    "time": sa.Time(),
    "year": INTEGER,
    "yearmonth": sa.String(7),
    "duration": sa.Text(),
    "geopoint": sa.JSON(),
    "geojson": sa.JSON(),
    "object": sa.JSON(),
    "array": sa.JSON(),
    "list": sa.JSON(),
    "any": sa.Text(),
}
FALLBACK_TYPE: sa.types.TypeEngine[Any] = sa.Text()

"""Types whose values are stored as JSON documents."""
JSON_TYPES = frozenset({"geopoint", "geojson", "object", "array", "list"})


def sql_type(field_type: str) -> sa.types.TypeEngine[Any]:
    """Return the SQL type for a Table Schema type (text for unknown types)."""
    return TABLE_SCHEMA_TYPES.get(field_type, FALLBACK_TYPE)


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


def build_table(
    metadata: sa.MetaData,
    table_name: str,
    fields: Iterable[Mapping[str, Any]],
    primary_key: Iterable[str],
) -> sa.Table:
    """Build the Core table of a resource from its Table Schema fields."""
    keys = list(primary_key)
    columns = []
    for field in fields:
        name = str(field["name"])
        constraints = field.get("constraints") or {}
        columns.append(
            sa.Column(
                name,
                sql_type(str(field.get("type", "any"))),
                primary_key=name in keys,
                autoincrement=False,
                nullable=not (constraints.get("required") or name in keys),
            )
        )
    return sa.Table(table_name, metadata, *columns)
