"""Row serializers: one value encoder per format, streaming where the output is unbounded."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date, datetime, time
from typing import Any

import orjson

from api.fieldtypes import type_of
from api.model import FieldSpec

MEDIA_TYPES: dict[str, str] = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "ndjson": "application/x-ndjson",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
FORMAT_BY_MEDIA_TYPE: dict[str, str] = {
    "application/json": "json",
    "text/csv": "csv",
    "application/x-ndjson": "ndjson",
    "application/jsonl": "ndjson",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
}
UTF8_BOM = "\ufeff"
ROWS_PER_CHUNK = 1000
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
"""What a spreadsheet may read as the start of a formula (OWASP, CSV injection)."""
TEXT_TYPES = frozenset({"string", "any", "list"})
"""Table Schema types written as free text; numbers, dates and JSON are never altered."""


def neutralised(value: Any) -> Any:
    """Text a spreadsheet would run as a formula, prefixed with `'` so that it shows as text."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def csv_cell(value: Any) -> Any:
    """Write one value the way Table Schema reads it back."""
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return value


def iter_csv(
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    delimiter: str = ",",
    bom: bool = False,
) -> Iterator[bytes]:
    """Yield a CSV document in chunks of encoded rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    if bom:
        buffer.write(UTF8_BOM)
    writer.writerow(header)
    count = 0
    for row in rows:
        writer.writerow([csv_cell(v) for v in row])
        count += 1
        if count % ROWS_PER_CHUNK == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


Encoder = Callable[[Any], Any]


def csv_encoder(spec: FieldSpec) -> Encoder:
    """How a typed value of this field is written so that its own schema reads it back."""
    return type_of(spec.type).csv(spec, csv_cell)


def iter_stored_csv(
    header: Sequence[str],
    fields: Sequence[FieldSpec],
    decoders: Sequence[Encoder | None],
    batches: Iterable[list[Sequence[Any]]],
    *,
    delimiter: str = ",",
    bom: bool = False,
    spreadsheet: bool = False,
) -> Iterator[bytes]:
    """Yield a CSV document from batches of stored rows, converting only the columns that need it.

    :param decoders: per column, None where the stored value writes as it is, else the function
        that turns it into its typed value (which the field's CSV encoder then writes).
    :param spreadsheet: the file is meant for a spreadsheet: text that starts like a formula is
        prefixed with `'` (see `neutralised`).
    """
    converters: list[tuple[int, Encoder]] = []
    for index, (spec, decode) in enumerate(zip(fields, decoders, strict=True)):
        convert = None if decode is None else _compose(decode, csv_encoder(spec))
        if spreadsheet and spec.type in TEXT_TYPES:
            convert = neutralised if convert is None else _compose(convert, neutralised)
        if convert is not None:
            converters.append((index, convert))
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    if bom:
        buffer.write(UTF8_BOM)
    writer.writerow(header)
    for batch in batches:
        writer.writerows(_converted(batch, converters) if converters else batch)
        yield buffer.getvalue().encode("utf-8")
        buffer.seek(0)
        buffer.truncate()
    tail = buffer.getvalue()
    if tail:
        yield tail.encode("utf-8")


def _compose(decode: Encoder, encode: Encoder) -> Encoder:
    def convert(value: Any) -> Any:
        typed = decode(value)  # a JSON column may hold a JSON null
        return "" if typed is None else encode(typed)

    return convert


def _converted(
    batch: Iterable[Sequence[Any]], converters: list[tuple[int, Encoder]]
) -> Iterator[list[Any]]:
    for stored in batch:
        row = list(stored)
        for index, convert in converters:
            value = row[index]
            if value is not None:
                row[index] = convert(value)
        yield row


RowShape = Callable[[Sequence[Any]], dict[str, Any]]


def json_shape(columns: Sequence[str], expanded: Sequence[tuple[str, Sequence[str]]]) -> RowShape:
    """How a flat row becomes a JSON object: the table's own `columns`, then each expanded key.

    A flat row holds the own values first, then the referenced values of each `(field,
    referenced columns)` in `expanded`; each group becomes an object under `field`, in place of
    the key's own value (or after the own columns when they leave it out). A group whose every
    value is missing, as when the row's key is missing, is null.
    """
    width = len(columns)
    if not expanded:
        return lambda row: dict(zip(columns, row, strict=True))
    groups, start = [], width
    for field, names in expanded:
        groups.append((field, tuple(names), start, start + len(names)))
        start += len(names)

    def shape(row: Sequence[Any]) -> dict[str, Any]:
        found = dict(zip(columns, row[:width], strict=True))
        for field, names, begin, end in groups:
            values = row[begin:end]
            missing = all(value is None for value in values)
            found[field] = None if missing else dict(zip(names, values, strict=True))
        return found

    return shape


def iter_ndjson(
    header: Sequence[str], rows: Iterable[Sequence[Any]], *, shape: RowShape | None = None
) -> Iterator[bytes]:
    """Yield one JSON object per line, in chunks.

    :param shape: how a row becomes its object (see `json_shape`); by default, `header` zipped.
    """
    chunk: list[bytes] = []
    as_object = shape or json_shape(header, ())
    for row in rows:
        chunk.append(orjson.dumps(as_object(row)))
        if len(chunk) >= ROWS_PER_CHUNK:
            yield b"\n".join(chunk) + b"\n"
            chunk = []
    if chunk:
        yield b"\n".join(chunk) + b"\n"


def dump_json(body: Any) -> bytes:
    """Serialize a JSON body (dates as ISO 8601, non-str keys allowed)."""
    return orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS)


def negotiate(accept: str | None, available: Sequence[str]) -> str | None:
    """Pick a format from an Accept header; None when nothing offered is acceptable."""
    if not accept:
        return available[0]
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept.split(",")):
        pieces = [p.strip() for p in part.split(";")]
        media = pieces[0].lower()
        quality = 1.0
        for param in pieces[1:]:
            if param.startswith("q="):
                try:
                    quality = float(param[2:])
                except ValueError:
                    quality = 0.0
        ranked.append((-quality, position, media))
    for negative_quality, _position, media in sorted(ranked):
        if negative_quality == 0:
            continue
        if media in ("*/*", "application/*") and available:
            return (
                available[0]
                if media == "*/*"
                else next((f for f in available if MEDIA_TYPES[f].startswith("application/")), None)
            )
        if media == "text/*" and "csv" in available:
            return "csv"
        found = FORMAT_BY_MEDIA_TYPE.get(media)
        if found in available:
            return found
    return None
