"""Loading releases: every type round-trips, loads are atomic and idempotent, on both backends."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import frictionless
import pytest
import sqlalchemy as sa

from api.db.engine import writer_engine
from api.db.registry import create_registry
from api.db.releases import Catalog, read_snapshot
from api.errors import PackageInvalid, ReleaseConflict
from api.ingest.discover import find_releases
from api.ingest.fastpath import (
    MEMO_LIMIT,
    FastPathRefused,
    frictionless_batches,
    read_batches,
)
from api.ingest.load import LoadSummary, ReleaseLoader
from tests.builders import field, write_release
from tests.helpers import DATASETS, FLAGSHIP, ROOT, MakeDatabase

TYPES_SCHEMA = {
    "fields": [
        field("id", "integer", constraints={"required": True}),
        field("text"),
        field("amount", "number"),
        field("flag", "boolean"),
        field("day", "date"),
        field("moment", "datetime"),
        field("clock", "time"),
        field("year", "year"),
        field("month", "yearmonth"),
        field("span", "duration"),
        field("point", "geopoint"),
        field("doc", "object"),
        field("items", "array"),
        field("whatever", "any"),
    ],
    "primaryKey": ["id"],
}
TYPES_CSV = (
    "id,text,amount,flag,day,moment,clock,year,month,span,point,doc,items,whatever\n"
    '1,héllo,1.5,true,2025-07-14,2025-07-14T10:30:00Z,10:30:00,2025,2025-07,P1D,"104.9, 11.5",'
    '"{""a"": 1}","[1, 2]",x\n'
    "2,,,,,,,,,,,,,\n"
    '3,"a, b",-0.25,false,2026-03-12,2026-03-12T23:59:59,00:00:01,1999,1999-12,PT5M,'
    '"0, 0","{}","[]",7\n'
)
EXPECTED_TYPES = [
    (
        1,
        "héllo",
        1.5,
        True,
        dt.date(2025, 7, 14),
        dt.datetime(2025, 7, 14, 10, 30),
        dt.time(10, 30),
        2025,
        "2025-07",
        "P1D",
        [104.9, 11.5],
        {"a": 1},
        [1, 2],
        "x",
    ),
    (2, None, None, None, None, None, None, None, None, None, None, None, None, None),
    (
        3,
        "a, b",
        -0.25,
        False,
        dt.date(2026, 3, 12),
        dt.datetime(2026, 3, 12, 23, 59, 59),
        dt.time(0, 0, 1),
        1999,
        "1999-12",
        "PT5M",
        [0.0, 0.0],
        {},
        [],
        "7",
    ),
]

COMPOSITE_SCHEMA = {
    "fields": [field("country"), field("year", "integer"), field("value", "integer")],
    "primaryKey": ["country", "year"],
}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, make_database: MakeDatabase) -> str:
    return make_database(request.param)


def _load(url: str, datasets: Path) -> LoadSummary:
    engine = writer_engine(url)
    try:
        return ReleaseLoader(engine, quiet=True).load_all(find_releases(datasets))
    finally:
        engine.dispose()


def _rows(url: str, package: str, version: str, resource: str) -> list[tuple[object, ...]]:
    engine = sa.create_engine(url)
    try:
        spec = Catalog(engine).table_spec(package, version, resource)
        with engine.connect() as connection:
            order = [spec.table.c[k] for k in spec.primary_key]
            return [tuple(r) for r in connection.execute(sa.select(spec.table).order_by(*order))]
    finally:
        engine.dispose()


def _dump(url: str) -> list[tuple[str, list[tuple[object, ...]]]]:
    """Every table's rows, for before/after comparisons on any backend."""
    engine = sa.create_engine(url)
    try:
        metadata = sa.MetaData()
        metadata.reflect(engine)
        with engine.connect() as connection:
            return [
                (t.name, sorted(map(tuple, connection.execute(sa.select(t))), key=repr))
                for t in metadata.sorted_tables
            ]
    finally:
        engine.dispose()


def test_every_type_round_trips(empty_url: str, tmp_path: Path) -> None:
    write_release(tmp_path, "types", "1.0.0", {"all": (TYPES_SCHEMA, TYPES_CSV)})
    summary = _load(empty_url, tmp_path)
    assert summary.loaded == [("types", "1.0.0", 3)]
    assert _rows(empty_url, "types", "1.0.0", "all") == EXPECTED_TYPES


def test_composite_primary_key(empty_url: str, tmp_path: Path) -> None:
    csv = "country,year,value\nKH,2025,1\nKH,2026,2\nVN,2025,3\n"
    write_release(tmp_path, "composite", "1.0.0", {"values": (COMPOSITE_SCHEMA, csv)})
    _load(empty_url, tmp_path)
    assert _rows(empty_url, "composite", "1.0.0", "values") == [
        ("KH", 2025, 1),
        ("KH", 2026, 2),
        ("VN", 2025, 3),
    ]
    engine = sa.create_engine(empty_url)
    spec = Catalog(engine).table_spec("composite", "latest", "values")
    engine.dispose()
    assert spec.primary_key == ("country", "year")
    assert [c.name for c in spec.table.primary_key.columns] == ["country", "year"]


def test_flagship_releases_side_by_side(flagship_url: str) -> None:
    engine = sa.create_engine(flagship_url)
    with engine.connect() as connection:
        snapshot = read_snapshot(connection)
    engine.dispose()
    releases = snapshot.releases(FLAGSHIP)
    assert [r.info.version for r in releases] == ["1.0.0", "1.1.0", "1.2.0", "1.3.0", "1.3.1"]
    for release in releases:
        folder = DATASETS / FLAGSHIP / release.info.version / "data"
        for resource in release.info.resources:
            lines = (folder / f"{resource.name}.csv").read_bytes().count(b"\n")
            assert resource.row_count == lines - 1, (release.info.version, resource.name)
    figures = {
        r.info.version: {x.name: x.row_count for x in r.info.resources}["figures"] for r in releases
    }
    assert figures["1.0.0"] < figures["1.1.0"] < figures["1.2.0"] == 433
    assert figures["1.3.0"] == figures["1.3.1"] == 478


def test_reload_is_a_no_op(empty_url: str, tmp_path: Path) -> None:
    write_release(
        tmp_path,
        "composite",
        "1.0.0",
        {"values": (COMPOSITE_SCHEMA, "country,year,value\nKH,2025,1\n")},
    )
    _load(empty_url, tmp_path)
    before = _dump(empty_url)
    summary = _load(empty_url, tmp_path)
    assert summary.skipped == [("composite", "1.0.0")]
    assert summary.loaded == []
    assert _dump(empty_url) == before


def test_changed_release_under_same_version_is_refused(empty_url: str, tmp_path: Path) -> None:
    write_release(
        tmp_path,
        "composite",
        "1.0.0",
        {"values": (COMPOSITE_SCHEMA, "country,year,value\nKH,2025,1\n")},
    )
    _load(empty_url, tmp_path)
    write_release(
        tmp_path,
        "composite",
        "1.0.0",
        {"values": (COMPOSITE_SCHEMA, "country,year,value\nKH,2025,2\n")},
    )
    engine = writer_engine(empty_url)
    with pytest.raises(ReleaseConflict, match="cut a new version"):
        ReleaseLoader(engine, quiet=True).load(find_releases(tmp_path)[0])
    engine.dispose()


@pytest.mark.parametrize(
    ("csv", "error_type"),
    [
        ("country,year,value\nKH,2025,1\nKH,2025,2\n", "primary-key"),
        ("country,year,value\nKH,twenty,1\n", "type-error"),
        ("country,year,value\nKH,2025,-1\n", "constraint-error"),
    ],
)
def test_invalid_release_changes_nothing(
    empty_url: str, tmp_path: Path, csv: str, error_type: str
) -> None:
    good = tmp_path / "good"
    write_release(
        good,
        "composite",
        "1.0.0",
        {"values": (COMPOSITE_SCHEMA, "country,year,value\nKH,2025,1\n")},
    )
    _load(empty_url, good)
    before = _dump(empty_url)
    bad_schema = {
        **COMPOSITE_SCHEMA,
        "fields": [
            *COMPOSITE_SCHEMA["fields"][:2],
            field("value", "integer", constraints={"minimum": 0}),
        ],
    }
    bad = tmp_path / "bad"
    write_release(bad, "composite", "1.1.0", {"values": (bad_schema, csv)})
    engine = writer_engine(empty_url)
    with pytest.raises(PackageInvalid) as raised:
        ReleaseLoader(engine, quiet=True).load(find_releases(bad)[0])
    engine.dispose()
    report = raised.value.details["report"]
    types = {e["type"] for task in report["tasks"] for e in task["errors"]}
    assert error_type in types
    assert _dump(empty_url) == before


def _big_release(datasets: Path, rows: int) -> Path:
    lines = ["country,year,value"] + [f"C{i},{2000 + i % 50},{i}" for i in range(rows)]
    return write_release(
        datasets, "big", "1.0.0", {"values": (COMPOSITE_SCHEMA, "\n".join(lines) + "\n")}
    )


@pytest.mark.slow
def test_killed_load_leaves_nothing_and_rerun_completes(empty_url: str, tmp_path: Path) -> None:
    _big_release(tmp_path, 400_000)
    env = {**os.environ, "OPENDATA_DATABASE_URL": empty_url, "OPENDATA_DATASETS_DIR": str(tmp_path)}
    env.pop("OPENDATA_TEST_DATABASE_URL", None)
    engine = writer_engine(empty_url)
    ReleaseLoader(engine, quiet=True)  # registry tables exist before the kill
    engine.dispose()
    marker = tmp_path / "rows-started"
    code = (
        "import pathlib, api.ingest.load as load\n"
        "real = load.insert_rows\n"
        "def slow(*a, **k):\n"
        f"    pathlib.Path({str(marker)!r}).touch()\n"
        "    real(*a, **k)\n"
        "    import time; time.sleep(0.2)\n"
        "load.insert_rows = slow\n"
        "from api.cli import app\n"
        "app(['load', '--quiet'])\n"
    )
    process = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env)
    deadline = time.monotonic() + 60
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    assert process.poll() is None, "the load finished before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    engine = sa.create_engine(empty_url)
    with engine.connect() as connection:
        assert read_snapshot(connection).packages == {}
        tables = sa.inspect(connection).get_table_names()
    engine.dispose()
    assert not [t for t in tables if t.startswith("d_")]
    summary = _load(empty_url, tmp_path)
    assert summary.loaded == [("big", "1.0.0", 400_000)]


def test_stored_file_is_byte_identical(empty_url: str, tmp_path: Path) -> None:
    folder = write_release(
        tmp_path,
        "composite",
        "1.0.0",
        {"values": (COMPOSITE_SCHEMA, "country,year,value\nKH,2025,1\n")},
    )
    _load(empty_url, tmp_path)
    engine = sa.create_engine(empty_url)
    with engine.connect() as connection:
        data = b"".join(
            r[0]
            for r in connection.exec_driver_sql("SELECT data FROM od_resource_chunks ORDER BY seq")
        )
    engine.dispose()
    expected = (folder / "data" / "values.csv").read_bytes()
    assert hashlib.sha256(data).hexdigest() == hashlib.sha256(expected).hexdigest()


def test_fast_pass_reads_what_frictionless_reads(tmp_path: Path) -> None:
    folder = write_release(tmp_path, "types", "1.0.0", {"all": (TYPES_SCHEMA, TYPES_CSV)})
    package = frictionless.Package(str(folder / "datapackage.json"))
    resource = package.get_resource("all")
    fast = [
        row
        for batch in read_batches(folder / "data/all.csv", resource, batch_size=2)
        for row in batch
    ]
    slow = [row for batch in frictionless_batches(resource, batch_size=2) for row in batch]
    assert fast == slow
    assert len(fast) == 3


@pytest.mark.parametrize("bad", ["abc", "-1"])
def test_bad_cell_is_refused_after_the_column_stopped_remembering(tmp_path: Path, bad: str) -> None:
    """A key-like column stops memoising verdicts; every later cell is still judged."""
    schema = {
        **COMPOSITE_SCHEMA,
        "fields": [
            *COMPOSITE_SCHEMA["fields"][:2],
            field("value", "integer", constraints={"minimum": 0}),
        ],
    }
    lines = ["country,year,value"]
    lines += [f"C{i},{2000 + i % 50},{i}" for i in range(3 * MEMO_LIMIT)]
    lines.append(f"Z,2000,{bad}")
    folder = write_release(tmp_path, "keys", "1.0.0", {"values": (schema, "\n".join(lines) + "\n")})
    resource = frictionless.Package(str(folder / "datapackage.json")).get_resource("values")
    with pytest.raises(FastPathRefused, match="value"):
        for _batch in read_batches(folder / "data/values.csv", resource, batch_size=1000):
            pass


def test_latest_resolves_in_the_snapshot_the_caller_holds(empty_url: str, tmp_path: Path) -> None:
    """A request that resolved its release in one snapshot gets its table from the same one."""
    datasets = tmp_path / "datasets"
    schema = {"fields": [field("id", "integer")], "primaryKey": ["id"]}
    write_release(datasets, "growing", "1.0.0", {"items": (schema, "id\n1\n")})
    _load(empty_url, datasets)
    engine = sa.create_engine(empty_url)
    try:
        catalog = Catalog(engine)
        held = catalog.snapshot()
        write_release(datasets, "growing", "1.1.0", {"items": (schema, "id\n1\n2\n")})
        _load(empty_url, datasets)
        assert catalog.table_spec("growing", "latest", "items").version == "1.1.0"
        spec = catalog.table_spec("growing", "latest", "items", snapshot=held)
        assert (spec.version, spec.row_count) == ("1.0.0", 1)
    finally:
        engine.dispose()


def test_documents_derived_from_a_snapshot_are_built_once_per_snapshot(
    empty_url: str, tmp_path: Path
) -> None:
    datasets = tmp_path / "datasets"
    schema = {"fields": [field("id", "integer")], "primaryKey": ["id"]}
    write_release(datasets, "growing", "1.0.0", {"items": (schema, "id\n1\n")})
    _load(empty_url, datasets)
    engine = sa.create_engine(empty_url)
    try:
        catalog = Catalog(engine)
        builds: list[str] = []

        def versions() -> list[str]:
            snapshot = catalog.snapshot()

            def build() -> list[str]:
                builds.append("built")
                return [r.info.version for r in snapshot.releases("growing")]

            return snapshot.derived("versions", build)

        assert versions() == versions() == ["1.0.0"]
        assert len(builds) == 1
        write_release(datasets, "growing", "1.1.0", {"items": (schema, "id\n1\n2\n")})
        _load(empty_url, datasets)
        assert versions() == ["1.0.0", "1.1.0"]  # a load gives a new snapshot, built anew
        assert len(builds) == 2
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_registry_setup_takes_no_lock_a_download_holds(make_database: MakeDatabase) -> None:
    """Chunks are stored uncompressed, set once: a later loader does not wait for readers."""
    url = make_database("postgresql")
    _load(url, DATASETS)
    engine = writer_engine(url)
    try:
        with engine.connect() as reader:
            storage = reader.exec_driver_sql(
                "SELECT attstorage FROM pg_attribute"
                " WHERE attrelid = 'od_resource_chunks'::regclass AND attname = 'data'"
            ).scalar_one()
            assert storage == "e"
            reader.exec_driver_sql("SELECT count(*) FROM od_resource_chunks").scalar_one()
            # `reader` now holds its share lock until it ends, as a download does.
            with engine.begin() as writer:
                writer.exec_driver_sql("SET LOCAL lock_timeout = '500ms'")
                create_registry(writer)  # what every ReleaseLoader runs first
    finally:
        engine.dispose()
