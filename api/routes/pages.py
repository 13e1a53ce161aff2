"""Human pages (with schema.org JSON-LD), the sitemap and robots.txt."""

from __future__ import annotations

from xml.etree import ElementTree

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, PlainTextResponse, Response

from api.deps import LinksDep, SnapshotDep
from api.metadata.citation import plain_citation
from api.metadata.schemaorg import catalog_jsonld, dataset_jsonld
from api.render.html import dataset_body, home_body, page

router = APIRouter(tags=["pages"], include_in_schema=False)
SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"


@router.get("/", response_class=HTMLResponse)
async def home(snapshot: SnapshotDep, links: LinksDep) -> HTMLResponse:
    """The catalog page."""
    latest = [releases[-1].info for releases in snapshot.packages.values()]
    packages = [[r.info for r in releases] for releases in snapshot.packages.values()]
    html = page(
        "Open data catalog",
        home_body(latest, links=links),
        jsonld=catalog_jsonld(packages, links=links),
    )
    return HTMLResponse(html)


@router.get("/datasets/{package}", response_class=HTMLResponse)
async def dataset_page(package: str, snapshot: SnapshotDep, links: LinksDep) -> HTMLResponse:
    """A package page: description, releases, downloads, citation."""
    releases = [r.info for r in snapshot.releases(package)]
    citation = plain_citation(releases[-1], links=links)
    html = page(
        releases[-1].title,
        dataset_body(releases, links=links, citation=citation),
        jsonld=dataset_jsonld(releases, links=links),
    )
    return HTMLResponse(html)


@router.get("/sitemap.xml")
async def sitemap(snapshot: SnapshotDep, links: LinksDep) -> Response:
    """Every human page and every pinned release descriptor."""
    root = ElementTree.Element("urlset", xmlns=SITEMAP_NS)

    def add(location: str, modified: str | None = None) -> None:
        entry = ElementTree.SubElement(root, "url")
        ElementTree.SubElement(entry, "loc").text = location
        if modified:
            ElementTree.SubElement(entry, "lastmod").text = modified

    add(links.home())
    for package, releases in snapshot.packages.items():
        latest = releases[-1].info
        add(links.page(package), latest.loaded_at.date().isoformat())
        for release in releases:
            info = release.info
            add(
                links.descriptor(package, info.version),
                info.published.isoformat() if info.published else None,
            )
    body = ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)
    return Response(body, media_type="application/xml")


@router.get("/robots.txt", response_class=PlainTextResponse)
async def robots(links: LinksDep) -> PlainTextResponse:
    """Everything may be crawled; the sitemap lists the pages."""
    return PlainTextResponse(f"User-agent: *\nAllow: /\nSitemap: {links.sitemap()}\n")
