"""Reading descriptors and telling a release's own files from URLs (validate, seal, catalog)."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.ingest.descriptors import (
    is_local_reference,
    is_url,
    local_path,
    read_json,
    read_json_or_none,
    resources_of,
)


def test_read_json_and_its_forgiving_twin(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text('{"name": "é"}', encoding="utf-8")
    bad.write_text("{", encoding="utf-8")
    assert read_json(good) == {"name": "é"}
    with pytest.raises(ValueError):
        read_json(bad)
    with pytest.raises(OSError):
        read_json(tmp_path / "missing.json")
    assert read_json_or_none(good) == {"name": "é"}
    assert read_json_or_none(bad) is None
    assert read_json_or_none(tmp_path / "missing.json") is None


@pytest.mark.parametrize(
    ("descriptor", "expected"),
    [
        ({"resources": [{"name": "a"}, "b", 3, {"name": "c"}]}, [{"name": "a"}, {"name": "c"}]),
        ({"resources": {"name": "a"}}, []),
        ({"resources": "a"}, []),
        ({"resources": None}, []),
        ({}, []),
    ],
)
def test_resources_of_keeps_only_objects(descriptor: dict[str, object], expected: object) -> None:
    assert resources_of(descriptor) == expected


@pytest.mark.parametrize(
    ("reference", "url", "local"),
    [
        ("data/rows.csv", False, True),
        ("rows.csv", False, True),
        ("https://example.org/rows.csv", True, False),
        ("file:///etc/passwd", True, False),
        ("/etc/passwd", False, False),
        ("data/../../rows.csv", False, False),
        ("..", False, False),
    ],
)
def test_urls_and_local_references(reference: str, url: bool, local: bool) -> None:
    assert is_url(reference) is url
    assert is_local_reference(reference) is local


def test_local_path_is_the_path_of_a_local_file_only() -> None:
    assert local_path({"path": "data/rows.csv"}) == "data/rows.csv"
    assert local_path({"path": "https://example.org/rows.csv"}) is None
    assert local_path({"path": ["a.csv", "b.csv"]}) is None
    assert local_path({"data": [[1]]}) is None
