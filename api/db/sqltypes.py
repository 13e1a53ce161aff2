"""The Core table of a resource, its columns typed from the field-type registry."""

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
