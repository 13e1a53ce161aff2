"""Values as the driver returns them from a select without result processing, and their decoding.

Text and numbers come back as they are typed; a date is ISO 8601 text on SQLite and a `date` on
PostgreSQL, which JSON and CSV both write as the same ISO 8601 text. Booleans, datetimes, times
and JSON documents need the column type's own decoding before they are written.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa

from api.fieldtypes import type_of
from api.model import DEFAULT_FORMATS, FieldSpec, TableSpec

Decoder = Callable[[Any], Any]


def _identity(value: Any) -> Any:
    return value


def typed_decoder(spec: TableSpec, name: str, dialect: sa.Dialect) -> Decoder:
    """The function that turns a stored value of a column into its typed Python value."""
    field = spec.field(name)
    if field is not None and type_of(field.type).verbatim:
        return _identity  # already the typed value (and numeric processors need a driver type)
    column = spec.table.c[name]
    processor = column.type.dialect_impl(dialect).result_processor(dialect, None)
    return processor or _identity


def _verbatim(spec: FieldSpec, *, text: bool) -> bool:
    if spec.type == "date":
        # JSON writes every date as ISO 8601; CSV writes a date in its field's own format.
        return not text or spec.format in DEFAULT_FORMATS
    return type_of(spec.type).verbatim


def stored_decoders(
    spec: TableSpec, columns: Sequence[str], dialect: sa.Dialect, *, text: bool
) -> tuple[Decoder | None, ...]:
    """Per column, None where the stored value is written as it is, else its typed decoder.

    :param text: for CSV, where a date with a `format` must be decoded to be formatted.
    """
    decoders: list[Decoder | None] = []
    for name in columns:
        field = spec.field(name)
        if field is None:
            raise ValueError(f"{name!r} is not a column of {spec.resource}")
        verbatim = _verbatim(field, text=text)
        decoders.append(None if verbatim else typed_decoder(spec, name, dialect))
    return tuple(decoders)


def decode_row(row: Sequence[Any], decoders: Sequence[Decoder | None]) -> tuple[Any, ...]:
    """Apply the decoders to a stored row (missing values stay None)."""
    return tuple(
        value if decode is None or value is None else decode(value)
        for value, decode in zip(row, decoders, strict=True)
    )
