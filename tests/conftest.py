"""Shared fixtures: a database per backend, the flagship and diffpkg loaded once, HTTP clients."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from hypothesis import HealthCheck, settings

from api.config import Settings
from tests.helpers import (
    BASE_URL,
    DATASETS,
    DIFFPKG,
    FIXTURES,
    PG_ENV,
    PG_SKIP,
    MakeDatabase,
    app_client,
    drop_postgres_database,
    fresh_postgres_database,
    load_releases,
)

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


@pytest.fixture(scope="session")
def make_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MakeDatabase]:
    """A factory of empty databases: `make_database(backend) -> url`, dropped at the end."""
    created: list[str] = []
    admin_url = os.environ.get(PG_ENV)

    def make(backend: str) -> str:
        if backend == "sqlite":
            path = tmp_path_factory.mktemp("db") / "opendata.sqlite"
            return f"sqlite:///{path}"
        if not admin_url:
            pytest.skip(PG_SKIP)
        url, name = fresh_postgres_database(admin_url)
        created.append(name)
        return url

    yield make
    for name in created:
        assert admin_url is not None
        drop_postgres_database(admin_url, name)


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Each test that uses it runs on SQLite and on PostgreSQL."""
    return str(request.param)


@pytest.fixture(scope="session")
def flagship_url(backend: str, make_database: MakeDatabase) -> str:
    """A database with every release under datasets/ loaded."""
    url = make_database(backend)
    load_releases(url, DATASETS)
    return url


@pytest.fixture(scope="session")
def flagship_settings(flagship_url: str) -> Settings:
    return Settings(database_url=flagship_url, base_url=BASE_URL, datasets_dir=DATASETS)


@pytest.fixture
async def client(flagship_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client over the ASGI app serving the flagship database."""
    async with app_client(flagship_settings) as http:
        yield http


@pytest.fixture(scope="session")
def diffpkg_url(backend: str, make_database: MakeDatabase) -> str:
    """A database with every release of the diffpkg fixture loaded."""
    url = make_database(backend)
    load_releases(url, FIXTURES, [DIFFPKG])
    return url


@pytest.fixture
async def diff_client(diffpkg_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client over the ASGI app serving the diffpkg database."""
    settings = Settings(database_url=diffpkg_url, base_url=BASE_URL, datasets_dir=FIXTURES)
    async with app_client(settings) as http:
        yield http
