"""A CKAN-compatible read API (`/api/3/action/...`), in CKAN's own envelope and error shape."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.db.releases import Snapshot
from api.deps import LinksDep, SnapshotDep
from api.errors import plain
from api.http.responses import JSONResponse
from api.metadata.ckan import (
    CkanBadRequest,
    CkanError,
    CkanValidationError,
    envelope,
    error_envelope,
    find_package,
    package_dict,
    package_list,
)
from api.metadata.ckan_search import search_packages
from api.metadata.urls import Links

router = APIRouter(tags=["ckan"], include_in_schema=False)
CKAN_VERSION = "2.10.4"


def _dicts(snapshot: Snapshot, links: Links) -> list[dict[str, Any]]:
    """Every package as CKAN shows it, built once per snapshot (actions only read them)."""

    def build() -> list[dict[str, Any]]:
        return [
            package_dict([r.info for r in releases], links=links)
            for releases in snapshot.packages.values()
        ]

    return snapshot.derived(("ckan", links), build)


def _int(params: dict[str, Any], name: str, default: int) -> int:
    value = params.get(name, default)
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError) as exc:
        raise CkanValidationError(name, "Invalid integer") from exc
    if number < 0:
        raise CkanValidationError(name, "Must be a natural number")
    return number


def _text(params: dict[str, Any], name: str) -> str | None:
    value = params.get(name)
    if value is not None and not isinstance(value, str):
        raise CkanValidationError(name, "Must be a string")
    return value


def _package_show(params: dict[str, Any], dicts: list[dict[str, Any]]) -> Any:
    """Return the metadata of a dataset (package) and its resources; `id` is its id or name."""
    found = _text(params, "id")
    if not found:
        raise CkanValidationError("id", "Missing value")
    return find_package(dicts, found)


def _package_search(params: dict[str, Any], dicts: list[dict[str, Any]]) -> Any:
    """Search datasets: `q`, `fq` (Solr filter, e.g. `metadata_modified:[... TO *]`), `rows`,
    `start` and `sort`."""
    return search_packages(
        dicts,
        q=_text(params, "q"),
        fq=_text(params, "fq"),
        rows=_int(params, "rows", 10),
        start=_int(params, "start", 0),
        sort=_text(params, "sort"),
    )


def _package_list(params: dict[str, Any], dicts: list[dict[str, Any]]) -> Any:
    """Return the names of every dataset; `limit` and `offset` page the list."""
    names = package_list(dicts)
    offset = _int(params, "offset", 0)
    if params.get("limit") is None:
        return names[offset:]
    return names[offset : offset + _int(params, "limit", 0)]


def _status_show(_params: dict[str, Any], _dicts: list[dict[str, Any]]) -> Any:
    """Return the version of the API and the site's description."""
    return {
        "ckan_version": CKAN_VERSION,
        "site_title": "Open data API",
        "site_description": "Validated, versioned and citable open data packages.",
        "locale_default": "en",
        "extensions": ["dcat", "datapackage"],
    }


def _help_show(params: dict[str, Any], _dicts: list[dict[str, Any]]) -> Any:
    name = _text(params, "name") or ""
    handler = ACTIONS.get(name)
    if handler is None:
        raise CkanValidationError("name", f"Action name not known: {plain(name)}")
    return handler.__doc__


ACTIONS: dict[str, Any] = {
    "help_show": _help_show,
    "package_list": _package_list,
    "package_show": _package_show,
    "package_search": _package_search,
    "status_show": _status_show,
}


async def _params(request: Request) -> dict[str, Any]:
    """Query parameters, updated by a POSTed JSON object or form (as CKAN accepts both)."""
    params: dict[str, Any] = dict(request.query_params)
    if request.method != "POST":
        return params
    body = await request.body()
    if not body:
        return params
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        return params
    try:
        posted = orjson.loads(body)
    except orjson.JSONDecodeError:
        posted = None
    if not isinstance(posted, dict):
        raise CkanBadRequest("Bad request - JSON Error: expected a JSON object")
    params.update(posted)
    return params


@router.api_route("/api/3/action/{action}", methods=["GET", "POST"])
@router.api_route("/api/action/{action}", methods=["GET", "POST"])
async def ckan_action(
    action: str, request: Request, snapshot: SnapshotDep, links: LinksDep
) -> Response:
    """Run one read-only CKAN action."""
    handler = ACTIONS.get(action)
    if handler is None:
        error = {"__type": "Bad request", "message": f"Action name not known: {plain(action)}"}
        body = error_envelope(action, error, links=links)
        return JSONResponse(body, status_code=400)
    try:
        result = handler(await _params(request), _dicts(snapshot, links))
    except CkanError as exc:
        body = error_envelope(action, exc.error, links=links)
        return JSONResponse(body, status_code=exc.status)
    return JSONResponse(envelope(action, result, links=links))
