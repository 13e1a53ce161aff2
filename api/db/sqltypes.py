"""Table Schema field types mapped to SQL column types, as one table."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa

# One 64-bit integer type; on SQLite it must be spelled INTEGER to alias the rowid.
INTEGER = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TEXT = sa.Text()

TABLE_SCHEMA_TYPES: dict[str, sa.types.TypeEngine[Any]] = {
    "string": TEXT,
    "integer": INTEGER,
    "number": sa.Double(),
    "boolean": sa.Boolean(),
    "date": sa.Date(),
    "datetime": sa.DateTime(),
    "time": sa.Time(),
    "year": INTEGER,
    "yearmonth": sa.String(7),
    "duration": TEXT,
    "geopoint": sa.JSON(),
    "geojson": sa.JSON(),
    "object": sa.JSON(),
    "array": sa.JSON(),
    "list": sa.JSON(),
    "any": TEXT,
}
FALLBACK_TYPE: sa.types.TypeEngine[Any] = TEXT


# Text columns are created sorting by code point on both backends (SQLite's BINARY, PostgreSQL's
# "C" collation), so a pinned URL returns the same bytes whatever the database's locale. Only the
# DDL names the collation: queries then inherit it from the column without casting parameters.
COLLATED_TEXT = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")
COLLATED_YEARMONTH = sa.String(7).with_variant(sa.String(7, collation="C"), "postgresql")
DDL_TYPES: dict[str, sa.types.TypeEngine[Any]] = {
    "string": COLLATED_TEXT,
    "duration": COLLATED_TEXT,
    "any": COLLATED_TEXT,
    "yearmonth": COLLATED_YEARMONTH,
}


def sql_type(field_type: str, *, ddl: bool = False) -> sa.types.TypeEngine[Any]:
    """Return the SQL type for a Table Schema type (text for unknown types).

    :param ddl: the type to create the column with (text columns get a code-point collation).
    """
    if ddl:
        return DDL_TYPES.get(field_type) or TABLE_SCHEMA_TYPES.get(field_type, COLLATED_TEXT)
    return TABLE_SCHEMA_TYPES.get(field_type, FALLBACK_TYPE)


def build_table(
    metadata: sa.MetaData,
    table_name: str,
    fields: Iterable[Mapping[str, Any]],
    primary_key: Iterable[str],
    *,
    ddl: bool = False,
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
                sql_type(str(field.get("type", "any")), ddl=ddl),
                primary_key=name in keys,
                autoincrement=False,
                nullable=not (constraints.get("required") or name in keys),
            )
        )
    return sa.Table(table_name, metadata, *columns)
