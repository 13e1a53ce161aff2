"""HTTP caching of immutable releases: strong ETags, long max-age, 304s, pinned locations."""

from __future__ import annotations

import hashlib

from fastapi import Request
from fastapi.responses import Response

from api.config import Settings
from api.db.releases import LoadedRelease, Snapshot
from api.metadata.urls import Links

IMMUTABLE = "public, max-age=31536000, immutable"


def pinned_path(request: Request, requested: str, concrete: str) -> str:
    """The request path with `latest` replaced by the concrete version."""
    path = request.url.path
    if requested != "latest":
        return path
    return path.replace(f"/{requested}/", f"/{concrete}/", 1).replace(
        f"/{requested}.", f"/{concrete}.", 1
    )


def etag_for(release: LoadedRelease, url: str, variant: str = "") -> str:
    """A strong ETag: the same pinned absolute URL always returns the same bytes.

    The URL is absolute (`Links.at`) because bodies embed links under its base: the same path
    asked of two hosts is two representations. The query string counts as given: bodies echo it
    in its own order (filters, `next_url`).
    """
    source = f"{release.content_hash}|{url}|{variant}"
    return '"' + hashlib.sha256(source.encode()).hexdigest()[:32] + '"'


def release_headers(
    request: Request,
    *,
    release: LoadedRelease,
    requested: str,
    pinned: str,
    snapshot: Snapshot,
    settings: Settings,
    links: Links,
    etag: str,
) -> dict[str, str]:
    """Caching, provenance and succession headers for a response about one release."""
    info = release.info
    describedby = links.descriptor(info.package, info.version)
    link_values = [
        f'<{describedby}>; rel="describedby"; type="application/json"',
        # RFC 8574: cite the pinned release, whatever URL served this response.
        f'<{links.release(info.package, info.version)}>; rel="cite-as"',
    ]
    link_values += [f'<{url}>; rel="license"' for _label, url in info.licences if url]
    headers = {"ETag": etag, "X-Dataset-Version": info.version}
    if requested == "latest":
        headers["Cache-Control"] = f"public, max-age={settings.latest_max_age}"
        location = pinned
        if request.url.query:
            location += f"?{request.url.query}"
        headers["Content-Location"] = location
    else:
        headers["Cache-Control"] = IMMUTABLE
        successor = snapshot.successor(info.package, info.version)
        if successor is not None:
            successor_url = links.release(info.package, successor.info.version)
            link_values.append(f'<{successor_url}>; rel="successor-version"')
    # Machine-readable: the licence's name (an SPDX id as a rule), else its URL.
    licences = [
        str(lic.get("name") or lic.get("path"))
        for lic in info.descriptor.get("licenses", [])
        if lic.get("name") or lic.get("path")
    ]
    if licences:
        headers["X-License"] = ", ".join(licences)
    headers["Link"] = ", ".join(link_values)
    return headers


def not_modified(request: Request, etag: str, headers: dict[str, str]) -> Response | None:
    """A 304 when the client already holds this representation."""
    candidates = request.headers.get("if-none-match")
    if not candidates:
        return None
    tags = {tag.strip().removeprefix("W/") for tag in candidates.split(",")}
    if etag in tags or "*" in tags:
        return Response(status_code=304, headers=headers)
    return None
