"""Each declared chart as a file to download: SVG, and PNG drawn on the server (no script)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from api.deps import ServingDep
from api.errors import BadQuery, NotFound
from api.http.caching import etag_for, not_modified
from api.http.page_response import problem_page
from api.render.chart_image import chart_document, png_of
from api.routes.pages import PAGE_CACHE, view_chart

router = APIRouter(tags=["pages"], include_in_schema=False)

MEDIA_TYPES = {"svg": "image/svg+xml", "png": "image/png"}


@router.get("/datasets/{package}/charts/{view}.{fmt}")
async def chart_file(
    request: Request, package: str, view: str, fmt: str, serving: ServingDep
) -> Response:
    """One chart of the latest release as a standalone SVG or PNG file."""
    links = serving.links
    try:
        if fmt not in MEDIA_TYPES:
            raise NotFound(f"no chart format {fmt!r}; expected one of svg, png")
        release, drawn = await view_chart(serving, package, view)
    except (NotFound, BadQuery) as error:
        return problem_page(error, links)
    info = release.info
    etag = etag_for(release, links.at(request.url.path), fmt)
    headers = {
        "ETag": etag,
        "Cache-Control": PAGE_CACHE,
        "X-Dataset-Version": info.version,
        "Content-Disposition": f'attachment; filename="{package}-{view}.{fmt}"',
    }
    cached = not_modified(request, etag, headers)
    if cached is not None:
        return cached
    licences = ", ".join(label for label, _url in info.licences)
    source = [
        f"Source: {info.title}, version {info.version}" + (f" ({licences})" if licences else ""),
        links.page(package),
    ]
    document = chart_document(drawn.view, drawn.points, drawn.legend, source=source)
    body = document.encode() if fmt == "svg" else await run_in_threadpool(png_of, document)
    return Response(body, media_type=MEDIA_TYPES[fmt], headers=headers)
