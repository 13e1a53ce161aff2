"""FastAPI dependencies: resolve what a path names once, or fail with NotFound once.

They are `async def` although none awaits: FastAPI runs a plain `def` dependency in the
threadpool, a cost paid on every request of the hot path for what are attribute reads.
"""

from __future__ import annotations

from typing import Annotated

import sqlalchemy as sa
from fastapi import Depends, Request

from api.config import Settings
from api.db.releases import Catalog, LoadedRelease, Snapshot


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


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
CatalogDep = Annotated[Catalog, Depends(get_catalog)]
EngineDep = Annotated[sa.Engine, Depends(get_engine)]


async def get_snapshot(catalog: CatalogDep) -> Snapshot:
    """The registry as it is now."""
    return catalog.snapshot()


SnapshotDep = Annotated[Snapshot, Depends(get_snapshot)]


async def get_release(package: str, version: str, snapshot: SnapshotDep) -> LoadedRelease:
    """The release named by the path (`latest` resolved), or NotFound."""
    return snapshot.release(package, version)


ReleaseDep = Annotated[LoadedRelease, Depends(get_release)]
