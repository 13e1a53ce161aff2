"""The fast pass judges a batch as frictionless judges each of its rows, whichever way it casts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import frictionless
import pytest

from api.db.engine import writer_engine
from api.ingest.discover import find_releases
from api.ingest.fastpath import MEMO_LIMIT, FastPathRefused, frictionless_batches, read_batches
from api.ingest.load import ReleaseLoader, physical_table_name
from tests.builders import field, write_release

KEYS = 3 * MEMO_LIMIT  # enough distinct keys for the key column to stop remembering verdicts


def _resource(tmp_path: Path, schema: dict[str, Any], lines: list[str]) -> frictionless.Resource:
    text = "\n".join(lines) + "\n"
    folder = write_release(tmp_path, "keys", "1.0.0", {"values": (schema, text)})
    return frictionless.Package(str(folder / "datapackage.json")).get_resource("values")


def _fast(resource: frictionless.Resource) -> list[tuple[Any, ...]]:
    path = Path(resource.basepath or ".") / str(resource.path)
    return [row for batch in read_batches(path, resource, batch_size=1000) for row in batch]


def _slow(resource: frictionless.Resource) -> list[tuple[Any, ...]]:
    return [row for batch in frictionless_batches(resource, batch_size=1000) for row in batch]


def _key_schema(**constraints: Any) -> dict[str, Any]:
    return {
        "fields": [field("id", "integer", constraints=constraints), field("note")],
        "missingValues": ["", "NA", "-7"],
    }


@pytest.mark.parametrize(
    "cell",
    [" 7 ", "+8", "1_000", "\u0663", "NA", "-7", "-1", "1000000001", "1.0", "0x1f", "", "1e3"],
)
def test_a_key_column_past_its_memo_is_judged_like_frictionless(tmp_path: Path, cell: str) -> None:
    """Cells `int` and frictionless could read differently, after the batches cast by `int`."""
    schema = _key_schema(minimum=0, maximum=10**9)
    lines = ["id,note", *(f"{i},n" for i in range(KEYS)), f'"{cell}",last']
    resource = _resource(tmp_path, schema, lines)
    try:
        expected: list[tuple[Any, ...]] | None = _slow(resource)
    except FastPathRefused:
        expected = None
    if expected is None:
        with pytest.raises(FastPathRefused, match="id"):
            _fast(resource)
    else:
        assert _fast(resource) == expected


@pytest.mark.parametrize(
    ("constraints", "bad"),
    [
        ({"required": True}, ""),
        ({"minimum": 5}, "4"),
        ({"maximum": KEYS}, str(KEYS + 1)),
    ],
)
def test_a_bound_broken_in_the_middle_of_a_batch_is_refused(
    tmp_path: Path, constraints: dict[str, Any], bad: str
) -> None:
    """The smallest or largest cell of a batch need not be its first or last."""
    keys = [str(i) for i in range(10, KEYS)]
    keys.insert(len(keys) - 500, bad)
    lines = ["id,note", *(f"{k},n" for k in keys)]
    resource = _resource(tmp_path, _key_schema(**constraints), lines)
    with pytest.raises(FastPathRefused, match="id"):
        _slow(resource)
    with pytest.raises(FastPathRefused, match="id"):
        _fast(resource)


def test_valid_keys_cast_by_the_batch_are_the_values_frictionless_reads(tmp_path: Path) -> None:
    schema = _key_schema(required=True, minimum=1)
    lines = ["id,note", *(f"{i},n{i % 3}" for i in range(1, KEYS))]
    resource = _resource(tmp_path, schema, lines)
    fast = _fast(resource)
    assert fast == _slow(resource)
    assert all(type(row[0]) is int for row in fast)


@pytest.mark.parametrize("bad", ["a,b,c", "a", ",", ""])
def test_a_row_of_another_width_or_blank_is_refused_in_any_batch(tmp_path: Path, bad: str) -> None:
    """A blank row (every cell empty) or a row of another width, far past the first batch."""
    schema = {"fields": [field("id", "integer"), field("note")]}
    lines = ["id,note", *(f"{i},n" for i in range(5000))]
    lines.insert(4321, bad)
    resource = _resource(tmp_path, schema, lines)
    with pytest.raises(FastPathRefused, match="blank or has the wrong number"):
        _fast(resource)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, make_database: object) -> str:
    return str(make_database(request.param))  # type: ignore[operator]


def test_cells_passed_on_as_they_are_are_stored_as_frictionless_reads_them(
    empty_url: str, tmp_path: Path
) -> None:
    """Batches of codes and dates already judged skip the lookups; other texts still do not."""
    schema = {
        "fields": [
            field("id", "integer"),
            field("day", "date"),
            field("code", constraints={"enum": ["a", "b"]}),
        ],
        "primaryKey": ["id"],
    }
    days = ["2025-07-01", "2025-7-1", "2025-07-02"]
    lines = ["id,day,code"] + [
        f"{i},{days[0 if i < 40 else i % 3]},{'ab'[i % 2]}" for i in range(90)
    ]
    write_release(tmp_path, "days", "1.0.0", {"values": (schema, "\n".join(lines) + "\n")})
    engine = writer_engine(empty_url)
    try:
        ReleaseLoader(engine, batch_size=10, quiet=True).load(find_releases(tmp_path)[0])
        table = physical_table_name("days", "1.0.0", "values")
        with engine.connect() as connection:
            rows = connection.exec_driver_sql(f"SELECT id, day, code FROM {table} ORDER BY id")
            stored = [(i, str(day), code) for i, day, code in rows]
    finally:
        engine.dispose()
    expected_days = ["2025-07-01", "2025-07-01", "2025-07-02"]
    assert stored == [(i, expected_days[0 if i < 40 else i % 3], "ab"[i % 2]) for i in range(90)]
