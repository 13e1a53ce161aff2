"""A hostile-input corpus, sent to the app on both backends: every answer is a 2xx or a 4xx.

SQL in every name, path traversal in every path segment (plain, encoded, double-encoded), huge
values, deeply nested JSON, bad bytes (invalid or overlong UTF-8, NUL, lone surrogates) and odd
methods and headers. A 4xx is a problem+json document (CKAN's API answers in its own envelope),
and no body leaks SQL the server ran, file-system paths, a traceback or a Python repr.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote, unquote_to_bytes

import anyio
import orjson
import pytest

from api.config import Settings
from api.main import create_app
from tests.helpers import FLAGSHIP

pytestmark = pytest.mark.anyio

VERSION = "1.2.0"
PACKAGE = f"/v1/datasets/{FLAGSHIP}"
PREFIX = f"{PACKAGE}/{VERSION}"
PROBLEM_JSON = "application/problem+json"
PAGE_PREFIXES = ("/datasets/", "/embed/")

SQL = [
    "' OR '1'='1",
    '" OR ""="',
    "1; DROP TABLE od_packages; --",
    "x') UNION SELECT sql FROM sqlite_master --",
    'figures" WHERE 1=1 --',
    "1 OR pg_sleep(5) IS NULL",
]
TRAVERSAL = [
    "..%2F..%2F..%2Fetc%2Fpasswd",
    "..%252F..%252F..%252Fetc%252Fpasswd",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "..%5C..%5Cwindows%5Cwin.ini",
    "....%2F%2F....%2F%2Fetc%2Fpasswd",
    "%2Fetc%2Fpasswd",
    "..%c0%af..%c0%afetc%c0%afpasswd",
]
BAD_BYTES = [
    "%FF%FE",  # not UTF-8
    "%C0%AF",  # overlong '/'
    "%E0%80%AF",  # overlong '/', three bytes
    "%ED%A0%80",  # a lone surrogate, UTF-8 encoded
    "%F4%90%80%80",  # beyond U+10FFFF
    "a%00b",  # NUL
    "%0D%0ASet-Cookie:%20x=1",  # CR LF
    "%E2%80%AE%E2%80%8B",  # right-to-left override, zero-width space
]
DEEP = "[" * 5000 + "]" * 5000
MEGABYTE = "x" * 1_000_000
LONG_NAME = "n" * 10_000

SEGMENT_ROUTES = [
    "/v1/datasets/{x}",
    "/v1/datasets/{x}/1.2.0/figures",
    f"{PACKAGE}/{{x}}/figures",
    f"{PACKAGE}/{{x}}/datapackage.json",
    f"{PACKAGE}/{{x}}.zip",
    f"{PACKAGE}/{{x}}/citation",
    f"{PREFIX}/{{x}}",
    f"{PREFIX}/{{x}}.csv",
    f"{PREFIX}/figures/{{x}}",
    f"{PREFIX}/figure_provinces/{{x}}",
    "/datasets/{x}",
    "/problems/{x}",
    "/api/3/action/{x}",
    "/catalog.{x}",
]


@dataclass(frozen=True)
class Case:
    """One hostile request: what is sent, and why it might break something."""

    id: str
    path: str
    query: str = ""  # raw, already percent-encoded
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    reason: str | None = None  # set: a known defect elsewhere, expected to fail (strict xfail)


def q(**params: str) -> str:
    """A query string with every value percent-encoded as UTF-8 (surrogates passed through)."""
    return "&".join(
        f"{quote(k.encode('utf-8', 'surrogatepass'), safe='')}="
        f"{quote(v.encode('utf-8', 'surrogatepass'), safe='')}"
        for k, v in params.items()
    )


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode("utf-8", "surrogatepass")).decode().rstrip("=")


def _cases() -> list[Case]:
    cases: list[Case] = []
    add = cases.append
    rows, diff, ckan = f"{PREFIX}/figures", f"{PACKAGE}/diff", "/api/3/action"
    # SQL in every name and value the API reads.
    for n, sql in enumerate(SQL):
        s = quote(sql, safe="")
        add(Case(f"sql{n}-package", f"/v1/datasets/{s}/1.2.0/figures"))
        add(Case(f"sql{n}-version", f"{PACKAGE}/{s}/figures"))
        add(Case(f"sql{n}-resource", f"{PREFIX}/{s}"))
        add(Case(f"sql{n}-key", f"{rows}/{s}"))
        add(Case(f"sql{n}-composite-key", f"{PREFIX}/figure_provinces/{s},{s}"))
        add(Case(f"sql{n}-filter-column", rows, q(**{sql: "1"})))
        add(Case(f"sql{n}-filter-op", rows, q(**{f"metric__{sql}": "1"})))
        add(Case(f"sql{n}-filter-value", rows, q(metric=sql, value__gt=sql)))
        add(Case(f"sql{n}-in", rows, q(metric__in=sql, notes__contains=sql)))
        add(Case(f"sql{n}-sort", rows, q(_sort=sql)))
        add(Case(f"sql{n}-sort-desc", rows, q(_sort=f"-{sql}")))
        add(Case(f"sql{n}-col", rows, q(_col=sql)))
        add(Case(f"sql{n}-nocol", rows, q(_nocol=sql)))
        add(Case(f"sql{n}-facet", rows, q(_facet=sql)))
        add(Case(f"sql{n}-csv", f"{rows}.csv", q(metric=sql, _delimiter=sql)))
        add(Case(f"sql{n}-diff-from", diff, q(**{"from": sql, "to": "1.2.0"})))
        add(Case(f"sql{n}-diff-to", diff, q(**{"from": "1.0.0", "to": sql})))
        add(
            Case(f"sql{n}-diff-resource", diff, q(**{"from": "1.0.0", "to": "1.2.0"}, resource=sql))
        )
        add(Case(f"sql{n}-diff-next", diff, q(**{"from": "1.0.0", "to": "1.2.0", "_next": sql})))
        add(Case(f"sql{n}-diff-csv", f"{diff}.csv", q(**{"from": sql, "to": sql}, resource=sql)))
        add(Case(f"sql{n}-ckan-id", f"{ckan}/package_show", q(id=sql)))
        add(Case(f"sql{n}-ckan-q", f"{ckan}/package_search", q(q=sql, fq=sql, sort=sql)))
        add(Case(f"sql{n}-citation", f"{PREFIX}/citation", q(format=sql)))
        add(Case(f"sql{n}-catalog", "/catalog.jsonld", q(page=sql, modified_since=sql)))
    # Path traversal, encoded and double-encoded, in every path segment.
    for n, bad in enumerate(TRAVERSAL):
        for m, route in enumerate(SEGMENT_ROUTES):
            add(Case(f"traversal{n}-route{m}", route.format(x=bad)))
        add(Case(f"traversal{n}-query", rows, q(metric=unquote_to_bytes(bad).decode("latin-1"))))
    add(Case("traversal-literal", f"{PACKAGE}/../../../../etc/passwd"))
    add(Case("traversal-literal-resource", f"{PREFIX}/../../../etc/passwd"))
    # Bad bytes in every path segment and in query names and values.
    for n, bad in enumerate(BAD_BYTES):
        for m, route in enumerate(SEGMENT_ROUTES):
            add(Case(f"bytes{n}-route{m}", route.format(x=bad)))
        add(Case(f"bytes{n}-filter", rows, f"metric={bad}&notes__icontains={bad}"))
        add(Case(f"bytes{n}-name", rows, f"{bad}=1&metric__{bad}=1"))
        add(Case(f"bytes{n}-controls", rows, f"_sort={bad}&_col={bad}&_facet={bad}"))
        add(Case(f"bytes{n}-next", rows, f"_next={bad}"))
        add(Case(f"bytes{n}-diff", diff, f"from={bad}&to={bad}&resource={bad}&_size={bad}"))
        add(Case(f"bytes{n}-ckan", f"{ckan}/package_search", f"q={bad}&fq={bad}&rows={bad}"))
    for name, surrogate in (("in", '["\\udfff","\\ud800x"]'), ("key", '["\\ud83d"]')):
        add(
            Case(
                f"surrogate-json-{name}", rows, q(figure_id__in=surrogate, metric__notin=surrogate)
            )
        )
        add(Case(f"surrogate-cursor-{name}", rows, q(_next=b64(surrogate))))
    add(
        Case(
            "surrogate-ckan-post",
            f"{ckan}/package_show",
            method="POST",
            headers={"content-type": "application/json"},
            body=b'{"id": "\\ud800"}',
        )
    )
    # Huge values and names.
    for name, query in {
        "filter": q(metric=MEGABYTE),
        "in": q(metric__in=",".join(["a"] * 200_000)),
        "range": q(value__between=f"{'9' * 500_000}..{'9' * 500_000}"),
        "next": q(_next=MEGABYTE),
        "size": q(_size="9" * 100_000),
        "sort": q(_sort=",".join(["metric"] * 100_000)),
        "column-name": q(**{LONG_NAME: "1", f"{LONG_NAME}__in": "1"}),
        "control-name": q(**{f"_{LONG_NAME}": "1"}),
        "many-params": "&".join(f"p{i}=1" for i in range(5000)),
    }.items():
        add(Case(f"huge-{name}", rows, query))
    add(Case("huge-diff", diff, q(**{"from": MEGABYTE, "to": LONG_NAME, "_size": "9" * 5000})))
    add(Case("huge-ckan-q", f"{ckan}/package_search", q(q=MEGABYTE, fq=f"name:{LONG_NAME}")))
    add(Case("huge-ckan-rows", f"{ckan}/package_search", q(rows="9" * 5000, start="9" * 4000)))
    add(
        Case(
            "huge-ckan-date-math",
            f"{ckan}/package_search",
            q(fq=f"metadata_modified:[NOW-{'9' * 5000}DAYS TO *]"),
        )
    )
    for m, route in enumerate(SEGMENT_ROUTES):
        add(Case(f"huge-segment-route{m}", route.format(x=LONG_NAME)))
    # Deeply nested JSON wherever JSON is read.
    add(Case("deep-in", rows, q(figure_id__in=DEEP)))
    add(Case("deep-notin", rows, q(value__notin=DEEP)))
    add(Case("deep-cursor", rows, q(_next=b64(DEEP))))
    add(
        Case(
            "deep-diff-cursor",
            diff,
            q(**{"from": "1.0.0", "to": "1.2.0", "_next": f"figures.{b64(DEEP)}"}),
        )
    )
    add(
        Case(
            "deep-ckan-post",
            f"{ckan}/package_search",
            method="POST",
            headers={"content-type": "application/json"},
            body=('{"q":' + DEEP + "}").encode(),
        )
    )
    add(Case("deep-ckan-q", f"{ckan}/package_search", q(fq=f"name:{DEEP}")))
    # Odd methods and headers.
    for method in ("PUT", "DELETE", "PATCH", "TRACE", "CONNECT", "PROPFIND"):
        add(Case(f"method-{method}", rows, method=method))
    add(Case("method-post-rows", rows, method="POST", body=b"x" * 10_000))
    add(Case("method-options-plain", rows, method="OPTIONS"))
    add(Case("method-head-bad-query", rows, q(_size="0"), method="HEAD"))
    for name, headers in {
        "accept-garbage": {"accept": "\x01garbage/;;q=x, */*;q=abc"},
        "accept-none": {"accept": "application/x-nothing"},
        "accept-huge": {"accept": ",".join(["text/x-a;q=0.1"] * 2000)},
        "if-none-match-garbage": {"if-none-match": '"' + "x" * 8000},
        "if-none-match-star": {"if-none-match": "*"},
        "range": {"range": "bytes=999999999-"},
        "content-length-lie": {"content-length": "5"},
        "host-odd": {"host": "evil.example:99999"},
        "origin-null": {"origin": "null"},
        "accept-encoding-odd": {"accept-encoding": "gzip;q=abc, br;q=-1, *;q=2"},
    }.items():
        add(Case(f"header-{name}", rows, headers=headers))
    add(
        Case(
            "preflight-bad-method",
            rows,
            method="OPTIONS",
            headers={"origin": "https://x.example", "access-control-request-method": "DELETE"},
        )
    )
    for name, (content_type, body) in {
        "form-bad-bytes": ("application/x-www-form-urlencoded", b"id=%FF%FE&q=%C0%AF"),
        "json-not-object": ("application/json", b"[1, 2, 3]"),
        "json-bad": ("application/json", b"{\xff\xfe"),
        "json-huge-number": ("application/json", b'{"rows": 1e400, "start": -1e400}'),
        "json-big-int": ("application/json", b'{"rows": 123456789012345678901234567890}'),
        "json-types": ("application/json", b'{"id": {"a": 1}, "q": [1], "rows": [2]}'),
        "json-nul": ("application/json", b'{"id": "a\\u0000b"}'),
        "json-huge": ("application/json", b'{"q": "' + b"x" * 1_000_000 + b'"}'),
    }.items():
        add(
            Case(
                f"ckan-post-{name}",
                f"{ckan}/package_search"
                if "rows" in body.decode("latin-1")
                else f"{ckan}/package_show",
                method="POST",
                headers={"content-type": content_type},
                body=body,
            )
        )
    return cases


CASES = _cases()

# What a body must never hold unless the request sent it: the server's own SQL or driver, paths
# of this machine, a traceback or a Python repr.
LEAKS = re.compile(
    r"Traceback|File \"/|site-packages|/work/|/tmp/|/usr/lib|/root/|\[SQL:|sqlalchemy|psycopg"
    r"|sqlite3\.|OperationalError|ProgrammingError|IntegrityError|object at 0x|<class '"
    r"|Decimal\(|datetime\.(date|datetime|time)\(|\bSELECT\b|\bWHERE\b|\bFROM \"",
)


@dataclass(frozen=True)
class Answer:
    """What the app sent back to one request."""

    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


async def send(app: Any, case: Case) -> Answer:
    """Send `case` to the ASGI app as uvicorn would (the path percent-decoded, the query raw).

    httpx refuses URLs over 64 KiB and normalises some paths; a server receives both as sent.
    """
    headers = {"host": "testserver", **{k.lower(): v for k, v in case.headers.items()}}
    if case.body is not None and "content-length" not in headers:
        headers["content-length"] = str(len(case.body))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": case.method,
        "scheme": "http",
        "path": unquote(case.path),
        "raw_path": case.path.encode("ascii"),
        "query_string": case.query.encode("ascii"),
        "root_path": "",
        "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    messages = [{"type": "http.request", "body": case.body or b"", "more_body": False}]
    started: dict[str, Any] = {}
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        if not messages:  # the client stays connected until the whole answer is sent
            await anyio.sleep_forever()
        return messages.pop(0)

    async def reply(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            started.update(message)
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    try:
        await app(scope, receive, reply)
    except Exception as exc:  # the server would log it and answer 500
        return Answer(500, {}, f"{type(exc).__name__}: {exc}".encode())
    headers_out = {k.decode("latin-1"): v.decode("latin-1") for k, v in started["headers"]}
    return Answer(int(started["status"]), headers_out, b"".join(chunks))


def assert_safe(answer: Answer, *, method: str, path: str, sent: str) -> None:
    """A 2xx, 3xx or a 4xx problem (or a CKAN error envelope under /api/), leaking nothing."""
    status, kind = answer.status, answer.headers.get("content-type", "")
    assert status < 500, f"{status} for {method} {path[:200]}: {answer.text[:500]}"
    if 400 <= status < 500 and method != "HEAD":
        body = orjson.loads(answer.body) if "json" in kind else None
        if kind.startswith("application/json") and path.startswith("/api/"):
            assert body is not None and body["success"] is False, answer.text[:300]
        elif path.startswith(PAGE_PREFIXES) and kind.startswith("text/html"):
            # The pages for people answer a bad request with a page, its input escaped.
            assert "<script>" not in answer.text.split("</head>", 1)[1]
        else:
            assert kind == PROBLEM_JSON, f"{status} {kind}: {answer.text[:300]}"
            assert body["status"] == status and body["title"] and "detail" in body
    if status < 300 and not kind.startswith("application/json"):
        return  # published rows (CSV, zip, HTML) are data, not messages
    for found in LEAKS.finditer(answer.text):
        assert found[0].lower() in sent.lower(), f"body leaks {found[0]!r}: {answer.text[:500]}"


@pytest.fixture(scope="module")
def app(flagship_settings: Settings) -> Iterator[Any]:
    """The app over the flagship database of the backend under test."""
    application = create_app(flagship_settings)
    yield application
    application.state.engine.dispose()


def _param(case: Case) -> object:
    marks = [pytest.mark.xfail(strict=True, reason=case.reason)] if case.reason else []
    return pytest.param(case, id=case.id, marks=marks)


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
async def test_hostile_input_gets_a_clean_answer(app: Any, case: Case) -> None:
    answer = await send(app, case)
    sent = unquote(f"{case.path}?{case.query}") + (case.body or b"").decode("utf-8", "replace")
    assert_safe(answer, method=case.method, path=unquote(case.path), sent=sent)


def test_the_corpus_covers_every_kind_of_hostile_input() -> None:
    kinds = {c.id.split("-")[0].rstrip("0123456789") for c in CASES}
    assert kinds >= {"sql", "traversal", "bytes", "surrogate", "huge", "deep", "method", "header"}
    assert len({c.id for c in CASES}) == len(CASES)
