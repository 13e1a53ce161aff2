"""One place that wires every router, the docs and the error handlers into the app."""

from __future__ import annotations

from fastapi import FastAPI

from api.http import problems
from api.http.docs import install_docs
from api.http.openapi import Limits, install_openapi
from api.http.page_response import install_assets
from api.routes import (
    chart_files,
    ckan,
    datasets,
    diff,
    diff_pages,
    harvest,
    health,
    pages,
    problem_types,
    releases,
    rows,
    table_pages,
)

# Specific release routes first: `datapackage.json`, `validation.json` are not resources.
ROUTERS = (
    health.router,
    problem_types.router,
    pages.router,
    chart_files.router,
    diff_pages.router,
    table_pages.router,  # after chart files: `/datasets/{package}/charts/{view}.svg` first
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
    limits = Limits(
        default_size=settings.default_page_size,
        max_size=settings.max_page_size,
        max_facets=settings.max_facets,
    )
    install_openapi(app, app.state.catalog, limits=limits)
    install_docs(app)
    install_assets(app)
