"""Saved files keep their context: the file name says package, version, resource and selection."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.helpers import DATASETS, FLAGSHIP

pytestmark = pytest.mark.anyio
LATEST = f"/v1/datasets/{FLAGSHIP}/latest"
VERSION = max(  # what `latest` is: the name says the concrete version
    (
        path.name
        for path in (DATASETS / FLAGSHIP).iterdir()
        if (path / "datapackage.json").is_file()
    ),
    key=lambda name: tuple(int(part) for part in name.split(".")),
)
FORMATS = [".csv", ".ndjson", ".xlsx", ".json"]
# sha256 of `{"filters":[["metric","exact","suspects_detained"]],"columns":null}`, 8 digits.
SUSPECTS_DIGEST = "36a9f4d8"


async def _saved_as(client: httpx.AsyncClient, path: str) -> str | None:
    response = await client.get(path)
    assert response.status_code == 200, response.text
    disposition = response.headers.get("content-disposition")
    if disposition is None:
        return None
    assert disposition.startswith('attachment; filename="') and disposition.endswith('"')
    return disposition.removeprefix('attachment; filename="').removesuffix('"')


@pytest.mark.parametrize("suffix", FORMATS)
async def test_whole_table_is_named_after_package_version_and_resource(
    client: httpx.AsyncClient, suffix: str
) -> None:
    name = await _saved_as(client, f"{LATEST}/figures{suffix}?_dl=1")
    assert name == f"{FLAGSHIP}-{VERSION}-figures{suffix}"


@pytest.mark.parametrize("suffix", FORMATS)
async def test_filtered_download_says_it_is_filtered(
    client: httpx.AsyncClient, suffix: str
) -> None:
    name = await _saved_as(client, f"{LATEST}/figures{suffix}?metric=suspects_detained&_dl=1")
    assert name == f"{FLAGSHIP}-{VERSION}-figures-filtered-{SUSPECTS_DIGEST}{suffix}"


@pytest.mark.parametrize(
    "query",
    [
        "_bom=1",
        "_bom=1&_delimiter=%3B",
        "_bom=1&_dl=1",
    ],
)
async def test_excel_ready_csv_is_always_saved_as_a_named_file(
    client: httpx.AsyncClient, query: str
) -> None:
    assert await _saved_as(client, f"{LATEST}/figures.csv?{query}") == (
        f"{FLAGSHIP}-{VERSION}-figures.csv"
    )
    filtered = await _saved_as(client, f"{LATEST}/figures.csv?metric=suspects_detained&{query}")
    assert filtered == f"{FLAGSHIP}-{VERSION}-figures-filtered-{SUSPECTS_DIGEST}.csv"


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("", "figures.xlsx"),
        ("?metric=suspects_detained", f"figures-filtered-{SUSPECTS_DIGEST}.xlsx"),
    ],
)
async def test_workbook_is_always_saved_as_a_named_file(
    client: httpx.AsyncClient, query: str, name: str
) -> None:
    assert (
        await _saved_as(client, f"{LATEST}/figures.xlsx{query}") == f"{FLAGSHIP}-{VERSION}-{name}"
    )


async def test_workbook_by_accept_header_is_named_too(client: httpx.AsyncClient) -> None:
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    response = await client.get(f"{LATEST}/countries", headers={"Accept": xlsx})
    assert response.headers["content-disposition"] == (
        f'attachment; filename="{FLAGSHIP}-{VERSION}-countries.xlsx"'
    )


@pytest.mark.parametrize("suffix", [".csv", ".ndjson", ".json", ""])
async def test_data_for_programs_is_not_an_attachment_unless_asked(
    client: httpx.AsyncClient, suffix: str
) -> None:
    assert await _saved_as(client, f"{LATEST}/figures{suffix}?metric=suspects_detained") is None


@pytest.mark.parametrize(
    "spellings",
    [
        ["metric=suspects_detained", "metric__exact=suspects_detained"],
        [
            "metric=suspects_detained&value__gte=1000",
            "value__gte=01000&metric=suspects_detained",
            "value__gte=1000&_sort=-as_of&metric=suspects_detained",
        ],
        ["qualifier__in=more_than,at_least", "qualifier__in=at_least,more_than"],
        ["_col=figure_id,metric", "_col=metric&_col=figure_id", "_col=metric,figure_id,metric"],
        [
            "_expand=report_id",
            "_expand=report_id&_expand=report_id",
            "_expand=report_id&_sort=value",
        ],
    ],
    ids=["exact", "order-and-number-spelling", "in-list-order", "columns", "expand"],
)
async def test_same_selection_gives_the_same_name_however_it_is_spelled(
    client: httpx.AsyncClient, spellings: list[str]
) -> None:
    names = {await _saved_as(client, f"{LATEST}/figures.csv?{q}&_dl=1") for q in spellings}
    [name] = names
    assert name is not None and "-filtered-" in name


async def test_different_selections_give_different_names(client: httpx.AsyncClient) -> None:
    queries = [
        "metric=suspects_detained",
        "metric=foreigners_deported",
        "metric__not=suspects_detained",
        "metric=suspects_detained&value__gte=1000",
        "_col=figure_id,metric",
        "_nocol=notes",
        "metric=suspects_detained&_col=figure_id,metric",
        "_expand=report_id",
        "_expand=report_id&_col=report_id.title",
    ]
    names = [await _saved_as(client, f"{LATEST}/figures.csv?{q}&_dl=1") for q in queries]
    assert len(set(names)) == len(queries)
    assert all(
        name and name.startswith(f"{FLAGSHIP}-{VERSION}-figures-filtered-") for name in names
    )


def _figure_columns() -> list[str]:
    descriptor = json.loads((DATASETS / FLAGSHIP / VERSION / "datapackage.json").read_text())
    [figures] = [r for r in descriptor["resources"] if r["name"] == "figures"]
    return [f["name"] for f in figures["schema"]["fields"]]


@pytest.mark.parametrize("query", ["_sort=-as_of", "_col={all}", "_col={all}&_sort=value"])
async def test_whole_table_in_another_order_is_not_filtered(
    client: httpx.AsyncClient, query: str
) -> None:
    query = query.format(all=",".join(reversed(_figure_columns())))
    name = await _saved_as(client, f"{LATEST}/figures.xlsx?{query}")
    assert name == f"{FLAGSHIP}-{VERSION}-figures.xlsx"


async def test_the_same_filter_names_files_of_every_release_alike(
    client: httpx.AsyncClient,
) -> None:
    older = await _saved_as(
        client, f"/v1/datasets/{FLAGSHIP}/1.2.0/figures.csv?metric=suspects_detained&_dl=1"
    )
    assert older == f"{FLAGSHIP}-1.2.0-figures-filtered-{SUSPECTS_DIGEST}.csv"
