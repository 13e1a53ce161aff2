"""What test modules share: paths and names, throw-away PostgreSQL databases, specs, a client.

Fixtures and pytest hooks live in ``conftest.py``; everything a test module imports lives here.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from api.config import Settings
from api.db.engine import writer_engine
from api.db.sqltypes import build_table
from api.ingest.discover import find_releases
from api.ingest.load import ReleaseLoader
from api.main import create_app
from api.model import FieldSpec, TableSpec

ROOT = Path(__file__).resolve().parent.parent
DATASETS = ROOT / "datasets"
FIXTURES = ROOT / "tests" / "fixtures"
DIFFPKG = FIXTURES / "diffpkg"
FLAGSHIP = "cambodia-scam-crackdown"
PG_ENV = "OPENDATA_TEST_DATABASE_URL"
PG_SKIP = f"{PG_ENV} not set; PostgreSQL tests skipped (CI sets it)"
BASE_URL = "http://testserver"

MakeDatabase = Callable[[str], str]
"""The `make_database` fixture: a backend name ("sqlite" or "postgresql") in, an empty URL out."""


def fresh_postgres_database(admin_url: str) -> tuple[str, str]:
    """Create an empty database on the server of `admin_url`; return its URL and its name."""
    name = f"opendata_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False), name


def drop_postgres_database(admin_url: str, name: str) -> None:
    """Drop the database `name` made by `fresh_postgres_database`, closing its connections."""
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def table_spec(
    fields: Sequence[Mapping[str, Any]],
    primary_key: Sequence[str],
    *,
    name: str = "t",
    table: sa.Table | None = None,
    row_count: int = 0,
) -> TableSpec:
    """A TableSpec of Table Schema `fields`, over `table` or a Core table built from them."""
    if table is None:
        table = build_table(sa.MetaData(), name, fields, primary_key)
    return TableSpec(
        package="demo",
        version="1.0.0",
        resource=table.name,
        table=table,
        fields=tuple(
            FieldSpec(
                name=f["name"],
                type=f.get("type", "any"),
                format=f.get("format"),
                constraints=f.get("constraints") or {},
                descriptor=f,
            )
            for f in fields
        ),
        primary_key=tuple(primary_key),
        row_count=row_count,
    )


def load_releases(url: str, datasets: Path, paths: Sequence[Path] = ()) -> None:
    """Load every release under `datasets` (or those `paths` name) into `url`; none may fail."""
    engine = writer_engine(url)
    summary = ReleaseLoader(engine, quiet=True).load_all(find_releases(datasets, paths))
    engine.dispose()
    assert summary.ok, (summary.refused, summary.conflicts)


@asynccontextmanager
async def app_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client over the ASGI app built from `settings`, inside the app's lifespan."""
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as client,
    ):
        yield client


@asynccontextmanager
async def serving(url: str, datasets: Path) -> AsyncIterator[httpx.AsyncClient]:
    """Load every release under `datasets` into `url`, then serve it to an httpx client."""
    load_releases(url, datasets)
    async with app_client(
        Settings(database_url=url, base_url=BASE_URL, datasets_dir=datasets)
    ) as client:
        yield client
