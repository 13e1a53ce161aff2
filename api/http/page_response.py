"""A page as an HTTP response: a rendered template, an error page, the pages' static assets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from api.errors import ApiError, BadQuery
from api.metadata.urls import Links
from api.render.html import jsonld, render_page

ASSETS = Path(__file__).resolve().parent.parent / "static"


def install_assets(app: FastAPI) -> None:
    """Serve the pages' stylesheet and script from the package."""
    app.mount("/static/site", StaticFiles(directory=ASSETS), name="site-assets")


def html(
    template: str,
    *,
    links: Links,
    status: int = 200,
    headers: dict[str, str] | None = None,
    document: dict[str, Any] | None = None,
    **context: Any,
) -> HTMLResponse:
    """A rendered page."""
    body = render_page(template, links=links, jsonld_block=jsonld(document), **context)
    return HTMLResponse(body, status_code=status, headers=headers)


def problem_page(error: ApiError, links: Links) -> HTMLResponse:
    """An error as a page, with the status the API gives it."""
    titles = {400: "This query cannot be read", 404: "Not found"}
    errors = [e.as_dict() for e in error.errors] if isinstance(error, BadQuery) else []
    return html(
        "error.html",
        links=links,
        status=error.status,
        title=titles.get(error.status, "Something went wrong"),
        detail=error.detail(),
        errors=errors,
    )
