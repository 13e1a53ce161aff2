"""Every answer carries a request id (errors, refused preflights and 500s too) and CORS headers.

The id comes from a trusted proxy when it sends a valid one, else it is made here; it is stored
as ``scope["state"]["request_id"]``, returned as ``X-Request-ID``, put in every problem document
and in the access log line of the request.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pydantic
import pytest
import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from api.config import Settings
from api.db.engine import writer_engine
from api.ingest.discover import find_releases
from api.ingest.load import ReleaseLoader
from api.main import create_app
from tests.builders import field, write_release
from tests.helpers import BASE_URL, FLAGSHIP
from tests.problem_body import problem_body

pytestmark = pytest.mark.anyio
PROBLEM_JSON = "application/problem+json"
ROWS = f"/v1/datasets/{FLAGSHIP}/1.2.0/figures"
ORIGIN = {"Origin": "https://newsroom.example"}
GENERATED = re.compile(r"[0-9a-f]{32}")
PROXY = "127.0.0.1"
STRANGER = "203.0.113.9"


@asynccontextmanager
async def serve(app: FastAPI, *, peer: str = PROXY) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client over `app`, its requests coming from the address `peer`."""
    transport = httpx.ASGITransport(app=app, client=(peer, 50000))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client,
    ):
        yield client


def state_route(app: FastAPI) -> None:
    """A route that answers with what the ASGI scope holds for the request id."""

    async def state(request: Request) -> JSONResponse:
        return JSONResponse({"request_id": request.scope["state"]["request_id"]})

    app.add_api_route("/test/state", state)


# --- the id: kept or made -----------------------------------------------------------------------


async def test_a_request_without_an_id_gets_a_new_one(client: httpx.AsyncClient) -> None:
    first = await client.get(f"{ROWS}?_size=1")
    second = await client.get(f"{ROWS}?_size=1")
    assert first.status_code == second.status_code == 200
    assert GENERATED.fullmatch(first.headers["x-request-id"])
    assert GENERATED.fullmatch(second.headers["x-request-id"])
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


@pytest.mark.parametrize(
    "sent", ["abc-123", "x" * 128, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"]
)
async def test_a_valid_id_from_a_trusted_proxy_is_kept(
    flagship_settings: Settings, sent: str
) -> None:
    app = create_app(flagship_settings)
    state_route(app)
    async with serve(app) as client:
        page = await client.get(f"{ROWS}?_size=1", headers={"X-Request-ID": sent})
        missing = await client.get(f"{ROWS}/no-such-row", headers={"X-Request-ID": sent})
        state = await client.get("/test/state", headers={"X-Request-ID": sent})
    assert page.headers["x-request-id"] == sent
    assert missing.status_code == 404
    assert missing.headers["x-request-id"] == sent
    assert missing.json()["request_id"] == sent
    assert state.json() == {"request_id": sent}


@pytest.mark.parametrize(
    "sent",
    [
        pytest.param("x" * 129, id="too-long"),
        pytest.param("", id="empty"),
        pytest.param("has space", id="space"),
        pytest.param("tab\there", id="control"),
        pytest.param("caf\xe9", id="not-ascii"),
        pytest.param("a\x7fb", id="delete"),
    ],
)
async def test_an_invalid_id_is_replaced(flagship_settings: Settings, sent: str) -> None:
    app = create_app(flagship_settings)
    async with serve(app) as client:
        response = await client.get(
            f"{ROWS}/no-such-row", headers=[(b"X-Request-ID", sent.encode("latin-1"))]
        )
    made = response.headers["x-request-id"]
    assert GENERATED.fullmatch(made)
    assert problem_body(response)["status"] == 404


async def test_two_ids_are_replaced(flagship_settings: Settings) -> None:
    app = create_app(flagship_settings)
    async with serve(app) as client:
        response = await client.get(
            f"{ROWS}?_size=1", headers=[(b"X-Request-ID", b"one"), (b"X-Request-ID", b"two")]
        )
    assert GENERATED.fullmatch(response.headers["x-request-id"])


async def test_an_id_from_an_untrusted_peer_is_replaced(flagship_settings: Settings) -> None:
    app = create_app(flagship_settings)
    state_route(app)
    async with serve(app, peer=STRANGER) as client:
        response = await client.get("/test/state", headers={"X-Request-ID": "forged"})
    made = response.headers["x-request-id"]
    assert GENERATED.fullmatch(made)
    assert response.json() == {"request_id": made}


async def test_trusted_proxies_are_a_setting_of_networks(flagship_settings: Settings) -> None:
    settings = flagship_settings.model_copy(update={"trusted_proxies": ["10.0.0.0/8"]})
    app = create_app(settings)
    async with serve(app, peer="10.20.30.40") as inside:
        kept = await inside.get(f"{ROWS}?_size=1", headers={"X-Request-ID": "from-the-lb"})
    async with serve(app, peer=PROXY) as loopback:
        replaced = await loopback.get(f"{ROWS}?_size=1", headers={"X-Request-ID": "from-the-lb"})
    assert kept.headers["x-request-id"] == "from-the-lb"
    assert GENERATED.fullmatch(replaced.headers["x-request-id"])


async def test_an_id_is_kept_when_the_proxy_also_forwards_the_client(
    flagship_settings: Settings,
) -> None:
    """X-Forwarded-For rewrites the client address; the id is still checked on the real peer."""
    app = create_app(flagship_settings)
    async with serve(app) as client:
        response = await client.get(
            f"{ROWS}?_size=1",
            headers={"X-Request-ID": "via-proxy", "X-Forwarded-For": STRANGER},
        )
    assert response.headers["x-request-id"] == "via-proxy"


def test_trusted_proxies_are_validated() -> None:
    assert Settings(trusted_proxies="10.0.0.0/8, ::1").trusted_proxies == [  # type: ignore[arg-type]
        "10.0.0.0/8",
        "::1/128",
    ]
    for bad in ("localhost", "10.0.0.1/8", "300.1.1.1"):
        with pytest.raises(pydantic.ValidationError):
            Settings(trusted_proxies=bad)  # type: ignore[arg-type]


def test_trusted_proxies_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENDATA_TRUSTED_PROXIES", "192.0.2.0/24,2001:db8::/32")
    assert Settings().trusted_proxies == ["192.0.2.0/24", "2001:db8::/32"]


# --- the access log -------------------------------------------------------------------------------


async def test_one_access_line_per_request(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="opendata.access"):
        response = await client.get(f"{ROWS}/no-such-row", headers={"X-Request-ID": "log-me"})
    lines = [r for r in caplog.records if r.name == "opendata.access"]
    assert len(lines) == 1
    line = lines[0]
    assert re.fullmatch(
        rf"GET {re.escape(ROWS)}/no-such-row 404 [0-9.]+ms [0-9]+B request_id=log-me",
        line.getMessage(),
    )
    assert (line.method, line.path, line.status, line.request_id) == (  # type: ignore[attr-defined]
        "GET",
        f"{ROWS}/no-such-row",
        404,
        response.headers["x-request-id"],
    )


async def test_the_access_line_escapes_control_characters(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="opendata.access"):
        await client.get("/v1/datasets/a%0D%0Afake%20line")
    (line,) = [r for r in caplog.records if r.name == "opendata.access"]
    assert "\n" not in line.getMessage() and "\r" not in line.getMessage()
    assert "a\\r\\nfake line" in line.getMessage()


# --- CORS and the id on every answer, errors included -------------------------------------------


async def test_a_refused_preflight_is_a_problem(client: httpx.AsyncClient) -> None:
    response = await client.options(
        ROWS, headers={**ORIGIN, "Access-Control-Request-Method": "DELETE"}
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.headers["access-control-allow-methods"] == "GET, HEAD, OPTIONS"
    assert response.headers["access-control-allow-origin"] == "*"
    assert problem_body(response) == {
        "type": "/problems/cors-refused",
        "title": "CORS preflight refused",
        "status": 400,
        "detail": "the preflight asks for what this API does not allow: method 'DELETE'"
        " (allowed: GET, HEAD, OPTIONS)",
        "instance": ROWS,
        "refused": ["method"],
    }
    assert (await client.get("/problems/cors-refused")).status_code == 200


async def test_an_allowed_preflight_still_passes(client: httpx.AsyncClient) -> None:
    response = await client.options(
        ROWS,
        headers={
            **ORIGIN,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "x-request-id",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-headers"] == "x-request-id"
    assert GENERATED.fullmatch(response.headers["x-request-id"])


async def test_every_answer_exposes_the_id_to_browsers(client: httpx.AsyncClient) -> None:
    for path in (f"{ROWS}?_size=1", f"{ROWS}?value=many", "/no/such/page"):
        response = await client.get(path, headers=ORIGIN)
        assert response.headers["access-control-allow-origin"] == "*"
        exposed = response.headers["access-control-expose-headers"].lower().split(", ")
        assert "x-request-id" in exposed
        assert response.headers["x-request-id"]


def _small_release(datasets: Path) -> None:
    schema: dict[str, Any] = {
        "fields": [field("id", "integer"), field("label")],
        "primaryKey": ["id"],
    }
    write_release(datasets, "small", "1.0.0", {"items": (schema, "id,label\r\n1,one\r\n")})


LEAKS = re.compile(r"Traceback|\[SQL:|SELECT|sqlalchemy|psycopg|sqlite3|/tmp/|/work/|d_items_")


async def test_an_unexpected_error_is_a_500_problem_with_cors_and_id(
    backend: str,
    make_database: Any,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A table missing under a registered resource is a programming error, not a lost database.

    Its exception carries the SQL; the answer carries none of it, and the log has the traceback.
    """
    datasets = tmp_path / "datasets"
    _small_release(datasets)
    url = make_database(backend)
    engine = writer_engine(url)
    assert ReleaseLoader(engine, quiet=True).load_all(find_releases(datasets)).ok
    with engine.begin() as connection:
        (table,) = connection.execute(sa.text("SELECT table_name FROM od_resources")).scalars()
        connection.execute(sa.text(f'DROP TABLE "{table}"'))
    engine.dispose()
    app = create_app(Settings(database_url=url, base_url=BASE_URL, datasets_dir=datasets))
    with caplog.at_level(logging.ERROR, logger="opendata.errors"):
        async with serve(app) as client:
            response = await client.get(
                "/v1/datasets/small/1.0.0/items", headers={**ORIGIN, "X-Request-ID": "boom-1"}
            )
    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["x-request-id"] == "boom-1"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.json() == {
        "type": "/problems/internal-error",
        "title": "Internal error",
        "status": 500,
        "detail": "the server met an unexpected error; it is logged under this request id,"
        " quote it when reporting the problem",
        "instance": "/v1/datasets/small/1.0.0/items",
        "request_id": "boom-1",
    }
    assert not LEAKS.search(response.text)
    (logged,) = [r for r in caplog.records if r.name == "opendata.errors"]
    assert "boom-1" in logged.getMessage()
    assert logged.exc_info is not None
    assert table in str(logged.exc_info[1])


async def test_the_openapi_problem_schema_names_the_request_id(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()["components"]["schemas"]["Problem"]
    assert schema["properties"]["request_id"]["type"] == "string"
    problem = (await client.get(f"{ROWS}?value=many")).json()
    jsonschema.validate(problem, schema)
    assert problem["request_id"]
