"""One tight pass over a CSV resource: cells cast by frictionless's own per-field readers."""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import frictionless

from api.storage import storage_converter

ColumnCaster = Callable[[Sequence[str]], list[Any]]

# Dialect keys the fast pass understands; anything else goes through frictionless rows.
FAST_DIALECT_KEYS = frozenset(
    {
        "delimiter",
        "quoteChar",
        "doubleQuote",
        "escapeChar",
        "skipInitialSpace",
        "header",
        "lineTerminator",
        "csv",
    }
)
FAST_FORMATS = frozenset({"csv", "tsv"})
FAST_ENCODINGS = frozenset({"utf-8", "utf8", "utf-8-sig"})


class FastPathRefused(Exception):
    """The fast pass met something it does not judge; frictionless must give the report."""


def fast_path_applies(resource: frictionless.Resource) -> bool:
    """Whether the resource is a plain UTF-8 CSV file the fast pass can read."""
    if not resource.path or resource.data is not None or resource.multipart:
        return False
    if (resource.format or "csv") not in FAST_FORMATS:
        return False
    if (resource.encoding or "utf-8").lower() not in FAST_ENCODINGS:
        return False
    dialect = resource.dialect.to_descriptor() if resource.dialect else {}
    if dialect.get("header") is False:
        return False
    csv_control = dialect.get("csv", {})
    return set(dialect) <= FAST_DIALECT_KEYS and isinstance(csv_control, dict)


def _csv_options(resource: frictionless.Resource) -> dict[str, Any]:
    dialect = resource.dialect.to_descriptor() if resource.dialect else {}
    dialect = {**dialect, **dialect.get("csv", {})}
    default_delimiter = "\t" if resource.format == "tsv" else ","
    return {
        "delimiter": dialect.get("delimiter", default_delimiter),
        "quotechar": dialect.get("quoteChar", '"'),
        "doublequote": dialect.get("doubleQuote", True),
        "escapechar": dialect.get("escapeChar"),
        "skipinitialspace": dialect.get("skipInitialSpace", False),
        "strict": True,
    }


def _missing_values(field: frictionless.Field) -> frozenset[str]:
    values = field.missing_values
    if not field.has_defined("missing_values") and field.schema:
        values = field.schema.missing_values
    return frozenset(str(v) for v in values)


def column_caster(field: frictionless.Field) -> ColumnCaster:
    """Return a function casting one column of raw cells; it raises on the first bad cell."""
    missing = _missing_values(field)
    convert = storage_converter(field.type)
    constrained = any(field.constraints.get(c) is not None for c in field.supported_constraints)
    plain_text = field.type == "string" and field.format in (None, "default")

    if constrained:
        # The full cell reader: missing values, type and every constraint, as frictionless.
        cell_reader = field.create_cell_reader()

        def cast_checked(cells: Sequence[str]) -> list[Any]:
            values = []
            for cell in cells:
                value, notes = cell_reader(cell)
                if notes:
                    raise FastPathRefused(f"field {field.name!r}: {notes}")
                values.append(value)
            return [convert(v) for v in values] if convert else values

        return cast_checked

    if plain_text:
        # frictionless reads a default-format string as the cell itself.
        def cast_text(cells: Sequence[str]) -> list[Any]:
            return [None if c in missing else c for c in cells]

        return cast_text

    value_reader = field.create_value_reader()

    def cast_typed(cells: Sequence[str]) -> list[Any]:
        values = [None if c in missing else value_reader(c) for c in cells]
        if None in values:
            for cell, value in zip(cells, values, strict=True):
                if value is None and cell not in missing:
                    raise FastPathRefused(f"field {field.name!r}: {cell!r} is not {field.type}")
        return [convert(v) for v in values] if convert else values

    return cast_typed


def read_batches(
    path: Path, resource: frictionless.Resource, *, batch_size: int
) -> Iterator[list[tuple[Any, ...]]]:
    """Yield typed rows in batches; raise FastPathRefused at the first problem."""
    schema = resource.schema
    names = schema.field_names
    casters = [column_caster(field) for field in schema.fields]
    width = len(names)
    try:
        with path.open("r", encoding="utf-8-sig", newline="") as text:
            reader = csv.reader(text, **_csv_options(resource))
            header = next(reader, None)
            if header != names:
                raise FastPathRefused(f"header {header!r} differs from the schema {names!r}")
            while True:
                raw = list(itertools.islice(reader, batch_size))
                if not raw:
                    return
                for row in raw:
                    if len(row) != width or not any(row):
                        raise FastPathRefused("a row is blank or has the wrong number of cells")
                columns = list(zip(*raw, strict=True))
                typed = [cast(column) for cast, column in zip(casters, columns, strict=True)]
                yield list(zip(*typed, strict=True))
    except (UnicodeDecodeError, csv.Error, io.UnsupportedOperation) as exc:
        raise FastPathRefused(str(exc)) from exc


def frictionless_batches(
    resource: frictionless.Resource, *, batch_size: int
) -> Iterator[list[tuple[Any, ...]]]:
    """Yield typed rows read by frictionless itself (formats the fast pass does not read)."""
    names = resource.schema.field_names
    converters = [storage_converter(f.type) for f in resource.schema.fields]
    with resource:
        batch: list[tuple[Any, ...]] = []
        for row in resource.row_stream:  # type: ignore[attr-defined]
            if not row.valid:
                raise FastPathRefused(f"row {row.row_number} is invalid")
            values = [row[name] for name in names]
            batch.append(tuple(c(v) if c else v for c, v in zip(converters, values, strict=True)))
            if len(batch) >= batch_size:
                yield batch
                batch = []
        if batch:
            yield batch
