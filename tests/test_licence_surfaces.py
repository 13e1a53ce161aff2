"""A licence given only by its URL is named by that URL wherever a person reads it."""

from __future__ import annotations

import io
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook

from tests.builders import field, write_release
from tests.helpers import MakeDatabase, serving

TERMS = "https://example.org/terms-of-use"
SCHEMA: dict[str, Any] = {"fields": [field("id", "integer")], "primaryKey": ["id"]}
RELEASE = "/v1/datasets/terms-only/1.0.0"

pytestmark = pytest.mark.anyio


@pytest.fixture
async def http(tmp_path: Path, make_database: MakeDatabase) -> AsyncIterator[httpx.AsyncClient]:
    datasets = tmp_path / "datasets"
    write_release(
        datasets, "terms-only", "1.0.0", {"items": (SCHEMA, "id\n1\n")}, licenses=[{"path": TERMS}]
    )
    async with serving(make_database("sqlite"), datasets) as client:
        yield client


async def test_path_only_licence_is_named_by_its_url(http: httpx.AsyncClient) -> None:
    workbook = await http.get(f"{RELEASE}/items.xlsx")
    about = dict(load_workbook(io.BytesIO(workbook.content))["about"].iter_rows(values_only=True))
    assert about["licence"] == TERMS
    assert workbook.headers["x-license"] == TERMS
    assert f'<{TERMS}>; rel="license"' in workbook.headers["link"]

    archive = zipfile.ZipFile(io.BytesIO((await http.get(f"{RELEASE}.zip")).content))
    readme = archive.read("README.md").decode("utf-8")
    assert f"Licence: {TERMS}" in readme

    page = (await http.get("/datasets/terms-only")).text
    assert f'<a href="{TERMS}">{TERMS}</a>' in page
    for text in (readme, page, str(about["licence"])):
        assert "None" not in text
