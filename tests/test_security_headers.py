"""Security headers: nosniff, referrer and frame policies on every answer, a CSP on HTML.

The HTML pages and /docs run no inline script: every script is a same-origin file (the JSON-LD
block is data), and every inline style of the catalog pages is allowed by its hash.
"""

from __future__ import annotations

import base64
import hashlib
import re
from html.parser import HTMLParser

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from api.web.security_headers import SecurityHeaders
from tests.helpers import BASE_URL, FLAGSHIP

pytestmark = pytest.mark.anyio
PINNED = f"/v1/datasets/{FLAGSHIP}/1.2.0"
HTML_PAGES = ["/", f"/datasets/{FLAGSHIP}", "/docs"]
EVERY_KIND = [
    f"{PINNED}/figures?_size=1",
    f"{PINNED}/figures.csv",
    f"{PINNED}/figures?value=many",
    "/no/such/page",
    "/static/docs/swagger-init.js",
    "/openapi.json",
    *HTML_PAGES,
]


class Elements(HTMLParser):
    """The script and style elements of a page, with their attributes and text."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str | None], str]] = []
        self._open: tuple[str, dict[str, str | None]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        assert not any(name.startswith("on") for name in attributes), (tag, attributes)
        assert "style" not in attributes or tag == "style", (tag, attributes)
        if tag in ("script", "style", "link"):
            self.found.append((tag, attributes, ""))
            self._open = (tag, attributes) if tag != "link" else None

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            tag, attributes, text = self.found[-1]
            self.found[-1] = (tag, attributes, text + data)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._open = None


def elements(page: str) -> list[tuple[str, dict[str, str | None], str]]:
    parser = Elements()
    parser.feed(page)
    return parser.found


def directives(policy: str) -> dict[str, list[str]]:
    parsed = {}
    for part in policy.split(";"):
        name, *sources = part.split()
        parsed[name] = sources
    return parsed


def sha256_source(text: str) -> str:
    return f"'sha256-{base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()}'"


@pytest.mark.parametrize("path", EVERY_KIND)
async def test_every_answer_has_the_security_headers(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert response.headers["x-frame-options"] == "DENY"


async def test_a_preflight_and_a_head_have_them_too(client: httpx.AsyncClient) -> None:
    preflight = await client.options(
        f"{PINNED}/figures",
        headers={"Origin": "https://x.example", "Access-Control-Request-Method": "GET"},
    )
    head = await client.head("/")
    for response in (preflight, head):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
    assert "script-src 'self'" in head.headers["content-security-policy"]


async def test_json_and_csv_carry_no_page_policy(client: httpx.AsyncClient) -> None:
    for path in (f"{PINNED}/figures?_size=1", f"{PINNED}/figures.csv"):
        assert "content-security-policy" not in (await client.get(path)).headers


@pytest.mark.parametrize("path", HTML_PAGES)
async def test_html_runs_no_inline_script_and_cannot_be_framed(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    policy = directives(response.headers["content-security-policy"])
    assert policy["default-src"] == ["'none'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert "'self'" in policy["style-src"]
    found = elements(response.text)
    for tag, attributes, text in found:
        if tag == "script" and attributes.get("type") != "application/ld+json":
            # An executable script is a same-origin file, allowed by script-src 'self'.
            assert attributes.get("src", "").startswith("/") and not text.strip(), attributes
        if tag == "style":
            inline = policy["style-src"]
            assert "'unsafe-inline'" in inline or sha256_source(text) in inline, text[:80]


async def test_catalog_pages_load_styles_and_scripts_from_files_only(
    client: httpx.AsyncClient,
) -> None:
    for path in ("/", f"/datasets/{FLAGSHIP}"):
        response = await client.get(path)
        policy = directives(response.headers["content-security-policy"])
        assert policy["style-src"] == ["'self'"]
        found = elements(response.text)
        assert not [text for tag, _, text in found if tag == "style"]
        assert "style=" not in response.text
        scripts = [a for tag, a, _ in found if tag == "script"]
        assert scripts == [
            {"src": "/static/site/site.js", "defer": None},
            {"type": "application/ld+json"},
        ]
        sheets = [
            a["href"] for tag, a, _ in found if tag == "link" and a.get("rel") == "stylesheet"
        ]
        assert sheets == ["/static/site/site.css"]
        for asset in ("/static/site/site.js", *sheets):
            served = await client.get(asset)
            assert served.status_code == 200, asset


async def test_docs_load_only_files_the_app_serves(client: httpx.AsyncClient) -> None:
    response = await client.get("/docs")
    found = elements(response.text)
    scripts = [a["src"] for tag, a, _ in found if tag == "script"]
    styles = [a["href"] for tag, a, _ in found if tag == "link" and a.get("rel") == "stylesheet"]
    assert scripts == ["/static/swagger/swagger-ui-bundle.js", "/static/docs/swagger-init.js"]
    assert styles == ["/static/swagger/swagger-ui.css"]
    for asset in (*scripts, *styles):
        served = await client.get(asset)
        assert served.status_code == 200, asset
        assert served.headers["x-content-type-options"] == "nosniff"
        kind = "javascript" if asset.endswith(".js") else "text/css"
        assert kind in served.headers["content-type"], (asset, served.headers["content-type"])
    init = (await client.get("/static/docs/swagger-init.js")).text
    assert "SwaggerUIBundle(" in init and "dataset.openapiUrl" in init
    assert re.search(r'data-openapi-url="/openapi.json"', response.text)
    assert (await client.get("/openapi.json")).status_code == 200


async def _page(_request: object) -> HTMLResponse:
    return HTMLResponse("<!doctype html><p>widget</p>")


async def test_a_frameable_prefix_may_be_framed_and_nothing_else() -> None:
    """The hook for an `/embed/` path: framing allowed there, refused everywhere else."""
    inner = Starlette(routes=[Route("/embed/widget", _page), Route("/page", _page)])
    app = SecurityHeaders(inner, frameable_prefixes=("/embed/",))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        embedded = await client.get("/embed/widget")
        page = await client.get("/page")
    assert "x-frame-options" not in embedded.headers
    assert directives(embedded.headers["content-security-policy"])["frame-ancestors"] == ["*"]
    assert embedded.headers["x-content-type-options"] == "nosniff"
    assert page.headers["x-frame-options"] == "DENY"
    assert directives(page.headers["content-security-policy"])["frame-ancestors"] == ["'none'"]
