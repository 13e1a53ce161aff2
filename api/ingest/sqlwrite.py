"""The SQL side of a load: binding values, bulk inserts, stored files, indexes, key checks."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import frictionless
import orjson
import sqlalchemy as sa

from api.db.registry import ResourceChunk, table_of
from api.ingest.digest import file_digest


def _json_text(value: Any) -> Any:
    return None if value is None else orjson.dumps(value).decode()


def binders_for(
    connection: sa.Connection, table: sa.Table, json_columns: set[int]
) -> list[Callable[[Any], Any] | None]:
    """What turns each stored value into the value handed to the driver, column by column."""
    dialect = connection.dialect
    if dialect.name == "postgresql":
        return [_json_text if i in json_columns else None for i in range(len(table.columns))]
    return [c.type.dialect_impl(dialect).bind_processor(dialect) for c in table.columns]


def insert_rows(connection: sa.Connection, table: sa.Table, batch: list[tuple[Any, ...]]) -> None:
    """Insert rows whose values are already bound (see `binders_for`)."""
    raw = connection.connection.driver_connection
    names = ", ".join(connection.dialect.identifier_preparer.quote(c.name) for c in table.columns)
    quoted_table = connection.dialect.identifier_preparer.quote(table.name)
    if connection.dialect.name == "postgresql":
        cursor = raw.cursor()  # type: ignore[union-attr]
        with cursor.copy(f"COPY {quoted_table} ({names}) FROM STDIN") as copy:
            for row in batch:
                copy.write_row(row)
        return
    marks = ", ".join("?" for _ in table.columns)
    cursor = raw.cursor()  # type: ignore[union-attr]
    cursor.executemany(f"INSERT INTO {quoted_table} ({names}) VALUES ({marks})", batch)
    cursor.close()


def store_file(connection: sa.Connection, resource_id: int, path: Path) -> tuple[int, str]:
    """Store a resource's file in chunks; return its size and sha256 hex digest."""

    def insert(seq: int, chunk: bytes) -> None:
        connection.execute(
            sa.insert(table_of(ResourceChunk)),
            {"resource_id": resource_id, "seq": seq, "data": chunk},
        )

    return file_digest(path, insert)


def index_columns(schema: frictionless.Schema) -> list[str]:
    names: list[str] = []
    for key in schema.foreign_keys:
        fields = key["fields"]
        names.extend([fields] if isinstance(fields, str) else fields)
    for fld in schema.fields:
        if fld.type in ("date", "datetime") or fld.constraints.get("enum"):
            names.append(fld.name)
    keys = set(schema.primary_key)
    return [n for n in dict.fromkeys(names) if n not in keys or len(schema.primary_key) > 1]


def dangling_keys(
    connection: sa.Connection, tables: dict[str, sa.Table], name: str, schema: frictionless.Schema
) -> list[str]:
    problems = []
    for key in schema.foreign_keys:
        fields = key["fields"]
        fields = [fields] if isinstance(fields, str) else list(fields)
        reference = key["reference"]
        parent_name = reference.get("resource") or name
        ref_fields = reference["fields"]
        ref_fields = [ref_fields] if isinstance(ref_fields, str) else list(ref_fields)
        child, parent = tables[name], tables.get(parent_name)
        if parent is None:
            problems.append(f"{name}: foreign key to missing resource {parent_name!r}")
            continue
        match = sa.and_(
            *(parent.c[r] == child.c[f] for f, r in zip(fields, ref_fields, strict=True))
        )
        query = (
            sa.select(sa.func.count())
            .select_from(child)
            .where(*(child.c[f].is_not(None) for f in fields))
            .where(~sa.exists().where(match))
        )
        if connection.execute(query).scalar_one():
            problems.append(f"{name}: foreign key {fields} has values missing in {parent_name}")
    return problems
