"""One tight pass over a CSV resource: cells cast by frictionless's own per-field readers."""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import frictionless

from api.fieldtypes import JSON_TYPES
from api.storage import storage_converter

CellCaster = Callable[[str], Any]
Binder = Callable[[Any], Any]

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

MEMO_LIMIT = 1 << 14
"""Distinct cells per column whose verdict is remembered; past it, every cell is read again."""


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


def _storer(field_type: str, bind: Binder | None) -> Binder | None:
    """The typed value's stored form: the storage converter, then the driver binder."""
    convert = storage_converter(field_type)
    if convert is None or bind is None:
        return convert or bind
    return lambda value: bind(convert(value))


class _Verdicts(dict[str, Any]):
    """Stored values of the cell texts read so far; a text not seen yet is read on lookup.

    `as_read` holds the remembered texts stored as they are (a valid code, a canonical date).
    """

    def __init__(self, read: CellCaster) -> None:
        super().__init__()
        self.read = read
        self.misses = 0
        self.as_read: set[str] = set()

    def __missing__(self, cell: str) -> Any:
        self.misses += 1
        value = self.read(cell)
        if len(self) < MEMO_LIMIT:
            self[cell] = value
            if type(value) is str and value == cell:
                self.as_read.add(cell)
        return value


MONOTONE_CONSTRAINTS = frozenset(
    {"required", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}
)
"""Constraints an integer column meets in every cell when it meets them in its extreme cells."""


def _bulk_integer(field: frictionless.Field) -> bool:
    """Whether a column's cells can be cast a batch at a time by `int` (see `ColumnCaster`)."""
    if not isinstance(field, frictionless.fields.IntegerField) or not field.bare_number:
        return False
    used = {c for c in field.supported_constraints if field.constraints.get(c) is not None}
    return used <= MONOTONE_CONSTRAINTS


class ColumnCaster:
    """Casts the cells of one column with frictionless's cell reader; raises on a bad cell.

    The cell reader (missing values, type, every constraint) is a pure function of the cell
    text, so its verdict on a text is remembered, up to MEMO_LIMIT distinct texts: a column of
    dates, codes or small counts is read once per distinct text, and a batch whose every cell
    was judged before and is stored as it is (codes, canonical dates) is passed on as it is,
    with no lookup per cell. A column that keeps meeting
    new texts, such as a key, has every cell read, except a bare-number integer column whose
    only constraints are bounds (`MONOTONE_CONSTRAINTS`): its batch is cast by `int` at once
    (frictionless reads such a cell as `int(cell.strip())`, and `int` strips the same
    whitespace), and the reader judges the batch's smallest and largest cells, which pass
    exactly when every cell does. A batch with a missing value or a cell `int` refuses has
    every cell read.
    """

    def __init__(self, field: frictionless.Field, bind: Binder | None = None) -> None:
        self.name = field.name
        self.store = _storer(field.type, bind)
        constrained = any(field.constraints.get(c) is not None for c in field.supported_constraints)
        self.plain = field.type == "string" and field.format in (None, "default")
        self.plain = self.plain and not constrained
        self.bulk_integer = _bulk_integer(field)
        self.missing = _missing_values(field)
        self.reader = field.create_cell_reader()
        self.verdicts = None if field.type in JSON_TYPES else _Verdicts(self.read)

    def read(self, cell: str) -> Any:
        """Cast one cell with frictionless's cell reader."""
        value, notes = self.reader(cell)
        if notes:
            raise FastPathRefused(f"field {self.name!r}: {cell!r}: {notes}")
        return self.store(value) if self.store else value

    def _text(self, cell: str) -> Any:
        # frictionless reads an unconstrained default-format string as the cell itself.
        value = None if cell in self.missing else cell
        return self.store(value) if self.store else value

    def _integers(self, cells: Sequence[str]) -> Sequence[Any] | None:
        """The batch cast by `int` and judged by its extreme cells, or None to read each cell."""
        if not self.missing.isdisjoint(cells):
            return None
        try:
            values = list(map(int, cells))
        except ValueError:
            return None
        for extreme in (min(values), max(values)):
            cell = cells[values.index(extreme)]
            value, notes = self.reader(cell)
            if notes:
                raise FastPathRefused(f"field {self.name!r}: {cell!r}: {notes}")
            if value != extreme:
                return None
        return list(map(self.store, values)) if self.store else values

    def cast(self, cells: Sequence[str]) -> Sequence[Any]:
        """The stored values of one batch of the column's cells."""
        if self.plain:
            if self.store is None and self.missing.isdisjoint(cells):
                return cells
            return list(map(self._text, cells))
        verdicts = self.verdicts
        if verdicts is not None:
            if verdicts.as_read.issuperset(cells):
                return cells  # every cell already judged, each stored as it is
            values = list(map(verdicts.__getitem__, cells))
            if len(verdicts) >= MEMO_LIMIT and verdicts.misses * 2 > len(cells):
                self.verdicts = None  # it no longer pays
            verdicts.misses = 0
            return values
        if self.bulk_integer:
            integers = self._integers(cells)
            if integers is not None:
                return integers
        return list(map(self.read, cells))


def _columns_of(rows: list[list[str]], width: int) -> list[tuple[str, ...]]:
    """The cells of a batch column by column; refused when a row is blank or not `width` wide.

    A blank row has an empty first cell, so only a batch whose first column holds one is
    searched for blank rows.
    """
    try:
        columns = list(zip(*rows, strict=True))
    except ValueError:
        columns = []
    if len(columns) != width or not width or ("" in columns[0] and not all(map(any, rows))):
        raise FastPathRefused("a row is blank or has the wrong number of cells")
    return columns


def read_batches(
    path: Path,
    resource: frictionless.Resource,
    *,
    batch_size: int,
    binders: Sequence[Binder | None] | None = None,
) -> Iterator[list[tuple[Any, ...]]]:
    """Yield rows of stored values in batches; raise FastPathRefused at the first problem.

    With `binders` (one per field, see `ColumnCaster`), the values are ready for the driver.
    """
    schema = resource.schema
    names = schema.field_names
    width = len(names)
    bound = binders if binders is not None else [None] * width
    columns = [ColumnCaster(f, b) for f, b in zip(schema.fields, bound, strict=True)]
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
                cells = _columns_of(raw, width)
                yield list(zip(*map(ColumnCaster.cast, columns, cells), strict=True))
    except (UnicodeDecodeError, csv.Error, io.UnsupportedOperation) as exc:
        raise FastPathRefused(str(exc)) from exc


def frictionless_batches(
    resource: frictionless.Resource,
    *,
    batch_size: int,
    binders: Sequence[Binder | None] | None = None,
) -> Iterator[list[tuple[Any, ...]]]:
    """Yield typed rows read by frictionless itself (formats the fast pass does not read)."""
    names = resource.schema.field_names
    bound = binders if binders is not None else [None] * len(names)
    storers = [_storer(f.type, b) for f, b in zip(resource.schema.fields, bound, strict=True)]
    with resource:
        batch: list[tuple[Any, ...]] = []
        for row in resource.row_stream:  # type: ignore[attr-defined]
            if not row.valid:
                raise FastPathRefused(f"row {row.row_number} is invalid")
            values = [row[name] for name in names]
            batch.append(tuple(s(v) if s else v for s, v in zip(storers, values, strict=True)))
            if len(batch) >= batch_size:
                yield batch
                batch = []
        if batch:
            yield batch


def stored_batches(
    resource: frictionless.Resource,
    path: Path | None,
    *,
    batch_size: int,
    binders: Sequence[Binder | None] | None = None,
) -> Iterator[list[tuple[Any, ...]]]:
    """A resource's rows in stored form: the fast pass where it applies, else frictionless.

    :param path: the resource's file, when it has one; FastPathRefused at the first problem.
    """
    if path is not None and fast_path_applies(resource):
        return read_batches(path, resource, batch_size=batch_size, binders=binders)
    return frictionless_batches(resource, batch_size=batch_size, binders=binders)
