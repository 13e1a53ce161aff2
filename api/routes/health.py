"""Liveness and readiness probes."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from api.deps import CatalogDep, EngineDep
from api.errors import ApiError

router = APIRouter(tags=["health"])


class NotReady(ApiError):
    """The database does not answer."""

    status = 503
    code = "not-ready"
    title = "Not ready"


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(engine: EngineDep, catalog: CatalogDep) -> dict[str, object]:
    """The database answers and the registry can be read."""

    def probe() -> int:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
        return sum(len(r) for r in catalog.snapshot().packages.values())

    try:
        releases = await run_in_threadpool(probe)
    except sa.exc.SQLAlchemyError as exc:
        raise NotReady(f"the database does not answer: {type(exc).__name__}") from exc
    return {"status": "ready", "releases": releases}
