"""The pages for people: catalog, package page, charts, embed, sitemap, 404 pages (both backends).

Expected counts are read from the released CSV files, never from the code under test.
"""

from __future__ import annotations

import csv
import json
import re
import struct
from collections.abc import AsyncIterator
from pathlib import Path
from xml.etree import ElementTree

import httpx
import pytest

from tests.helpers import DATASETS, FLAGSHIP, ROOT, serving

pytestmark = pytest.mark.anyio

CHARTS = ROOT / "tests" / "fixtures" / "charts"
TALLY = CHARTS / "tally" / "1.0.0"
LATEST = DATASETS / FLAGSHIP / "1.3.1"  # the release that declares the chart
SERIES = {"suspects_detained", "foreigners_deported", "locations_inspected"}
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


async def test_catalog_lists_packages_and_filters_with_a_get_form(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/")
    assert page.status_code == 200
    assert '<form method="get"' in page.text and '<label for="q">' in page.text
    assert f'href="http://testserver/datasets/{FLAGSHIP}"' in page.text
    assert LATEST.name in page.text and "Creative Commons Attribution 4.0" in page.text
    total = sum(len(rows_of(p)) for p in (LATEST / "data").glob("*.csv"))
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
    for path in sorted((LATEST / "data").glob("*.csv")):
        name = path.stem
        assert f'id="resource-{name}"' in text
        header = next(csv.reader(path.open(encoding="utf-8")))
        for column in header:
            assert f'<th scope="row"><code>{column}</code></th>' in text
        assert f"The first {min(5, len(rows_of(path)))} rows of {name}" in text
        for suffix in (".csv", ".csv?_bom=1&amp;_delimiter=%3B", ".xlsx", ".json", ".ndjson"):
            assert f'/v1/datasets/{FLAGSHIP}/{LATEST.name}/{name}{suffix}"' in text, (name, suffix)
    assert text.count(">what changed</a>") == 4
    assert f"/datasets/{FLAGSHIP}/diff?from=1.2.0&amp;to=1.3.0" in text
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


def charted_figures() -> list[dict[str, str]]:
    """The figures the flagship's chart draws, read from the released CSV: cumulative campaign
    totals of the three series with no nationality or sex breakdown, restatements and source
    errors left out."""
    return [
        r
        for r in rows_of(LATEST / "data" / "figures.csv")
        if r["metric"] in SERIES
        and r["scope"] == "cumulative_campaign"
        and r["nationality"] == r["sex"] == r["restates"] == ""
        and r["value_status"] == "as_reported"
    ]


async def test_flagship_chart_has_one_marker_per_charted_figure(
    client: httpx.AsyncClient,
) -> None:
    descriptor = json.loads((LATEST / "datapackage.json").read_text(encoding="utf-8"))
    assert [v["name"] for v in descriptor["views"]] == ["running-totals"]
    page = await client.get(f"/datasets/{FLAGSHIP}")
    expected = charted_figures()
    markers = MARKER.findall(page.text)
    assert len(markers) == len(expected) > 0
    by_id = {href.rsplit("/", 1)[1]: (shape, title) for href, shape, title in markers}
    assert set(by_id) == {r["figure_id"] for r in expected}
    assert all(
        href.startswith(f"http://testserver/datasets/{FLAGSHIP}/{LATEST.name}/figures/")
        for href, _shape, _title in markers
    )
    reports = {r["report_id"]: r["title"] for r in rows_of(LATEST / "data" / "reports.csv")}
    for row in expected:
        title = by_id[row["figure_id"]][1].replace("&#39;", "'").replace("&amp;", "&")
        assert reports[row["report_id"]] in title
        assert f"{int(row['value']):,}" in title and row["as_of_date"] in title
    # Conflicting figures of one date are both drawn: 3,075 (CCOS) and about 3,000 (ASEAN NOW)
    # detained as of 22 July 2025.
    same_day = [
        r["figure_id"]
        for r in expected
        if (r["metric"], r["as_of_date"]) == ("suspects_detained", "2025-07-22")
    ]
    assert sorted(same_day) == ["aseannow_3000-01", "ppp_ann_3075-03"]
    assert by_id["ppp_ann_3075-03"][0] == "dot" and by_id["aseannow_3000-01"][0] == "ring"
    # Every qualifier is marked: exact figures as dots, bounds as triangles, others hollow.
    shapes = {"exact": "dot", "approximately": "ring", "more_than": "up", "fewer_than": "down"}
    for row in expected:
        assert by_id[row["figure_id"]][0] == shapes[row["qualifier"]], row["figure_id"]
    assert {r["qualifier"] for r in expected} >= {"exact", "approximately", "more_than"}


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


PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def png_size(body: bytes) -> tuple[int, int]:
    """The width and height in a PNG's IHDR chunk (the first, right after the signature)."""
    assert body[:8] == PNG_MAGIC and body[12:16] == b"IHDR"
    return struct.unpack(">II", body[16:24])


async def test_each_chart_downloads_as_png_and_svg(tally: httpx.AsyncClient) -> None:
    page = await tally.get("/datasets/tally")
    embed = await tally.get("/embed/tally/running-totals")
    base = "http://testserver/datasets/tally/charts/running-totals"
    for fmt in ("png", "svg"):
        assert f'<a href="{base}.{fmt}" download>' in page.text
        assert f'<a href="{base}.{fmt}" download>' in embed.text
    png = await tally.get("/datasets/tally/charts/running-totals.png")
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert 'filename="tally-running-totals.png"' in png.headers["content-disposition"]
    svg = await tally.get("/datasets/tally/charts/running-totals.svg")
    root = ElementTree.fromstring(svg.content)
    width, height = int(root.attrib["width"]), int(root.attrib["height"])
    # Drawn at twice the SVG's size, so the PNG stays sharp on dense screens and in print.
    assert png_size(png.content) == (2 * width, 2 * height)
    assert width >= 600 and height >= 400
    # The file holds the title, the legend and the source with its licence, not the plot alone.
    assert "Running totals of the campaign" in svg.text and "approximately (hollow)" in svg.text
    assert "version 1.0.0" in svg.text and "Creative Commons Attribution 4.0" in svg.text
    for response in (png, svg):
        etag = response.headers["etag"]
        again = await tally.get(str(response.url), headers={"If-None-Match": etag})
        assert (again.status_code, again.content) == (304, b"")
        head = await tally.head(str(response.url))
        assert (head.status_code, head.content) == (200, b"")
        assert head.headers["etag"] == etag
    assert png.headers["etag"] != svg.headers["etag"]
    for missing in ("running-totals.gif", "no-such-view.png"):
        answer = await tally.get(f"/datasets/tally/charts/{missing}")
        assert answer.status_code == 404 and answer.headers["content-type"].startswith("text/html")


async def test_the_flagship_chart_downloads_as_png(client: httpx.AsyncClient) -> None:
    png = await client.get(f"/datasets/{FLAGSHIP}/charts/running-totals.png")
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert png_size(png.content)[0] == 2 * 720
    svg = await client.get(f"/datasets/{FLAGSHIP}/charts/running-totals.svg")
    assert svg.text.count('class="marker ') == len(charted_figures())


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


async def test_sitemap_lists_what_changed_in_each_release(client: httpx.AsyncClient) -> None:
    sitemap = (await client.get("/sitemap.xml")).text
    pairs = [("1.0.0", "1.1.0"), ("1.1.0", "1.2.0"), ("1.2.0", "1.3.0"), ("1.3.0", "1.3.1")]
    for older, newer in pairs:
        page = f"http://testserver/datasets/{FLAGSHIP}/diff?from={older}&amp;to={newer}"
        assert f"<loc>{page}</loc>" in sitemap
