"""One place that wires every router, the docs and the error handlers into the app."""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from api.routes import ckan, datasets, diff, harvest, health, pages, problems, releases, rows
from api.routes.openapi import install_openapi

SWAGGER_ASSETS = Path(fastapi_offline.__file__).parent / "static"

# Specific release routes first: `datapackage.json`, `validation.json` are not resources.
ROUTERS = (
    health.router,
    problems.router,
    pages.router,
    ckan.router,
    datasets.router,
    releases.router,
    diff.router,
    rows.router,
    # Last: `/v1/datasets/{package}/{version}` would otherwise also match `{version}.zip`.
    harvest.router,
)


def register_routes(app: FastAPI) -> None:
    """Attach routers, offline API docs and the problem+json error handlers."""
    problems.install(app)
    for router in ROUTERS:
        app.include_router(router)
    settings = app.state.settings
    install_openapi(
        app,
        app.state.catalog,
        default_size=settings.default_page_size,
        max_size=settings.max_page_size,
    )
    app.mount("/static/swagger", StaticFiles(directory=SWAGGER_ASSETS), name="swagger-assets")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title=f"{app.title}: API docs",
            swagger_js_url="/static/swagger/swagger-ui-bundle.js",
            swagger_css_url="/static/swagger/swagger-ui.css",
            swagger_favicon_url="/static/swagger/favicon.png",
        )
