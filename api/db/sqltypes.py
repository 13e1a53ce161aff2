"""Table Schema field types mapped to SQL column types, as one table."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

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
