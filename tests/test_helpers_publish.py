"""The registry's write side: what a load records is what the read side sees."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import sqlalchemy as sa

from api.db.publish import published_hash, record_release, record_report, record_resource
from api.db.registry import create_registry
from api.db.releases import read_snapshot
from api.semver import parse_semver


def test_a_recorded_release_reads_back(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'registry.db'}")
    semver = parse_semver("1.2.0-rc.1")
    assert semver is not None
    moment = datetime(2025, 10, 18, 9, 30, tzinfo=UTC)
    with engine.begin() as connection:
        create_registry(connection)
        assert published_hash(connection, "pkg", "1.2.0-rc.1") is None
        release_id = record_release(
            connection,
            package="pkg",
            semver=semver,
            published=date(2025, 10, 18),
            loaded_at=moment,
            content_hash="abc",
            descriptor={"name": "pkg", "version": "1.2.0-rc.1"},
            changelog="Rows added.",
        )
        record_resource(
            connection,
            release_id=release_id,
            position=0,
            table_name="d_rows_1",
            row_count=3,
            facts={"name": "rows", "bytes": 10, "hash": None, "title": "Rows", "description": None},
            primary_key=["id"],
            fields=[{"name": "id", "type": "integer"}, {"name": "note"}],
        )
        record_report(connection, release_id, {"valid": True})
        assert published_hash(connection, "pkg", "1.2.0-rc.1") == "abc"
        snapshot = read_snapshot(connection)
    (release,) = snapshot.releases("pkg")
    assert release.id == release_id
    assert release.content_hash == "abc"
    assert (release.info.version, release.info.published) == ("1.2.0-rc.1", date(2025, 10, 18))
    assert release.info.changelog == "Rows added."
    assert release.info.descriptor == {"name": "pkg", "version": "1.2.0-rc.1"}
    (resource,) = release.info.resources
    assert (resource.name, resource.row_count, resource.bytes, resource.title) == (
        "rows",
        3,
        10,
        "Rows",
    )
    assert list(release.tables) == ["rows"]
    engine.dispose()
