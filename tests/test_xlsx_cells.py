"""Excel workbooks read back typed: dates as dates, numbers numbers, text text, links links.

A sheet also opens ready to read: the header row frozen, a filter on every column, columns sized.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import AsyncIterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook
from openpyxl.cell.cell import Cell
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from api.config import Settings
from api.model import FieldSpec
from api.render.xlsx import MAX_LINKS, MAX_WIDTH, xlsx_bytes
from tests.builders import field, write_release
from tests.helpers import BASE_URL, DATASETS, FLAGSHIP, MakeDatabase, app_client, load_releases

pytestmark = pytest.mark.anyio

SCHEMA: dict[str, Any] = {
    "fields": [
        field("id", "integer"),
        field("day", "date"),
        field("moment", "datetime"),
        field("amount", "number"),
        field("label"),
        field("link", format="uri"),
        field("homepage"),  # a web address in a plain string field is text, not a link
    ],
    "primaryKey": ["id"],
}
LONG = "a long label " * 10
ROWS = [
    ["1", "2025-07-17", "2025-07-17T08:30:00Z", "1.5", "Raid", "https://example.org/a?b=1&c=2",
     "https://example.org/home"],
    ["2", "1899-12-31", "2025-07-18T10:00:00+07:00", "-2", "=1+1", "http://example.org/b", ""],
    ["3", "", "", "", "", "mailto:press@example.org", ""],
    ["4", "2025-01-01", "2025-01-01T00:00:00", "0", LONG, "ftp://example.org/file", ""],
    ["5", "1900-01-01", "1900-01-01T12:00:00", "7", "x", "javascript:alert(1)", ""],
]  # fmt: skip
PATH = "/v1/datasets/cells/1.0.0/events"
ABOUT = ["dataset", "package", "version", "licence", "source", "descriptor", "filters", "citation"]


def _published() -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([f["name"] for f in SCHEMA["fields"]])
    writer.writerows(ROWS)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def loaded(
    backend: str, make_database: MakeDatabase, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, Path]:
    """The `cells` package loaded into a database of each backend, once."""
    datasets = tmp_path_factory.mktemp("cells") / "datasets"
    write_release(datasets, "cells", "1.0.0", {"events": (SCHEMA, _published())})
    url = make_database(backend)
    load_releases(url, datasets)
    return url, datasets


@pytest.fixture
async def http(loaded: tuple[str, Path]) -> AsyncIterator[httpx.AsyncClient]:
    url, datasets = loaded
    settings = Settings(database_url=url, base_url=BASE_URL, datasets_dir=datasets)
    async with app_client(settings) as client:
        yield client


async def _sheet(client: httpx.AsyncClient, path: str, name: str) -> tuple[Worksheet, Worksheet]:
    response = await client.get(path)
    assert response.status_code == 200, response.text
    workbook = load_workbook(io.BytesIO(response.content))
    assert workbook.sheetnames == [name, "about"]
    return workbook[name], workbook["about"]


def _column(sheet: Worksheet, letter: str) -> list[Cell]:
    return [
        row[0] for row in sheet.iter_rows(min_row=2, min_col=_index(letter), max_col=_index(letter))
    ]


def _index(letter: str) -> int:
    return ord(letter) - ord("A") + 1


def _typed(cell: Cell) -> tuple[str, Any, str]:
    return cell.data_type, cell.value, cell.number_format


def _target(cell: Cell) -> str | None:
    return cell.hyperlink.target if cell.hyperlink is not None else None


async def test_dates_are_excel_dates_with_a_date_format(http: httpx.AsyncClient) -> None:
    sheet, _about = await _sheet(http, f"{PATH}.xlsx", "events")
    assert [_typed(cell) for cell in _column(sheet, "B")] == [
        ("d", datetime(2025, 7, 17), "yyyy-mm-dd"),
        ("s", "1899-12-31", "General"),  # before Excel's first day: ISO text, not ####
        ("n", None, "General"),
        ("d", datetime(2025, 1, 1), "yyyy-mm-dd"),
        ("d", datetime(1900, 1, 1), "yyyy-mm-dd"),
    ]
    assert [_typed(cell) for cell in _column(sheet, "C")] == [
        ("d", datetime(2025, 7, 17, 8, 30), "yyyy-mm-dd hh:mm:ss"),
        ("d", datetime(2025, 7, 18, 3, 0), "yyyy-mm-dd hh:mm:ss"),  # stored in UTC
        ("n", None, "General"),
        ("d", datetime(2025, 1, 1), "yyyy-mm-dd hh:mm:ss"),
        ("d", datetime(1900, 1, 1, 12, 0), "yyyy-mm-dd hh:mm:ss"),
    ]
    assert all(cell.is_date for cell in _column(sheet, "C") if cell.value is not None)


async def test_numbers_are_numbers_and_text_is_text(http: httpx.AsyncClient) -> None:
    sheet, _about = await _sheet(http, f"{PATH}.xlsx", "events")
    assert [(c.data_type, c.value) for c in _column(sheet, "A")] == [("n", n) for n in range(1, 6)]
    assert [(c.data_type, c.value) for c in _column(sheet, "D")] == [
        ("n", 1.5), ("n", -2), ("n", None), ("n", 0), ("n", 7)
    ]  # fmt: skip
    assert [(c.data_type, c.value) for c in _column(sheet, "E")] == [
        ("s", "Raid"), ("s", "=1+1"), ("n", None), ("s", LONG), ("s", "x")
    ]  # fmt: skip


async def test_web_addresses_of_uri_fields_are_links(http: httpx.AsyncClient) -> None:
    sheet, _about = await _sheet(http, f"{PATH}.xlsx", "events")
    links = _column(sheet, "F")
    assert [(c.data_type, c.value) for c in links] == [("s", row[5]) for row in ROWS]
    assert [_target(c) for c in links] == [
        "https://example.org/a?b=1&c=2", "http://example.org/b", None, None, None
    ]  # fmt: skip
    assert [c.font.u for c in links] == ["single", "single", None, None, None]
    assert [_target(c) for c in _column(sheet, "G")] == [None] * len(ROWS)


async def test_a_link_is_never_a_formula(http: httpx.AsyncClient) -> None:
    response = await http.get(f"{PATH}.xlsx")
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        names = archive.namelist()
        sheets = [archive.read(n).decode() for n in names if n.startswith("xl/worksheets/")]
    assert not any("<f>" in text or "<f " in text or "HYPERLINK(" in text for text in sheets)
    assert sum(text.count("<hyperlink ") for text in sheets) == 2  # the sheet's own links
    workbook = load_workbook(io.BytesIO(response.content))
    cells = [c for sheet in workbook.worksheets for row in sheet.iter_rows() for c in row]
    assert [c.coordinate for c in cells if c.data_type == "f"] == []


async def test_sheet_opens_with_the_header_frozen_a_filter_and_sized_columns(
    http: httpx.AsyncClient,
) -> None:
    sheet, _about = await _sheet(http, f"{PATH}.xlsx", "events")
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:G{len(ROWS) + 1}"
    widths = {letter: sheet.column_dimensions[letter].width for letter in "ABCDEFG"}
    assert widths == {
        "A": 6,  # the narrowest: a short header and small numbers
        "B": len("yyyy-mm-dd") + 1,
        "C": len("yyyy-mm-dd hh:mm:ss") + 1,
        "D": len("amount") + 3,  # the header and its filter button
        "E": MAX_WIDTH,  # a long text is capped
        "F": len("https://example.org/a?b=1&c=2") + 1,
        "G": len("https://example.org/home") + 1,
    }


async def test_projection_keeps_types_and_links_with_their_columns(
    http: httpx.AsyncClient,
) -> None:
    sheet, _about = await _sheet(http, f"{PATH}.xlsx?_col=link,day&id__lte=2", "events")
    header = [cell.value for cell in next(sheet.iter_rows(max_row=1))]
    assert header == ["day", "link"]
    assert [_typed(c) for c in _column(sheet, "A")] == [
        ("d", datetime(2025, 7, 17), "yyyy-mm-dd"), ("s", "1899-12-31", "General")
    ]  # fmt: skip
    assert [_target(c) for c in _column(sheet, "B")] == [ROWS[0][5], ROWS[1][5]]
    assert sheet.auto_filter.ref == "A1:B3"


async def test_empty_selection_still_has_its_header_filter_and_widths(
    http: httpx.AsyncClient,
) -> None:
    sheet, _about = await _sheet(http, f"{PATH}.xlsx?id__gt=100", "events")
    assert [[c.value for c in row] for row in sheet.iter_rows()] == [
        [f["name"] for f in SCHEMA["fields"]]
    ]
    assert (sheet.freeze_panes, sheet.auto_filter.ref) == ("A2", "A1:G1")
    assert sheet.column_dimensions["B"].width == len("yyyy-mm-dd") + 1


async def test_about_sheet_keeps_version_licence_source_and_citation(
    http: httpx.AsyncClient,
) -> None:
    _sheet_, about = await _sheet(http, f"{PATH}.xlsx?id__lte=2", "events")
    facts = dict(about.iter_rows(values_only=True))
    assert list(facts) == ABOUT
    assert (facts["version"], facts["licence"]) == ("1.0.0", "Creative Commons Attribution 4.0")
    assert facts["source"] == f"{BASE_URL}{PATH}.xlsx?id__lte=2"
    assert "(Version 1.0.0)" in str(facts["citation"])


# The flagship ---------------------------------------------------------------------------------

LATEST = f"/v1/datasets/{FLAGSHIP}/latest"
LATEST_VERSION = max(
    (
        path.name
        for path in (DATASETS / FLAGSHIP).iterdir()
        if (path / "datapackage.json").is_file()
    ),
    key=lambda name: tuple(int(part) for part in name.split(".")),
)
RELEASED = DATASETS / FLAGSHIP / LATEST_VERSION / "data"


def _released(resource: str) -> list[dict[str, str]]:
    with (RELEASED / f"{resource}.csv").open(encoding="utf-8", newline="") as handle:
        return sorted(csv.DictReader(handle), key=lambda row: next(iter(row.values())))


def _by_name(sheet: Worksheet) -> list[dict[str, Cell]]:
    header, *rows = sheet.iter_rows()
    names = [cell.value for cell in header]
    return [dict(zip(names, row, strict=True)) for row in rows]


async def test_flagship_report_links_and_dates(client: httpx.AsyncClient) -> None:
    sheet, about = await _sheet(client, f"{LATEST}/reports.xlsx", "reports")
    released = _released("reports")
    rows = _by_name(sheet)
    assert [r["report_id"].value for r in rows] == [r["report_id"] for r in released]
    assert [_target(r["url"]) for r in rows] == [r["url"] for r in released]
    assert [r["url"].value for r in rows] == [r["url"] for r in released]
    assert [_typed(r["published_by"]) for r in rows] == [
        ("d", datetime.combine(date.fromisoformat(r["published_by"]), datetime.min.time()),
         "yyyy-mm-dd")
        for r in released
    ]  # fmt: skip
    assert [r["published_date"].data_type for r in rows] == ["s"] * len(rows)  # partial dates
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:J{len(released) + 1}"
    assert all(sheet.column_dimensions[letter].width for letter in "ABCDEFGHIJ")
    assert dict(about.iter_rows(values_only=True))["version"] == LATEST_VERSION


async def test_flagship_figures_are_typed(client: httpx.AsyncClient) -> None:
    sheet, _about = await _sheet(
        client, f"{LATEST}/figures.xlsx?metric=suspects_detained", "figures"
    )
    released = [r for r in _released("figures") if r["metric"] == "suspects_detained"]
    rows = _by_name(sheet)
    assert [(r["value"].data_type, r["value"].value) for r in rows] == [
        ("n", int(r["value"]) if r["value"] else None) for r in released
    ]
    assert [r["as_of_date"].value for r in rows] == [
        datetime.fromisoformat(r["as_of_date"]) if r["as_of_date"] else None for r in released
    ]
    assert {r["as_of_date"].number_format for r in rows if r["as_of_date"].value} == {"yyyy-mm-dd"}
    assert sheet.auto_filter.ref == f"A1:U{len(released) + 1}"


async def test_expanded_columns_are_typed_by_their_own_table(client: httpx.AsyncClient) -> None:
    path = f"{LATEST}/figures.xlsx?metric=suspects_detained&_expand=report_id"
    sheet, _about = await _sheet(client, path, "figures")
    reports = {r["report_id"]: r for r in _released("reports")}
    rows = _by_name(sheet)
    assert rows
    for row in rows:
        report = reports[row["report_id"].value]
        assert _target(row["report_id.url"]) == report["url"]
        assert _typed(row["report_id.published_by"]) == (
            "d", datetime.fromisoformat(report["published_by"]), "yyyy-mm-dd"
        )  # fmt: skip
        assert row["report_id.title"].data_type == "s"
    header = [cell.value for cell in next(sheet.iter_rows(max_row=1))]
    assert sheet.auto_filter.ref == f"A1:{get_column_letter(len(header))}{len(rows) + 1}"
    assert len(header) == len(sheet.column_dimensions)


# Writing a workbook -----------------------------------------------------------------------------


def test_links_stop_at_the_cap_and_the_about_sheet_says_so(tmp_path: Path) -> None:
    """openpyxl keeps every link of a sheet in memory until it saves: their number is bounded."""
    link = FieldSpec("link", "string", format="uri")
    rows = ([f"https://example.org/{n}"] for n in range(MAX_LINKS + 2))
    data = xlsx_bytes(["link"], rows, sheet="links", about=[("version", "1.0.0")], fields=[link])
    (tmp_path / "links.xlsx").write_bytes(data)
    workbook = load_workbook(tmp_path / "links.xlsx")
    cells = _column(workbook["links"], "A")
    assert [c.value for c in cells] == [f"https://example.org/{n}" for n in range(MAX_LINKS + 2)]
    targets = [_target(c) for c in cells]
    assert targets == [c.value for c in cells[:MAX_LINKS]] + [None, None]
    assert dict(workbook["about"].iter_rows(values_only=True)) == {
        "version": "1.0.0",
        "links": f"the first {MAX_LINKS:,} web addresses are links, later ones text",
    }


def test_few_links_need_no_note(tmp_path: Path) -> None:
    link = FieldSpec("link", "string", format="uri")
    data = xlsx_bytes(
        ["link"], [["https://example.org/"]], sheet="links", about=[("version", "1")], fields=[link]
    )
    workbook = load_workbook(io.BytesIO(data))
    assert dict(workbook["about"].iter_rows(values_only=True)) == {"version": "1"}
