"""The pages for people: catalog, package page, charts, embed, sitemap, 404 pages (both backends).

Expected counts are read from the released CSV files, never from the code under test.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.helpers import DATASETS, FLAGSHIP, ROOT, serving

pytestmark = pytest.mark.anyio

CHARTS = ROOT / "tests" / "fixtures" / "charts"
TALLY = CHARTS / "tally" / "1.0.0"
FLAGSHIP_VIEW = {
    "name": "running-totals",
    "title": "Running totals of the campaign",
    "resources": ["running_totals"],
    "specType": "x-points",
    "spec": {
        "x": "as_of_date",
        "y": "value",
        "series": "metric",
        "qualifier": "qualifier",
        "filter": "metric__in=suspects_detained,foreigners_deported,locations_inspected",
    },
}
MARKER = re.compile(
    r'<a href="([^"]+)" class="marker marker-(\w+)"><(?:circle|path)[^>]*><title>([^<]*)</title>'
)


def rows_of(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture
async def tally(backend: str, make_database: object) -> AsyncIterator[httpx.AsyncClient]:
    """The small package that declares a chart, served from a fresh database."""
    async with serving(make_database(backend), CHARTS) as client:  # type: ignore[operator]
        yield client


@pytest.fixture
async def flagship_with_view(
    backend: str, make_database: object, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    """The flagship's latest release, copied with a chart declaration (as 1.3.1 would add it)."""
    target = tmp_path / "datasets" / FLAGSHIP / "1.3.0"
    shutil.copytree(DATASETS / FLAGSHIP / "1.3.0", target)
    descriptor = json.loads((target / "datapackage.json").read_text(encoding="utf-8"))
    descriptor["views"] = [FLAGSHIP_VIEW]
    (target / "datapackage.json").write_text(json.dumps(descriptor), encoding="utf-8")
    async with serving(make_database(backend), tmp_path / "datasets") as client:  # type: ignore[operator]
        yield client


async def test_catalog_lists_packages_and_filters_with_a_get_form(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/")
    assert page.status_code == 200
    assert '<form method="get"' in page.text and '<label for="q">' in page.text
    assert f'href="http://testserver/datasets/{FLAGSHIP}"' in page.text
    assert "1.3.0" in page.text and "Creative Commons Attribution 4.0" in page.text
    total = sum(len(rows_of(p)) for p in (DATASETS / FLAGSHIP / "1.3.0" / "data").glob("*.csv"))
    assert f"{total:,} rows" in page.text
    listing = page.text[page.text.index('<ul class="packages">') :]
    assert "**" not in listing[: listing.index("</ul>")]
    found = await client.get("/", params={"q": "cambodia SCAM"})
    assert FLAGSHIP in found.text
    missing = await client.get("/", params={"q": "no such words anywhere"})
    assert (
        missing.status_code == 200
        and f'href="http://testserver/datasets/{FLAGSHIP}"' not in missing.text
    )
    assert "0 of 1 package" in missing.text


async def test_package_page_renders_markdown_fields_previews_releases_and_citations(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get(f"/datasets/{FLAGSHIP}")
    assert page.status_code == 200
    text = page.text
    description = text[text.index('<div class="description">') : text.index("</section>")]
    assert "**" not in description and "<strong>" in description
    # Every resource: a field table with a row header per field, a preview, five downloads.
    for path in sorted((DATASETS / FLAGSHIP / "1.3.0" / "data").glob("*.csv")):
        name = path.stem
        assert f'id="resource-{name}"' in text
        header = next(csv.reader(path.open(encoding="utf-8")))
        for column in header:
            assert f'<th scope="row"><code>{column}</code></th>' in text
        assert f"The first {min(5, len(rows_of(path)))} rows of {name}" in text
        for suffix in (".csv", ".csv?_bom=1&amp;_delimiter=%3B", ".xlsx", ".json", ".ndjson"):
            assert f'/v1/datasets/{FLAGSHIP}/1.3.0/{name}{suffix}"' in text, (name, suffix)
    assert text.count(">what changed</a>") == 3
    assert f"/v1/datasets/{FLAGSHIP}/diff?from=1.2.0&amp;to=1.3.0" in text
    for fmt in ("apa", "bibtex", "ris", "csl-json", "cff"):
        assert f'<pre id="citation-{fmt}"' in text
        assert f'data-copy="citation-{fmt}" hidden>' in text
    assert '<script type="application/ld+json">' in text
    assert "/data.json" in text and "/catalog.jsonld" in text and "package_show?id=" in text
    for landmark in ("<header", "<main", "<footer", "<nav"):
        assert landmark in text


async def test_download_links_of_the_page_resolve(client: httpx.AsyncClient) -> None:
    page = await client.get(f"/datasets/{FLAGSHIP}")
    links = re.findall(r'class="button" href="http://testserver([^"]+)"', page.text)
    assert len(links) == 5 * 11
    for link in links[:5]:
        response = await client.get(link.replace("&amp;", "&"))
        assert response.status_code == 200, link


async def test_raw_html_in_a_description_is_shown_as_text(tally: httpx.AsyncClient) -> None:
    page = await tally.get("/datasets/tally")
    assert "<strong>small</strong>" in page.text and "<code>code</code>" in page.text
    assert "<b>raw html</b>" not in page.text and "&lt;b&gt;raw html&lt;/b&gt;" in page.text


async def test_declared_chart_has_one_marker_per_row_with_qualifiers_and_sources(
    tally: httpx.AsyncClient,
) -> None:
    page = await tally.get("/datasets/tally")
    assert page.status_code == 200
    expected = [r for r in rows_of(TALLY / "data" / "totals.csv") if r["scope"] == "cumulative"]
    markers = MARKER.findall(page.text)
    assert len(markers) == len(expected)
    by_id = {href.rsplit("/", 1)[1]: (shape, title) for href, shape, title in markers}
    assert set(by_id) == {r["figure_id"] for r in expected}
    # Two reports give different figures for the same date: both are drawn.
    assert by_id["f1"] == (
        "dot",
        "People detained: 1,000, as of 2025-07-01; source: Ministry statement of 1 July",
    )
    assert by_id["f2"][0] == "ring" and "approximately 1,200" in by_id["f2"][1]
    assert by_id["f3"][0] == "up" and "more than 3,500" in by_id["f3"][1]
    assert by_id["f5"][0] == "down" and "fewer than 1,500" in by_id["f5"][1]
    legend = page.text[page.text.index('<ul class="legend"') :]
    for words in (
        "People detained",
        "Foreigners deported",
        "approximately",
        "more than",
        "fewer than",
    ):
        assert words in legend[: legend.index("</ul>")]
    # The same points as a table below the chart; the headline figures come from them.
    table = page.text[page.text.index("every point of the chart") :]
    assert table[: table.index("</table>")].count("<tr>") == len(expected) + 1
    assert "3,500" in page.text[page.text.index('<dl class="headline">') :]


async def test_flagship_chart_has_one_marker_per_running_total(
    flagship_with_view: httpx.AsyncClient,
) -> None:
    page = await flagship_with_view.get(f"/datasets/{FLAGSHIP}")
    wanted = {"suspects_detained", "foreigners_deported", "locations_inspected"}
    csv_rows = rows_of(DATASETS / FLAGSHIP / "1.3.0" / "data" / "running_totals.csv")
    expected = [r for r in csv_rows if r["metric"] in wanted]
    markers = MARKER.findall(page.text)
    assert len(markers) == len(expected) > 0
    reports = {
        r["report_id"]: r["title"]
        for r in rows_of(DATASETS / FLAGSHIP / "1.3.0" / "data" / "reports.csv")
    }
    titles = {href.rsplit("/", 1)[1]: title for href, _shape, title in markers}
    for row in expected:
        assert reports[row["report_id"]] in titles[row["figure_id"]].replace("&#39;", "'").replace(
            "&amp;", "&"
        )
    qualified = [r["figure_id"] for r in expected if r["qualifier"] not in ("", "exact")]
    shapes = {href.rsplit("/", 1)[1]: shape for href, shape, _title in markers}
    assert qualified and all(shapes[f] != "dot" for f in qualified)


async def test_embed_is_frameable_with_source_and_licence(tally: httpx.AsyncClient) -> None:
    embed = await tally.get("/embed/tally/running-totals")
    assert embed.status_code == 200
    assert "x-frame-options" not in embed.headers
    assert "frame-ancestors *" in embed.headers["content-security-policy"]
    assert "Creative Commons Attribution 4.0" in embed.text and "Tally of a campaign" in embed.text
    assert len(MARKER.findall(embed.text)) == 5
    page = await tally.get("/datasets/tally")
    assert page.headers["x-frame-options"] == "DENY"
    svg = await tally.get("/datasets/tally/charts/running-totals.svg")
    assert svg.status_code == 200 and svg.headers["content-type"] == "image/svg+xml"
    assert svg.text.count('class="marker ') == 5
    missing = await tally.get("/embed/tally/no-such-view")
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")


async def test_pages_answer_head_and_404_with_a_page(client: httpx.AsyncClient) -> None:
    for path in ("/", f"/datasets/{FLAGSHIP}"):
        head = await client.head(path)
        assert head.status_code == 200 and head.content == b""
        assert head.headers["content-type"].startswith("text/html")
    missing = await client.get("/datasets/no-such-package")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("text/html")
    assert "<h1>Not found</h1>" in missing.text and "no-such-package" in missing.text


async def test_sitemap_lists_the_new_pages(tally: httpx.AsyncClient) -> None:
    sitemap = (await tally.get("/sitemap.xml")).text
    assert "<loc>http://testserver/embed/tally/running-totals</loc>" in sitemap
    for name in ("reports", "metrics", "totals"):
        assert f"<loc>http://testserver/datasets/tally/1.0.0/{name}</loc>" in sitemap
