"""Liveness and readiness probes."""

from __future__ import annotations

import sqlite3

import psycopg
import sqlalchemy as sa
from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from api.db.engine import database_unavailable
from api.deps import CatalogDep, EngineDep
from api.errors import ApiError
from api.http.answers import problem

router = APIRouter(tags=["health"])


class NotReady(ApiError):
    """The database does not answer."""

    status = 503
    code = "not-ready"
    title = "Not ready"
    headers = {"Retry-After": "5"}


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: problem("The database does not answer (`not-ready`)")})
async def readyz(engine: EngineDep, catalog: CatalogDep) -> dict[str, object]:
    """The database answers and the registry can be read."""

    def probe() -> int:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
        return sum(len(r) for r in catalog.snapshot().packages.values())

    try:
        releases = await run_in_threadpool(probe)
    except (sa.exc.SQLAlchemyError, sqlite3.Error, psycopg.Error) as exc:
        lost = database_unavailable(exc)
        reason = lost.message if lost else type(exc).__name__
        raise NotReady(f"the database does not answer: {reason}") from exc
    return {"status": "ready", "releases": releases}
