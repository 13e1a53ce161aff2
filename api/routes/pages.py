"""Human pages (with schema.org JSON-LD), their assets, the sitemap and robots.txt."""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, PlainTextResponse, Response

from api.db.releases import LoadedRelease
from api.deps import LinksDep, ServingDep, SnapshotDep
from api.errors import BadQuery, NotFound
from api.http import page_data
from api.http.page_response import html, problem_page
from api.metadata.citation import FORMATS, plain_citation, render_citation
from api.metadata.schemaorg import catalog_jsonld, dataset_jsonld
from api.metadata.urls import Links
from api.model import FieldSpec, ReleaseInfo
from api.render.charts import read_views
from api.render.html import markdown

router = APIRouter(tags=["pages"], include_in_schema=False)
SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
PAGE_CACHE = "public, max-age=300"


def _summary(info: ReleaseInfo) -> str:
    text = str(info.descriptor.get("description") or "").strip()
    return text.split("\n\n", 1)[0]


def _matches(info: ReleaseInfo, q: str) -> bool:
    words = [info.package, info.title, str(info.descriptor.get("description") or "")]
    words += [str(k) for k in info.descriptor.get("keywords") or []]
    haystack = " ".join(words).casefold()
    return all(term in haystack for term in q.casefold().split())


@router.get("/", response_class=HTMLResponse)
async def home(snapshot: SnapshotDep, links: LinksDep, q: str = "") -> HTMLResponse:
    """The catalog page, filtered by the words of `q`."""
    latest = [releases[-1].info for releases in snapshot.packages.values()]
    packages = [[r.info for r in releases] for releases in snapshot.packages.values()]
    shown = [
        {
            "package": info.package,
            "title": info.title,
            "summary": markdown(_summary(info)).striptags(),
            "version": info.version,
            "published": info.published.isoformat() if info.published else None,
            "licence": ", ".join(label for label, _url in info.licences),
            "rows": sum(r.row_count for r in info.resources),
            "resources": len(info.resources),
        }
        for info in latest
        if _matches(info, q)
    ]
    return html(
        "catalog.html",
        links=links,
        title="Open data catalog",
        packages=shown,
        total=len(latest),
        q=q,
        document=catalog_jsonld(packages, links=links),
        headers={"Cache-Control": PAGE_CACHE},
    )


def _constraints(spec: FieldSpec) -> str:
    parts = []
    for name, value in spec.constraints.items():
        if name == "enum":
            parts.append("one of " + ", ".join(str(v) for v in value))
        elif value is True:
            parts.append(name)
        else:
            parts.append(f"{name} {value}")
    return "; ".join(parts)


def _unit(spec: FieldSpec) -> str:
    raw = spec.descriptor
    return str(raw.get("unit") or raw.get("x-unit") or raw.get("unitCode") or "")


def _downloads(links: Links, info: ReleaseInfo, resource: str) -> list[tuple[str, str]]:
    csv = links.rows(info.package, info.version, resource, "csv")
    return [
        ("CSV", csv),
        ("Excel CSV (; and BOM)", f"{csv}?_bom=1&_delimiter=%3B"),
        ("XLSX", links.rows(info.package, info.version, resource, "xlsx")),
        ("JSON", links.rows(info.package, info.version, resource, "json")),
        ("NDJSON", links.rows(info.package, info.version, resource, "ndjson")),
    ]


async def _resources(serving: Any, release: LoadedRelease) -> list[dict[str, Any]]:
    links, info = serving.links, release.info
    found = []
    for resource in info.resources:
        spec = page_data.table(serving, release, resource.name)
        found.append(
            {
                "name": resource.name,
                "title": resource.title,
                "description": resource.description,
                "rows": resource.row_count,
                "table_url": links.table_page(info.package, info.version, resource.name),
                "downloads": _downloads(links, info, resource.name),
                "fields": [
                    {
                        "name": f.name,
                        "type": f.type
                        + (f" ({f.format})" if f.format and f.format != "default" else ""),
                        "description": f.description or f.title or "",
                        "constraints": _constraints(f),
                        "unit": _unit(f),
                    }
                    for f in spec.fields
                ],
                "preview": await page_data.preview(serving, spec),
            }
        )
    return found


def _harvest(links: Links, info: ReleaseInfo) -> list[tuple[str, str]]:
    return [
        ("datapackage.json (this release)", links.descriptor(info.package, info.version)),
        ("The release as a zip", links.zip(info.package, info.version)),
        ("The package in the API", links.package(info.package)),
        ("DCAT-AP catalog (JSON-LD)", links.catalog_page("jsonld")),
        ("DCAT-AP catalog (Turtle)", links.catalog_page("ttl")),
        ("DCAT-US data.json", links.data_json()),
        ("CKAN package_show", links.ckan_package(info.package)),
        ("API documentation", links.docs()),
    ]


@router.get("/datasets/{package}", response_class=HTMLResponse)
async def dataset_page(package: str, serving: ServingDep) -> HTMLResponse:
    """A package page: description, charts, resources, releases, citation, harvest links."""
    links = serving.links
    try:
        loaded = serving.snapshot.releases(package)
        release = loaded[-1]
        info = release.info
        charts = [await page_data.chart(serving, release, v) for v in read_views(info.descriptor)]
        resources = await _resources(serving, release)
    except (NotFound, BadQuery) as error:
        return problem_page(error, links)
    releases = []
    for index, rel in enumerate(reversed(loaded)):
        older = loaded[len(loaded) - index - 2] if index < len(loaded) - 1 else None
        r = rel.info
        releases.append(
            {
                "version": r.version,
                "published": r.published.isoformat() if r.published else "",
                "changelog": r.changelog or "",
                "zip": links.zip(r.package, r.version),
                "descriptor": links.descriptor(r.package, r.version),
                "diff": links.diff_page(r.package, older.info.version, r.version)
                if older
                else None,
            }
        )
    # APA as plain text: its `*` emphasis is Markdown, which a page would show literally.
    citations = [
        (
            fmt,
            plain_citation(info, links=links)
            if fmt == "apa"
            else render_citation(info, fmt, links=links),
        )
        for fmt in FORMATS
    ]
    return html(
        "dataset.html",
        links=links,
        title=info.title,
        info=info,
        charts=charts,
        resources=resources,
        releases=releases,
        citations=citations,
        harvest=_harvest(links, info),
        document=dataset_jsonld([r.info for r in loaded], links=links),
        headers={"Cache-Control": PAGE_CACHE},
    )


async def view_chart(
    serving: Any, package: str, view: str
) -> tuple[LoadedRelease, page_data.Chart]:
    """The latest release of a package and one chart it declares, drawn; NotFound if none."""
    release = serving.snapshot.releases(package)[-1]
    for candidate in read_views(release.info.descriptor):
        if candidate.name == view:
            return release, await page_data.chart(serving, release, candidate)
    raise NotFound(f"package {package!r} declares no chart {view!r}")


@router.get("/embed/{package}/{view}", response_class=HTMLResponse)
async def embed_page(package: str, view: str, serving: ServingDep) -> HTMLResponse:
    """One chart on a minimal page that other sites may frame, with its source and licence."""
    try:
        release, drawn = await view_chart(serving, package, view)
    except (NotFound, BadQuery) as error:
        return problem_page(error, serving.links)
    return html(
        "embed.html",
        links=serving.links,
        info=release.info,
        chart=drawn,
        open_table=False,
        headers={"Cache-Control": PAGE_CACHE},
    )


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
        for view in read_views(latest.descriptor):
            add(links.embed(package, view.name))
        for older, release in zip([None, *releases], releases, strict=False):
            info = release.info
            published = info.published.isoformat() if info.published else None
            add(links.descriptor(package, info.version), published)
            if older is not None:
                add(links.diff_page(package, older.info.version, info.version), published)
            for resource in info.resources:
                add(links.table_page(package, info.version, resource.name), published)
    body = ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)
    return Response(body, media_type="application/xml")


@router.get("/robots.txt", response_class=PlainTextResponse)
async def robots(links: LinksDep) -> PlainTextResponse:
    """Everything may be crawled; the sitemap lists the pages."""
    return PlainTextResponse(f"User-agent: *\nAllow: /\nSitemap: {links.sitemap()}\n")
