"""A resource published as inline `data` has no file: its unfiltered CSV is rendered."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.builders import LICENSE, field
from tests.helpers import MakeDatabase, serving

pytestmark = pytest.mark.anyio


async def test_unfiltered_csv_of_inline_data_is_rendered(
    tmp_path: Path, make_database: MakeDatabase
) -> None:
    folder = tmp_path / "datasets" / "inline" / "1.0.0"
    folder.mkdir(parents=True)
    descriptor = {
        "name": "inline",
        "title": "Inline",
        "version": "1.0.0",
        "licenses": [LICENSE],
        "created": "2025-01-01T00:00:00Z",
        "resources": [
            {
                "name": "things",
                "data": [["id", "label"], [1, "a"], [2, "b"]],
                "schema": {
                    "fields": [field("id", "integer"), field("label")],
                    "primaryKey": ["id"],
                },
            }
        ],
    }
    (folder / "datapackage.json").write_text(json.dumps(descriptor))
    async with serving(make_database("sqlite"), tmp_path / "datasets") as http:
        for query in ("", "?_dl=1"):
            response = await http.get(f"/v1/datasets/inline/1.0.0/things.csv{query}")
            assert (response.status_code, response.text) == (200, "id,label\r\n1,a\r\n2,b\r\n")
