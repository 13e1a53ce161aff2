"""Write side of the registry: the rows a load adds, inside the load's own transaction.

The release row is written before its resources and the validation record last, all in one
transaction, so readers (`db/releases.py`) never see half a release.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

import orjson
import sqlalchemy as sa

from api.db.registry import FieldDef, Package, Release, Resource, ValidationRecord, table_of
from api.semver import SemVer

PACKAGES, RELEASES, RESOURCES = table_of(Package), table_of(Release), table_of(Resource)
FIELDS, REPORTS = table_of(FieldDef), table_of(ValidationRecord)


def published_hash(connection: sa.Connection, package: str, version: str) -> str | None:
    """The content hash a release was loaded with, or None when it is not loaded."""
    return connection.execute(
        sa.select(RELEASES.c.content_hash).where(
            RELEASES.c.package == package, RELEASES.c.version == version
        )
    ).scalar_one_or_none()


def record_release(
    connection: sa.Connection,
    *,
    package: str,
    semver: SemVer,
    published: date | None,
    loaded_at: datetime,
    content_hash: str,
    descriptor: Mapping[str, Any],
    changelog: str | None,
) -> int:
    """Add a release (and its package the first time); return the release's id."""
    if (
        connection.execute(sa.select(PACKAGES.c.name).where(PACKAGES.c.name == package)).first()
        is None
    ):
        connection.execute(sa.insert(PACKAGES), {"name": package, "first_loaded_at": loaded_at})
    release_id: int = connection.execute(
        sa.insert(RELEASES).returning(RELEASES.c.id),
        {
            "package": package,
            "version": semver.text,
            "major": semver.major,
            "minor": semver.minor,
            "patch": semver.patch,
            "prerelease": semver.prerelease,
            "published": published,
            "loaded_at": loaded_at,
            "content_hash": content_hash,
            "descriptor": orjson.dumps(descriptor).decode(),
            "changelog": changelog,
        },
    ).scalar_one()
    return release_id


def record_resource(
    connection: sa.Connection,
    *,
    release_id: int,
    position: int,
    table_name: str,
    row_count: int,
    facts: Mapping[str, Any],
    primary_key: Sequence[str],
    fields: Sequence[Mapping[str, Any]],
) -> int:
    """Add a resource of a release and its field descriptors; return the resource's id.

    :param facts: the resource's `name`, `bytes`, `hash`, `title` and `description`.
    """
    resource_id: int = connection.execute(
        sa.insert(RESOURCES).returning(RESOURCES.c.id),
        {
            "release_id": release_id,
            "name": facts["name"],
            "position": position,
            "table_name": table_name,
            "row_count": row_count,
            "bytes": facts["bytes"],
            "hash": facts["hash"],
            "title": facts["title"],
            "description": facts["description"],
            "primary_key": orjson.dumps(list(primary_key)).decode(),
        },
    ).scalar_one()
    connection.execute(
        sa.insert(FIELDS),
        [
            {
                "resource_id": resource_id,
                "position": i,
                "name": f["name"],
                "type": f.get("type", "any"),
                "format": f.get("format"),
                "descriptor": orjson.dumps(f).decode(),
            }
            for i, f in enumerate(fields)
        ],
    )
    return resource_id


def record_report(connection: sa.Connection, release_id: int, report: Mapping[str, Any]) -> None:
    """Add the validation report of a valid release: the last row of its load."""
    connection.execute(
        sa.insert(REPORTS),
        {"release_id": release_id, "valid": True, "report": orjson.dumps(report).decode()},
    )
