"""The table view and the row page: the rows API's query string on a page (both backends).

Expected rows are read from the released CSV files, never from the code under test.
"""

from __future__ import annotations

import csv
import html
import re
import uuid
from collections import Counter
from collections.abc import AsyncIterator

import httpx
import pytest

from api.config import Settings
from tests.helpers import BASE_URL, DATASETS, FLAGSHIP, app_client, serving
from tests.test_pages import CHARTS, TALLY, rows_of

pytestmark = pytest.mark.anyio

DATA = DATASETS / FLAGSHIP / "1.3.0" / "data"
TABLE = f"/datasets/{FLAGSHIP}/1.3.0/figures"
ROW_HEADER = re.compile(r'<th scope="row"><a href="http://testserver[^"]+/([^"/]+)">')


@pytest.fixture
async def tally(backend: str, make_database: object) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(make_database(backend), CHARTS) as client:  # type: ignore[operator]
        yield client


def selection_link(page: str, label: str) -> str:
    found = re.search(rf'<a class="button" href="http://testserver([^"]+)">{label}</a>', page)
    assert found, label
    return html.unescape(found.group(1))


async def test_filtered_table_lists_the_csv_rows_with_report_titles_and_sources(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get(TABLE, params={"metric": "foreigners_deported", "nationality": "KR"})
    assert page.status_code == 200
    expected = [
        r
        for r in rows_of(DATA / "figures.csv")
        if r["metric"] == "foreigners_deported" and r["nationality"] == "KR"
    ]
    assert expected
    assert ROW_HEADER.findall(page.text) == sorted(r["figure_id"] for r in expected)
    assert f"<strong>{len(expected)}</strong> row" in page.text
    reports = {r["report_id"]: r for r in rows_of(DATA / "reports.csv")}
    for row in expected:
        report = reports[row["report_id"]]
        assert f">{html.escape(report['title'])}</a> <code>{row['report_id']}</code>" in page.text
        assert f'href="{html.escape(report["url"])}" rel="external">source</a>' in page.text
    # The selection downloads carry exactly the filters: the CSV link gives the same rows.
    download = await client.get(selection_link(page.text, "CSV"))
    assert download.status_code == 200
    ids = [r["figure_id"] for r in csv.DictReader(download.text.splitlines())]
    assert sorted(ids) == sorted(r["figure_id"] for r in expected)
    api = selection_link(page.text, "API URL")
    assert api == f"/v1/datasets/{FLAGSHIP}/1.3.0/figures?metric=foreigners_deported&nationality=KR"


async def test_a_bad_filter_shows_every_problem_on_the_page_with_400(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get(TABLE, params={"metric__bogus": "1", "value": "abc"})
    assert page.status_code == 400
    assert page.headers["content-type"].startswith("text/html")
    assert 'role="alert"' in page.text
    problems = page.text[page.text.index('role="alert"') : page.text.index("</ul>")]
    assert "<code>metric__bogus</code>" in problems and "<code>value</code>" in problems
    # The form stays, so the reader can correct the query.
    assert '<form method="get"' in page.text and 'value="abc"' in page.text


async def test_form_submission_lands_on_the_url_the_api_takes(tally: httpx.AsyncClient) -> None:
    base = "/datasets/tally/1.0.0/totals"
    form = [("op.value", "gte"), ("value", "1000"), ("op.metric", "exact"), ("metric", "")]
    response = await tally.get(base, params=form)
    assert response.status_code == 303
    assert response.headers["location"] == f"http://testserver{base}?value__gte=1000"
    page = await tally.get(response.headers["location"])
    expected = [
        r["figure_id"] for r in rows_of(TALLY / "data" / "totals.csv") if int(r["value"]) >= 1000
    ]
    assert ROW_HEADER.findall(page.text) == sorted(expected)
    # Each column offers only the operators of its type, and the enum a drop-down.
    assert '<option value="gte" selected>gte</option>' in page.text
    metric = page.text[page.text.index('name="op.metric"') :]
    assert "icontains" in metric[: metric.index("</select>")]
    value = page.text[page.text.index('name="op.value"') :]
    assert "icontains" not in value[: value.index("</select>")]
    assert '<select id="v-scope" name="scope">' in page.text


async def test_sort_facets_and_cursor_paging(tally: httpx.AsyncClient) -> None:
    base = "/datasets/tally/1.0.0/totals"
    rows = rows_of(TALLY / "data" / "totals.csv")
    page = await tally.get(base, params={"_sort": "-value"})
    assert '<th scope="col" aria-sort="descending">' in page.text
    by_value = [r["figure_id"] for r in sorted(rows, key=lambda r: -int(r["value"]))]
    assert ROW_HEADER.findall(page.text) == by_value
    # Facets beside the table: the enum columns by default, counted like the CSV.
    facets = page.text[page.text.index('<aside class="facets"') :]
    for scope, count in Counter(r["scope"] for r in rows).items():
        assert f"{scope}</a> {count}</li>" in facets
    # Cursor paging: the pages together are every row, once.
    seen: list[str] = []
    url: str | None = f"{base}?_size=2&_sort=figure_id"
    while url:
        page = await tally.get(url)
        seen += ROW_HEADER.findall(page.text)
        found = re.search(r'<a href="http://testserver([^"]+)" rel="next">', page.text)
        url = html.unescape(found.group(1)) if found else None
    assert seen == sorted(r["figure_id"] for r in rows)


async def test_table_pages_send_etags_on_pinned_versions_and_answer_head(
    tally: httpx.AsyncClient,
) -> None:
    pinned = await tally.get("/datasets/tally/1.0.0/totals")
    etag = pinned.headers["etag"]
    assert "immutable" in pinned.headers["cache-control"]
    again = await tally.get("/datasets/tally/1.0.0/totals", headers={"If-None-Match": etag})
    assert again.status_code == 304
    latest = await tally.get("/datasets/tally/latest/totals")
    assert latest.headers["content-location"] == "/datasets/tally/1.0.0/totals"
    head = await tally.head("/datasets/tally/1.0.0/totals/f1")
    assert head.status_code == 200 and head.content == b"" and head.headers["etag"]


async def test_row_page_links_along_foreign_keys_both_ways(client: httpx.AsyncClient) -> None:
    report = "freshnews_20251018"
    page = await client.get(f"/datasets/{FLAGSHIP}/1.3.0/reports/{report}")
    assert page.status_code == 200
    row = next(r for r in rows_of(DATA / "reports.csv") if r["report_id"] == report)
    assert html.escape(row["title"]) in page.text
    figures = [r["figure_id"] for r in rows_of(DATA / "figures.csv") if r["report_id"] == report]
    section = page.text[page.text.index("Rows of <code>figures</code>") :]
    assert f"({len(figures)})" in section[:200]
    for figure in figures:
        assert f'/datasets/{FLAGSHIP}/1.3.0/figures/{figure}"' in section
    assert "Cite" in page.text and f"/v1/datasets/{FLAGSHIP}/1.3.0/reports/{report}" in page.text
    figure = await client.get(f"/datasets/{FLAGSHIP}/1.3.0/figures/{figures[0]}")
    assert f'href="http://testserver/datasets/{FLAGSHIP}/1.3.0/reports/{report}"' in figure.text
    missing = await client.get(f"/datasets/{FLAGSHIP}/1.3.0/reports/no-such-report")
    assert missing.status_code == 404 and "<h1>Not found</h1>" in missing.text
    unknown = await client.get(f"/datasets/{FLAGSHIP}/1.3.0/no-such-resource")
    assert unknown.status_code == 404 and unknown.headers["content-type"].startswith("text/html")


def _unmatched() -> str:
    """A value no row holds and no other request used: its count is never cached already."""
    return f"none-{uuid.uuid4().hex}"


async def test_the_table_counts_exactly_past_the_count_cap(flagship_url: str) -> None:
    settings = Settings(
        database_url=flagship_url, base_url=BASE_URL, datasets_dir=DATASETS, count_budget_rows=3
    )
    figures = len(rows_of(DATA / "figures.csv"))
    async with app_client(settings) as http:
        page = await http.get(TABLE, params={"metric__not": _unmatched()})
        assert f"<strong>{figures:,}</strong> rows where" in page.text
        # The API's default stays bounded; the page asks for the exact count.
        api = await http.get(f"/v1/datasets/{FLAGSHIP}/1.3.0/figures?metric__not={_unmatched()}")
        assert (api.json()["total"], api.json()["total_is_exact"]) == (3, False)
        bounded = await http.get(TABLE, params={"metric__not": _unmatched(), "_count": "bounded"})
        assert "More than <strong>3</strong> rows where" in bounded.text
        uncounted = await http.get(TABLE, params={"metric__not": _unmatched(), "_count": "none"})
        assert '<p class="summary">Rows where' in uncounted.text


async def test_an_exact_count_past_its_time_says_more_than_the_cap(
    flagship_url: str, backend: str
) -> None:
    if backend != "sqlite":
        pytest.skip("PostgreSQL limits whole milliseconds; the flagship's counts finish sooner")
    settings = Settings(
        database_url=flagship_url,
        base_url=BASE_URL,
        datasets_dir=DATASETS,
        count_budget_rows=3,
        page_count_seconds=1e-9,
    )
    async with app_client(settings) as http:
        page = await http.get(TABLE, params={"metric__not": _unmatched()})
        assert page.status_code == 200
        assert "More than <strong>3</strong> rows where" in page.text
        assert len(ROW_HEADER.findall(page.text)) == 50  # the rows themselves are all there


async def test_an_expanded_column_is_shown_but_not_offered_as_a_sort(
    client: httpx.AsyncClient,
) -> None:
    metric = "suspects_referred_to_court"
    params = {"_expand": "report_id", "_col": "report_id.publisher", "metric": metric}
    page = await client.get(TABLE, params=params)
    assert page.status_code == 200
    headers = re.findall(r'<th scope="col"[^>]*>(.*?)</th>', page.text)
    assert headers[-1] == "report_id.publisher"
    assert all(header.startswith("<a href=") for header in headers[:-1])
    reports = {r["report_id"]: r for r in rows_of(DATA / "reports.csv")}
    expected = {
        reports[r["report_id"]]["publisher"]
        for r in rows_of(DATA / "figures.csv")
        if r["metric"] == metric
    }
    assert expected
    for publisher in expected:
        assert f"<td>{html.escape(publisher)}</td>" in page.text
