"""Indexes a package declares (`x-indexes`): built after the rows, refused when they are wrong."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from api.db.engine import writer_engine
from api.db.releases import Catalog
from api.errors import PackageInvalid
from api.ingest.discover import find_releases
from api.ingest.load import ReleaseLoader, physical_table_name
from api.ingest.validate import flatten, validate_descriptor
from tests.builders import field, write_release

CSV = "id,province,reported_on,people\n1,KH-12,2025-07-01,3\n2,KH-18,2025-07-02,5\n"


def _schema(**extra: Any) -> dict[str, Any]:
    fields = [
        field("id", "integer"),
        field("province"),
        field("reported_on", "date"),
        field("people", "integer"),
    ]
    return {"fields": fields, "primaryKey": ["id"], **extra}


def _release(datasets: Path, schema: dict[str, Any], **resource_extra: Any) -> Path:
    """One release of one `events` resource; `resource_extra` goes on the resource."""
    folder = write_release(datasets, "events", "1.0.0", {"events": (schema, CSV)})
    if resource_extra:
        path = folder / "datapackage.json"
        descriptor = orjson.loads(path.read_bytes())
        descriptor["resources"][0].update(resource_extra)
        path.write_bytes(orjson.dumps(descriptor, option=orjson.OPT_INDENT_2))
    return folder


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, make_database: object) -> str:
    return str(make_database(request.param))  # type: ignore[operator]


def _indexes(url: str) -> list[list[str | None]]:
    engine = sa.create_engine(url)
    try:
        table = physical_table_name("events", "1.0.0", "events")
        inspector = sa.inspect(engine)
        if not inspector.has_table(table):
            return []
        return [list(ix["column_names"]) for ix in inspector.get_indexes(table)]
    finally:
        engine.dispose()


def _load(url: str, datasets: Path) -> None:
    engine = writer_engine(url)
    try:
        ReleaseLoader(engine, quiet=True).load(find_releases(datasets)[0])
    finally:
        engine.dispose()


def test_declared_indexes_are_built_after_the_rows(empty_url: str, tmp_path: Path) -> None:
    _release(
        tmp_path,
        _schema(**{"x-indexes": [["people"]]}),
        **{"x-indexes": [["province", "reported_on"], "people"]},
    )
    _load(empty_url, tmp_path)
    found = _indexes(empty_url)
    assert ["province", "reported_on"] in found
    assert found.count(["people"]) == 1  # declared twice, built once
    engine = sa.create_engine(empty_url)
    try:
        spec = Catalog(engine).table_spec("events", "1.0.0", "events")
    finally:
        engine.dispose()
    assert {"province", "people"} <= spec.indexed


def test_without_a_declaration_no_composite_index(empty_url: str, tmp_path: Path) -> None:
    _release(tmp_path, _schema())
    _load(empty_url, tmp_path)
    assert all(len(columns) == 1 for columns in _indexes(empty_url))


def test_index_on_an_unknown_field_is_refused(empty_url: str, tmp_path: Path) -> None:
    _release(tmp_path, _schema(), **{"x-indexes": [["province", "reportd_on"]]})
    engine = writer_engine(empty_url)
    try:
        with pytest.raises(PackageInvalid) as raised:
            ReleaseLoader(engine, quiet=True).load(find_releases(tmp_path)[0])
    finally:
        engine.dispose()
    notes = [e.get("note", "") for e in raised.value.details["report"]["errors"]]
    assert any('"reportd_on" is not a field' in note for note in notes), notes
    assert _indexes(empty_url) == []  # no table: the release was not loaded


@pytest.mark.parametrize(
    ("declaration", "where", "says"),
    [
        ("province", "resource", "is not a list of indexes"),
        ([[]], "resource", "is not a list of field names"),
        ([[1, 2]], "resource", "is not a list of field names"),
        ([["province", "province"]], "resource", "names a field twice"),
        ([["nowhere"]], "schema", '"nowhere" is not a field'),
        ([["a", "b"]], "resource", '"a", "b" are not fields'),
    ],
)
def test_bad_declarations_fail_validation(
    tmp_path: Path, declaration: Any, where: str, says: str
) -> None:
    if where == "schema":
        folder = _release(tmp_path, _schema(**{"x-indexes": declaration}))
    else:
        folder = _release(tmp_path, _schema(), **{"x-indexes": declaration})
    outcome = validate_descriptor(folder)
    assert not outcome.valid
    assert [kind for *_, kind in flatten(outcome)] == ["index-declaration-error"]
    notes = [e["note"] for e in outcome.report["errors"]]
    assert len(notes) == 1
    assert says in notes[0]
    assert 'resource "events"' in notes[0]
