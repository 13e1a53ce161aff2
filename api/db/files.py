"""Stored artefacts of a release: the published files, byte for byte, and the report."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import sqlalchemy as sa

from api.db.registry import ResourceChunk, ValidationRecord, table_of
from api.errors import NotFound

CHUNKS = table_of(ResourceChunk)
REPORTS = table_of(ValidationRecord)


def iter_resource_file(engine: sa.Engine, resource_id: int) -> Iterator[bytes]:
    """The published file of a resource chunk by chunk, holding one chunk at a time.

    The connection is opened and the chunks counted here, before the caller sends a status
    line: a database that cannot be reached is a 503, not a 200 cut off at its first byte.
    """
    connection = engine.connect()
    try:
        count = connection.execute(
            sa.select(sa.func.count()).where(CHUNKS.c.resource_id == resource_id)
        ).scalar_one()
    except BaseException:
        connection.close()
        raise

    def chunks() -> Iterator[bytes]:
        with connection:
            for seq in range(count):
                yield connection.execute(
                    sa.select(CHUNKS.c.data).where(
                        CHUNKS.c.resource_id == resource_id, CHUNKS.c.seq == seq
                    )
                ).scalar_one()

    return chunks()


def read_validation_report(engine: sa.Engine, release_id: int) -> dict[str, Any]:
    """The frictionless report stored when the release was loaded."""
    with engine.connect() as connection:
        text = connection.execute(
            sa.select(REPORTS.c.report).where(REPORTS.c.release_id == release_id)
        ).scalar_one_or_none()
    if text is None:
        raise NotFound("no validation report is stored for this release")
    report: dict[str, Any] = orjson.loads(text)
    return report
