"""The FastAPI application: settings, engine, registry view, routers and error handlers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.routing import APIRoute

from api.config import Settings, get_settings
from api.db.engine import reader_engine
from api.db.releases import Catalog
from api.routes import register_routes
from api.routes.head import HeadAsGet


def _operation_id(route: APIRoute) -> str:
    return route.name


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the application for one database."""
    settings = settings or get_settings()
    engine = reader_engine(
        settings.database_url,
        connect_timeout=settings.db_connect_timeout_seconds,
        pool_timeout=settings.db_pool_timeout_seconds,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        engine.dispose()

    app = FastAPI(
        title="Open data API",
        summary="Validated, versioned and citable open data packages, read-only.",
        version="1",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.catalog = Catalog(engine, reference_max_rows=settings.reference_max_rows)
    app.add_middleware(GZipMiddleware, minimum_size=1024)
    app.add_middleware(HeadAsGet)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=["*"],
        allow_methods=["GET", "HEAD", "OPTIONS"],
        allow_headers=["*"],
        expose_headers=[
            "Link",
            "ETag",
            "X-Dataset-Version",
            "Content-Location",
            "X-Total-Count",
            "X-License",
            "Content-Disposition",
        ],
    )
    register_routes(app)
    return app
