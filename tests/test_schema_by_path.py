"""A release whose schema is a file of its own: served whole, diffed whole."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.diff import diff_schemas
from api.ingest.release import folder_shape
from tests.builders import field, write_release
from tests.helpers import MakeDatabase, serving

pytestmark = pytest.mark.anyio

PARENTS: dict[str, Any] = {"fields": [field("code")], "primaryKey": ["code"]}
CHILD_FIELDS = [field("id", "integer"), field("parent")]


def _write(datasets: Path, version: str, child_schema: dict[str, Any]) -> None:
    folder = write_release(
        datasets,
        "split",
        version,
        {"parents": (PARENTS, "code\nA\n"), "children": (child_schema, "id,parent\n1,A\n")},
    )
    descriptor = json.loads((folder / "datapackage.json").read_text())
    (folder / "schemas").mkdir()
    (folder / "schemas" / "children.json").write_text(json.dumps(child_schema))
    descriptor["resources"][1]["schema"] = "schemas/children.json"
    (folder / "datapackage.json").write_text(json.dumps(descriptor, indent=2) + "\n")


@pytest.fixture
async def http(
    tmp_path: Path, make_database: MakeDatabase, backend: str
) -> AsyncIterator[httpx.AsyncClient]:
    datasets = tmp_path / "datasets"
    _write(datasets, "1.0.0", {"fields": CHILD_FIELDS, "primaryKey": ["id"]})
    keyed = {
        "fields": CHILD_FIELDS,
        "primaryKey": ["id"],
        "foreignKeys": [
            {"fields": ["parent"], "reference": {"resource": "parents", "fields": ["code"]}}
        ],
    }
    _write(datasets, "1.0.1", keyed)
    async with serving(make_database(backend), datasets) as client:
        client.datasets = datasets  # type: ignore[attr-defined]
        yield client


async def test_served_descriptor_holds_the_schema_inline(http: httpx.AsyncClient) -> None:
    served = (await http.get("/v1/datasets/split/1.0.1/datapackage.json")).json()
    schema = served["resources"][1]["schema"]
    assert schema["foreignKeys"][0]["reference"] == {"resource": "parents", "fields": ["code"]}


async def test_api_diff_sees_the_schema_file(http: httpx.AsyncClient) -> None:
    """The foreign key added in the schema file is a change the API diff reports."""
    datasets: Path = http.datasets  # type: ignore[attr-defined]
    local = diff_schemas(
        folder_shape(datasets / "split" / "1.0.0" / "datapackage.json"),
        folder_shape(datasets / "split" / "1.0.1" / "datapackage.json"),
    )
    served = (await http.get("/v1/datasets/split/diff?from=1.0.0&to=1.0.1")).json()
    assert local
    assert len(served["schema_changes"]) == len(local)
    assert served["required_bump"] == max(change.bump for change in local).label
    assert served["bump_ok"] is False
