"""The Core table of a resource, its columns typed from the field-type registry, and its rollup."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa

from api.fieldtypes import type_of


def build_table(
    metadata: sa.MetaData,
    table_name: str,
    fields: Iterable[Mapping[str, Any]],
    primary_key: Iterable[str],
    *,
    ddl: bool = False,
) -> sa.Table:
    """Build the Core table of a resource from its Table Schema fields.

    :param ddl: the types to create the columns with (text columns get a code-point collation).
    """
    keys = list(primary_key)
    columns = []
    for field in fields:
        name = str(field["name"])
        constraints = field.get("constraints") or {}
        kind = type_of(str(field.get("type", "any")))
        columns.append(
            sa.Column(
                name,
                kind.ddl if ddl else kind.sql,
                primary_key=name in keys,
                autoincrement=False,
                nullable=not (constraints.get("required") or name in keys),
            )
        )
    return sa.Table(table_name, metadata, *columns)


ROLLUP_COUNT = "od_rows"
"""The column of a rollup table that holds each combination's number of rows."""


def rollup_table_name(table_name: str) -> str:
    """The name of the rollup of a data table: `c_...` beside its `d_...`."""
    return f"c{table_name[1:]}"


def build_rollup_table(
    metadata: sa.MetaData,
    table_name: str,
    fields: Iterable[Mapping[str, Any]],
    columns: Iterable[str],
    *,
    ddl: bool = False,
) -> sa.Table:
    """Build the Core table of a data table's row counts by `columns` (see `api.model.Rollup`).

    The columns, in the order of `columns`, keep the types (and, with `ddl`, the collations) of
    the data table, so a filter compares their values exactly as it compares the table's.
    """
    by_name = {str(f["name"]): f for f in fields}
    chosen = [{**by_name[name], "constraints": {}} for name in columns]
    shape = build_table(sa.MetaData(), table_name, chosen, (), ddl=ddl)
    return sa.Table(
        rollup_table_name(table_name),
        metadata,
        *(sa.Column(c.name, c.type, nullable=True) for c in shape.columns),
        sa.Column(ROLLUP_COUNT, sa.BigInteger, nullable=False),
    )
