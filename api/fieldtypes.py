"""Every Table Schema field type, one entry each: all that the other layers know about a type.

The SQL types, the stored form, the filters and sorts a type fits, its cursor values, its JSON
Schema, its CSV writing and its hint in error messages are read from the entry, and the type sets
the other modules use are derived from the table; adding a type is adding one entry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from functools import lru_cache
from typing import Any

import isodate
import orjson
import sqlalchemy as sa

from api.model import DEFAULT_FORMATS, FieldSpec

Converter = Callable[[Any], Any]
Encoder = Callable[[Any], Any]
# How a field writes a typed value in CSV, given the writer of a plain value (`csv_cell`).
CsvEncoding = Callable[[FieldSpec, Encoder], Encoder]


@dataclass(frozen=True)
class FieldType:
    """One Table Schema type as every layer sees it."""

    name: str
    sql: sa.types.TypeEngine[Any]  # the type queries bind parameters and read results with
    ddl: sa.types.TypeEngine[Any]  # the type a column is created with (text sorts by code point)
    store: Converter | None  # a frictionless-typed value to its stored form; None: as it is
    json_document: bool  # stored as JSON: no order in SQL as in Python, no facets, no diff key
    sortable: bool  # `_sort` may name it; the equality and list filters fit it
    ordered: bool  # the comparison filters (gt, gte, lt, lte, between) fit it
    text: bool  # the text filters (contains, icontains, startswith, endswith) fit it
    verbatim: bool  # its stored value is written unchanged, in CSV as in JSON
    cursor_types: tuple[type, ...]  # the Python types a stored value may take in a cursor
    json_schema: Mapping[str, Any]  # the JSON Schema of one value (empty: any JSON value)
    hint: str  # what a valid value looks like in the default format, for error messages
    csv: CsvEncoding  # how a typed value is written so that the field's own schema reads it back


# One 64-bit integer type; on SQLite it must be spelled INTEGER to alias the rowid.
INTEGER = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TEXT = sa.Text()
JSON = sa.JSON()
# Text columns are created sorting by code point on both backends (SQLite's BINARY, PostgreSQL's
# "C" collation), so a pinned URL returns the same bytes whatever the database's locale. Only the
# DDL names the collation: queries then inherit it from the column without casting parameters.
COLLATED_TEXT = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")
YEARMONTH = sa.String(7)
COLLATED_YEARMONTH = sa.String(7).with_variant(sa.String(7, collation="C"), "postgresql")


# Storing: what a frictionless-typed Python value becomes before it is bound to its column.
def _store_number(value: Any) -> Any:
    return float(value) if isinstance(value, Decimal) else value


def _store_datetime(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def _store_yearmonth(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    return f"{int(value[0]):04d}-{int(value[1]):02d}"


def _store_duration(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    return isodate.duration_isoformat(value)


def _store_geopoint(value: Any) -> Any:
    return [float(part) for part in value] if isinstance(value, tuple) else value


def _store_any(value: Any) -> Any:
    return value if value is None or isinstance(value, str) else str(value)


# Writing CSV: each returns the encoder of one field's typed values.
def _csv_plain(_spec: FieldSpec, plain: Encoder) -> Encoder:
    return plain


def _csv_boolean(spec: FieldSpec, _plain: Encoder) -> Encoder:
    true = str((spec.descriptor.get("trueValues") or ["true"])[0])
    false = str((spec.descriptor.get("falseValues") or ["false"])[0])
    return lambda value: true if value else false


def _csv_formatted(spec: FieldSpec, plain: Encoder) -> Encoder:
    if spec.format in DEFAULT_FORMATS:
        return plain
    pattern = str(spec.format)
    return lambda value: value.strftime(pattern)


def _csv_geopoint(spec: FieldSpec, _plain: Encoder) -> Encoder:
    if spec.format == "array":
        return lambda point: orjson.dumps(list(point)).decode()
    if spec.format == "object":
        return lambda point: orjson.dumps({"lon": point[0], "lat": point[1]}).decode()
    return lambda point: f"{point[0]}, {point[1]}"


def _csv_list(spec: FieldSpec, plain: Encoder) -> Encoder:
    delimiter = str(spec.descriptor.get("delimiter", ","))
    return lambda items: delimiter.join(str(plain(item)) for item in items)


TEXT_VALUES: tuple[type, ...] = (str,)
INTEGER_SCHEMA: Mapping[str, Any] = {"type": "integer"}

# fmt: off
FIELD_TYPES: dict[str, FieldType] = {entry.name: entry for entry in (
    FieldType("string", sql=TEXT, ddl=COLLATED_TEXT, store=None, json_document=False,
              sortable=True, ordered=True, text=True, verbatim=True, cursor_types=TEXT_VALUES,
              json_schema={"type": "string"}, hint="a valid string", csv=_csv_plain),
    FieldType("number", sql=sa.Double(), ddl=sa.Double(), store=_store_number,
              json_document=False, sortable=True, ordered=True, text=False, verbatim=True,
              cursor_types=(float, int, Decimal), json_schema={"type": "number"},
              hint="a number", csv=_csv_plain),
    FieldType("integer", sql=INTEGER, ddl=INTEGER, store=None, json_document=False,
              sortable=True, ordered=True, text=False, verbatim=True, cursor_types=(int,),
              json_schema=INTEGER_SCHEMA, hint="a whole number", csv=_csv_plain),
    FieldType("boolean", sql=sa.Boolean(), ddl=sa.Boolean(), store=None, json_document=False,
              sortable=True, ordered=False, text=False, verbatim=False, cursor_types=(bool,),
              json_schema={"type": "boolean"}, hint="true or false", csv=_csv_boolean),
    FieldType("object", sql=JSON, ddl=JSON, store=None, json_document=True, sortable=False,
              ordered=False, text=False, verbatim=False, cursor_types=TEXT_VALUES,
              json_schema={"type": "object"}, hint="a valid object", csv=_csv_plain),
    FieldType("array", sql=JSON, ddl=JSON, store=None, json_document=True, sortable=False,
              ordered=False, text=False, verbatim=False, cursor_types=TEXT_VALUES,
              json_schema={"type": "array", "items": {}}, hint="a valid array", csv=_csv_plain),
    FieldType("list", sql=JSON, ddl=JSON, store=None, json_document=True, sortable=False,
              ordered=False, text=False, verbatim=False, cursor_types=TEXT_VALUES,
              json_schema={"type": "array", "items": {}}, hint="a valid list", csv=_csv_list),
    FieldType("date", sql=sa.Date(), ddl=sa.Date(), store=None, json_document=False,
              sortable=True, ordered=True, text=False, verbatim=False, cursor_types=(date,),
              json_schema={"type": "string", "format": "date"}, hint="a date as YYYY-MM-DD",
              csv=_csv_formatted),
    FieldType("time", sql=sa.Time(), ddl=sa.Time(), store=None, json_document=False,
              sortable=True, ordered=True, text=False, verbatim=False, cursor_types=(time,),
              json_schema={"type": "string", "format": "time"}, hint="a time as hh:mm:ss",
              csv=_csv_formatted),
    FieldType("datetime", sql=sa.DateTime(), ddl=sa.DateTime(), store=_store_datetime,
              json_document=False, sortable=True, ordered=True, text=False, verbatim=False,
              cursor_types=(datetime,), json_schema={"type": "string", "format": "date-time"},
              hint="a date and time as YYYY-MM-DDThh:mm:ss, with an optional zone",
              csv=_csv_formatted),
    FieldType("year", sql=INTEGER, ddl=INTEGER, store=None, json_document=False,
              sortable=True, ordered=True, text=False, verbatim=True, cursor_types=(int,),
              json_schema=INTEGER_SCHEMA, hint="a year as YYYY", csv=_csv_plain),
    FieldType("yearmonth", sql=YEARMONTH, ddl=COLLATED_YEARMONTH, store=_store_yearmonth,
              json_document=False, sortable=True, ordered=True, text=False, verbatim=True,
              cursor_types=TEXT_VALUES,
              json_schema={"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$"},
              hint="a month as YYYY-MM", csv=_csv_plain),
    FieldType("duration", sql=TEXT, ddl=COLLATED_TEXT, store=_store_duration,
              json_document=False, sortable=True, ordered=False, text=False, verbatim=True,
              cursor_types=TEXT_VALUES, json_schema={"type": "string", "format": "duration"},
              hint="an ISO 8601 duration such as P1D", csv=_csv_plain),
    FieldType("geopoint", sql=JSON, ddl=JSON, store=_store_geopoint, json_document=True,
              sortable=False, ordered=False, text=False, verbatim=False,
              cursor_types=TEXT_VALUES,
              json_schema={"type": "array", "items": {"type": "number"}},
              hint="a valid geopoint", csv=_csv_geopoint),
    FieldType("geojson", sql=JSON, ddl=JSON, store=None, json_document=True, sortable=False,
              ordered=False, text=False, verbatim=False, cursor_types=TEXT_VALUES,
              json_schema={"type": "object"}, hint="a valid geojson", csv=_csv_plain),
    FieldType("any", sql=TEXT, ddl=COLLATED_TEXT, store=_store_any, json_document=False,
              sortable=True, ordered=False, text=True, verbatim=True, cursor_types=TEXT_VALUES,
              json_schema={}, hint="a valid any", csv=_csv_plain),
)}
# fmt: on


def _types(where: Callable[[FieldType], bool]) -> frozenset[str]:
    return frozenset(name for name, entry in FIELD_TYPES.items() if where(entry))


ALL_TYPES = frozenset(FIELD_TYPES)
JSON_TYPES = _types(lambda entry: entry.json_document)
SCALAR_TYPES = ALL_TYPES - JSON_TYPES
SORTABLE_TYPES = _types(lambda entry: entry.sortable)
ORDERED_TYPES = _types(lambda entry: entry.ordered)
TEXT_TYPES = _types(lambda entry: entry.text)


@lru_cache(maxsize=64)
def _unknown(name: str) -> FieldType:
    return FieldType(
        name,
        sql=TEXT,
        ddl=COLLATED_TEXT,
        store=None,
        json_document=False,
        sortable=False,
        ordered=False,
        text=False,
        verbatim=False,
        cursor_types=TEXT_VALUES,
        json_schema={},
        hint=f"a valid {name}",
        csv=_csv_plain,
    )


def type_of(name: str) -> FieldType:
    """The entry of a Table Schema type; a type outside the table is stored as text, fits no
    filter or sort, and is in none of the type sets."""
    return FIELD_TYPES.get(name) or _unknown(name)
