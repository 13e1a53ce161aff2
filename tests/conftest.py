"""Shared fixtures: a database per backend, the flagship releases loaded once, an HTTP client."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from sqlalchemy.engine import make_url

from api.config import Settings
from api.db.engine import writer_engine
from api.ingest.discover import find_releases
from api.ingest.load import ReleaseLoader
from api.main import create_app

ROOT = Path(__file__).resolve().parent.parent
DATASETS = ROOT / "datasets"
FLAGSHIP = "cambodia-scam-crackdown"
PG_ENV = "OPENDATA_TEST_DATABASE_URL"
PG_SKIP = f"{PG_ENV} not set; PostgreSQL tests skipped (CI sets it)"
BASE_URL = "http://testserver"

# Property tests: a small, fixed budget in `make test`, seconds a test, derandomized so CI is
# reproducible;
# HYPOTHESIS_PROFILE=fuzz for a long randomized run.
settings.register_profile(
    "ci",
    max_examples=200,
    derandomize=True,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "fuzz", max_examples=5000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


def _fresh_postgres_database(admin_url: str) -> tuple[str, str]:
    name = f"opendata_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False), name


def _drop_postgres_database(admin_url: str, name: str) -> None:
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture(scope="session")
def make_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A factory of empty databases: `make_database(backend) -> url`, dropped at the end."""
    created: list[str] = []
    admin_url = os.environ.get(PG_ENV)

    def make(backend: str) -> str:
        if backend == "sqlite":
            path = tmp_path_factory.mktemp("db") / "opendata.sqlite"
            return f"sqlite:///{path}"
        if not admin_url:
            pytest.skip(PG_SKIP)
        url, name = _fresh_postgres_database(admin_url)
        created.append(name)
        return url

    yield make
    for name in created:
        assert admin_url is not None
        _drop_postgres_database(admin_url, name)


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Each test that uses it runs on SQLite and on PostgreSQL."""
    return str(request.param)


@pytest.fixture(scope="session")
def flagship_url(backend: str, make_database: object) -> str:
    """A database with every release under datasets/ loaded."""
    url = make_database(backend)  # type: ignore[operator]
    engine = writer_engine(url)
    summary = ReleaseLoader(engine, quiet=True).load_all(find_releases(DATASETS))
    engine.dispose()
    assert summary.ok, (summary.refused, summary.conflicts)
    return url


@pytest.fixture(scope="session")
def flagship_settings(flagship_url: str) -> Settings:
    return Settings(database_url=flagship_url, base_url=BASE_URL, datasets_dir=DATASETS)


@pytest.fixture
async def client(flagship_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client over the ASGI app serving the flagship database."""
    app = create_app(flagship_settings)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http,
    ):
        yield http


@asynccontextmanager
async def serving(url: str, datasets: Path) -> AsyncIterator[httpx.AsyncClient]:
    """Load every release under `datasets` into `url`, then serve it to an httpx client."""
    engine = writer_engine(url)
    summary = ReleaseLoader(engine, quiet=True).load_all(find_releases(datasets))
    engine.dispose()
    assert summary.ok, (summary.refused, summary.conflicts)
    app = create_app(Settings(database_url=url, base_url=BASE_URL, datasets_dir=datasets))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as client,
    ):
        yield client
