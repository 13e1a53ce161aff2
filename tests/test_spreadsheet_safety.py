"""Spreadsheet safety: text never runs as a formula in a workbook or an Excel-ready CSV.

The published file and the plain CSV keep every value as released; `opendata validate` warns
about the values that would start a formula.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from api.cli import app as cli
from api.config import Settings
from api.ingest.validate import FormulaLike, validate_release
from tests.builders import field, write_release
from tests.helpers import BASE_URL, MakeDatabase, app_client, load_releases
from tests.problem_body import problem_body

pytestmark = pytest.mark.anyio

DANGEROUS = ["=cmd|' /C calc'!A0", "+1", "-x", "@SUM(1)", "\tx", "\rx"]
HARMLESS = ["plain", "#N/A", "a=b", "'quoted", "bell\x07", "_x0041_"]


def _in_workbook(text: str) -> str:
    """A sheet holds no control character: the workbook writes the `_xHHHH_` Excel reads back."""
    return text.replace("_x0041_", "_x005F_x0041_").replace("\x07", "_x0007_")


TEXTS = [*DANGEROUS, *HARMLESS]
SCHEMA: dict[str, Any] = {
    "fields": [
        field("id", "integer"),
        field("text"),
        field("amount", "integer"),
        field("score", "number"),
        field("tags", "list", delimiter=";"),
    ],
    "primaryKey": ["id"],
}
ROWS = "/v1/datasets/safety/1.0.0/cells"
TITLE = "=1+1 safety"  # the about sheet names the dataset by its title


def _published() -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([f["name"] for f in SCHEMA["fields"]])
    for number, text in enumerate(TEXTS, 1):
        writer.writerow([number, text, -number, -number - 0.5, f"{text};b"])
    return buffer.getvalue()


PUBLISHED = _published()


def _write(datasets: Path) -> Path:
    resources = {"cells": (SCHEMA, PUBLISHED)}
    return write_release(datasets, "safety", "1.0.0", resources, title=TITLE)


@pytest.fixture(scope="module")
def loaded(
    backend: str, make_database: MakeDatabase, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, Path]:
    """The safety package loaded into a database of each backend, once."""
    datasets = tmp_path_factory.mktemp("safety") / "datasets"
    _write(datasets)
    url = make_database(backend)
    load_releases(url, datasets)
    return url, datasets


@asynccontextmanager
async def _serve(loaded: tuple[str, Path], **settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    url, datasets = loaded
    config = Settings(database_url=url, base_url=BASE_URL, datasets_dir=datasets, **settings)
    async with app_client(config) as client:
        yield client


@pytest.fixture
async def http(loaded: tuple[str, Path]) -> AsyncIterator[httpx.AsyncClient]:
    async with _serve(loaded) as client:
        yield client


@pytest.fixture
async def small(loaded: tuple[str, Path]) -> AsyncIterator[httpx.AsyncClient]:
    """A server whose workbooks hold at most 5 rows."""
    async with _serve(loaded, xlsx_max_rows=5) as client:
        yield client


def _csv(response: httpx.Response) -> list[list[str]]:
    assert response.status_code == 200, response.text
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"), newline="")))


# Workbooks -----------------------------------------------------------------------------------


async def test_workbook_text_is_text_and_numbers_are_numbers(http: httpx.AsyncClient) -> None:
    response = await http.get(f"{ROWS}.xlsx?text__notnull=1")
    assert response.status_code == 200
    workbook = load_workbook(io.BytesIO(response.content))
    formulas = [
        cell.coordinate
        for sheet in workbook.worksheets
        for row in sheet.iter_rows()
        for cell in row
        if cell.data_type != "s" and isinstance(cell.value, str)
    ]
    assert formulas == []
    rows = list(workbook["cells"].iter_rows(min_row=2))
    assert [(row[1].data_type, row[1].value) for row in rows] == [
        ("s", _in_workbook(text)) for text in TEXTS
    ]
    assert [(row[4].data_type, row[4].value) for row in rows] == [  # a list is JSON text
        ("s", _in_workbook(json.dumps([text, "b"], separators=(",", ":")))) for text in TEXTS
    ]
    assert [(row[2].data_type, row[2].value) for row in rows] == [
        ("n", -number) for number in range(1, len(TEXTS) + 1)
    ]
    assert [row[3].value for row in rows] == [-n - 0.5 for n in range(1, len(TEXTS) + 1)]


async def test_workbook_filtered_by_a_formula_keeps_it_as_text(http: httpx.AsyncClient) -> None:
    response = await http.get(ROWS + ".xlsx", params={"text": DANGEROUS[0]})
    workbook = load_workbook(io.BytesIO(response.content))
    [row] = workbook["cells"].iter_rows(min_row=2)
    assert (row[1].data_type, row[1].value) == ("s", DANGEROUS[0])
    about = {row[0].value: row[1] for row in workbook["about"].iter_rows()}
    assert (about["dataset"].data_type, about["dataset"].value) == ("s", TITLE)
    assert about["filters"].value == f"text exact {DANGEROUS[0]}"


@pytest.mark.parametrize(
    ("value", "written"),
    [("a\x01b", "a_x0001_b"), ("\uffff", "_xFFFF_"), ("\x1f_x0001_", "_x001F__x005F_x0001_")],
)
async def test_workbook_filtered_by_a_control_character_is_a_workbook(
    http: httpx.AsyncClient, value: str, written: str
) -> None:
    response = await http.get(ROWS + ".xlsx", params={"text": value})
    assert response.status_code == 200
    about = dict(load_workbook(io.BytesIO(response.content))["about"].iter_rows(values_only=True))
    assert about["filters"] == f"text exact {written}"


# CSV -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["_bom=1", "_bom=1&_delimiter=%3B", "_bom=1&id__gte=1&_dl=1"])
async def test_excel_ready_csv_neutralises_formula_like_text(
    http: httpx.AsyncClient, query: str
) -> None:
    response = await http.get(f"{ROWS}.csv?{query}")
    assert response.content.startswith("\ufeff".encode())
    delimiter = ";" if "_delimiter" in query else ","
    text = response.content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    expected = [f"'{t}" for t in DANGEROUS] + HARMLESS
    assert [row[1] for row in rows[1:]] == expected
    assert [row[4] for row in rows[1:]] == [f"{t};b" for t in expected]
    assert [row[2] for row in rows[1:]] == [str(-n) for n in range(1, len(TEXTS) + 1)]
    assert [row[3] for row in rows[1:]] == [str(-n - 0.5) for n in range(1, len(TEXTS) + 1)]
    # A neutralised CR or tab still sits inside one quoted field.
    assert f'{delimiter}"\'\rx"{delimiter}' in text


async def test_plain_csv_keeps_every_value(http: httpx.AsyncClient) -> None:
    rows = _csv(await http.get(f"{ROWS}.csv?id__gte=1"))
    assert [row[1] for row in rows[1:]] == TEXTS
    assert [row[2] for row in rows[1:]] == [str(-n) for n in range(1, len(TEXTS) + 1)]


@pytest.mark.parametrize("query", ["", "?_dl=1"])
async def test_published_csv_is_the_released_file(http: httpx.AsyncClient, query: str) -> None:
    response = await http.get(f"{ROWS}.csv{query}")
    assert response.status_code == 200
    assert response.content == PUBLISHED.encode("utf-8")


# Workbook row limit --------------------------------------------------------------------------


async def test_workbook_over_the_limit_is_a_413_with_the_csv_url(small: httpx.AsyncClient) -> None:
    response = await small.get(f"{ROWS}.xlsx?_dl=1")
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert problem_body(response) == {
        "type": "/problems/export-too-large",
        "title": "Export too large",
        "status": 413,
        "detail": (
            f"{len(TEXTS)} rows match; an Excel download holds at most 5 rows."
            " Filter further, or download the same rows as CSV from csv_url."
        ),
        "instance": f"{ROWS}.xlsx",
        "max_rows": 5,
        "csv_url": f"{BASE_URL}{ROWS}.csv?_dl=1",
    }
    csv_rows = _csv(await small.get(response.json()["csv_url"]))
    assert len(csv_rows) == len(TEXTS) + 1


async def test_filtered_workbook_over_the_limit_is_refused_by_a_bounded_count(
    small: httpx.AsyncClient,
) -> None:
    response = await small.get(
        "/v1/datasets/safety/latest/cells", params={"amount__lt": "0"}, headers={"Accept": XLSX}
    )
    assert response.status_code == 413
    body = response.json()
    assert body["detail"] == (
        "more than 5 rows match; an Excel download holds at most 5 rows."
        " Filter further, or download the same rows as CSV from csv_url."
    )
    assert body["csv_url"] == f"{BASE_URL}{ROWS}.csv?amount__lt=0"
    assert len(_csv(await small.get(body["csv_url"]))) == len(TEXTS) + 1


@pytest.mark.parametrize(("query", "count"), [("id__lte=5", 5), ("id__lte=2", 2)])
async def test_workbook_at_or_under_the_limit_is_served(
    small: httpx.AsyncClient, query: str, count: int
) -> None:
    response = await small.get(f"{ROWS}.xlsx?{query}")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content))["cells"]
    assert [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)] == list(
        range(1, count + 1)
    )


def test_limit_above_what_excel_holds_is_refused() -> None:
    with pytest.raises(ValueError, match="1048575"):
        Settings(xlsx_max_rows=1_048_576)
    assert Settings(xlsx_max_rows=1_048_575).xlsx_max_rows == 1_048_575
    assert Settings().xlsx_max_rows == 100_000


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# Validation warnings -------------------------------------------------------------------------


def test_validation_warns_about_formula_like_text_without_failing(tmp_path: Path) -> None:
    outcome = validate_release(_write(tmp_path / "datasets"))
    assert outcome.valid
    expected = [
        FormulaLike("cells", row, name, value)
        for row, text in enumerate(TEXTS, 2)
        if text in DANGEROUS
        for name, value in (("text", text), ("tags", f"{text};b"))
    ]
    assert list(outcome.formula_like) == expected
    assert outcome.formula_like_count == len(expected)


def test_cli_validate_lists_the_first_values_and_counts_the_rest(tmp_path: Path) -> None:
    datasets = tmp_path / "datasets"
    many = "id,text\r\n" + "".join(f"{n},-{n}\r\n" for n in range(1, 26))
    schema = {"fields": [field("id", "integer"), field("text")], "primaryKey": ["id"]}
    write_release(datasets, "many", "1.0.0", {"cells": (schema, many)})
    result = CliRunner().invoke(cli, ["validate", "--datasets", str(datasets)])
    assert result.exit_code == 0, result.output
    assert "VALID" in result.output
    assert "25 text value(s) start with =, +, -, @, tab or CR" in result.output
    assert "... and 5 more" in result.output
    lines = [line.split() for line in result.output.splitlines()]
    listed = [line for line in lines if line[:1] == ["cells"]]
    assert listed[0] == ["cells", "2", "text", "'-1'"]
    assert len(listed) == 20
    report = CliRunner().invoke(cli, ["validate", "--json", "--datasets", str(datasets)])
    assert report.exit_code == 0
    found = json.loads(report.output)[0]["formula_like"]
    assert found["count"] == 25
    assert found["first"][0] == {"resource": "cells", "row": 2, "field": "text", "value": "-1"}
