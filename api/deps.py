"""FastAPI dependencies: resolve what a path names once, or fail with NotFound once.

They are `async def` although none awaits: FastAPI runs a plain `def` dependency in the
threadpool, a cost paid on every request of the hot path for what are attribute reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import sqlalchemy as sa
from fastapi import Depends, Request
from starlette.types import Scope

from api.config import Settings
from api.db.releases import Catalog, Snapshot
from api.errors import BadHost, quoted
from api.metadata.urls import Links, request_base


async def get_settings_dep(request: Request) -> Settings:
    """The settings the app was created with."""
    settings: Settings = request.app.state.settings
    return settings


async def get_catalog(request: Request) -> Catalog:
    """The process-wide registry view."""
    catalog: Catalog = request.app.state.catalog
    return catalog


async def get_engine(request: Request) -> sa.Engine:
    """The read-only engine."""
    engine: sa.Engine = request.app.state.engine
    return engine


def request_host(scope: Scope) -> str:
    """The host (and port) a request was sent to: its Host header, else the listening socket."""
    for name, value in scope["headers"]:
        if name == b"host":
            return str(value.decode("latin-1"))
    server = scope.get("server")
    if not server:
        return ""
    host, port = server
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def links_for(request: Request) -> Links:
    """The URL map of a request: the one place a request's links are bound to a base URL.

    The configured base URL wins; unset, it is the scheme and host the request was sent to
    (a trusted proxy's forwarded ones, already put in the scope by the middleware).
    """
    settings: Settings = request.app.state.settings
    if settings.base_url:
        return Links(settings.base_url)
    host = request_host(request.scope)
    base = request_base(request.scope.get("scheme", "http"), host)
    if base is None:  # a bad Host is refused at the edge already; never made into a link
        raise BadHost(f"the request's scheme and Host {quoted(host)} make no base URL")
    return Links(base)


async def get_links(request: Request) -> Links:
    """The links of this request, absolute under its base URL."""
    return links_for(request)


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
CatalogDep = Annotated[Catalog, Depends(get_catalog)]
EngineDep = Annotated[sa.Engine, Depends(get_engine)]
LinksDep = Annotated[Links, Depends(get_links)]


async def get_snapshot(catalog: CatalogDep) -> Snapshot:
    """The registry as it is now."""
    return catalog.snapshot()


SnapshotDep = Annotated[Snapshot, Depends(get_snapshot)]


@dataclass(frozen=True)
class Serving:
    """Everything a rows request reads from the app, resolved as one dependency."""

    settings: Settings
    engine: sa.Engine
    catalog: Catalog
    snapshot: Snapshot
    links: Links


async def get_serving(request: Request) -> Serving:
    """Settings, engine, catalog, its current snapshot and the links in one step.

    The rows routes are the hot path: FastAPI's cost grows with each dependency it solves, and
    this one replaces five.
    """
    state = request.app.state
    catalog: Catalog = state.catalog
    return Serving(state.settings, state.engine, catalog, catalog.snapshot(), links_for(request))


ServingDep = Annotated[Serving, Depends(get_serving)]
