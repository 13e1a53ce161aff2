"""What a request names of one release, resolved once: the release, its paths and its caching.

Every route about a release (its descriptor, report, zip, citation, rows) reads the same five
things: the release the path names, the version as the path spells it, the pinned path, the
caching headers and the 304 to send instead. They are computed here, once per request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import Response

from api.config import Settings
from api.db.releases import LoadedRelease, Snapshot
from api.deps import Serving, ServingDep
from api.http.caching import etag_for, not_modified, pinned_path, release_headers
from api.metadata.urls import Links
from api.model import ReleaseInfo


@dataclass(frozen=True)
class ReleaseRequest:
    """A request about one release, with its caching answered.

    :param requested: the version as the path gives it, a version or `latest`.
    :param pinned: the request path with `latest` replaced by the concrete version.
    :param headers: caching, provenance and succession headers; routes add to them.
    :param not_modified: the 304 to send instead, when the client holds this representation.
    """

    request: Request
    serving: Serving
    release: LoadedRelease
    requested: str
    pinned: str
    headers: dict[str, str] = field(repr=False)
    not_modified: Response | None = field(repr=False)

    @property
    def info(self) -> ReleaseInfo:
        """The release's metadata."""
        return self.release.info

    @property
    def settings(self) -> Settings:
        """The settings of the app."""
        return self.serving.settings

    @property
    def snapshot(self) -> Snapshot:
        """The registry snapshot the release was resolved in."""
        return self.serving.snapshot

    @property
    def links(self) -> Links:
        """The links of this request."""
        return self.serving.links


def release_request(
    request: Request,
    serving: Serving,
    release: LoadedRelease,
    requested: str,
    *,
    variant: str = "",
) -> ReleaseRequest:
    """The caching of a request about an already resolved release.

    :param variant: the representation chosen by negotiation (it gets its own ETag and `Vary`).
    """
    pinned = pinned_path(request, requested, release.info.version)
    etag = etag_for(release, serving.links.at(pinned, request.url.query), variant)
    headers = release_headers(
        request,
        release=release,
        requested=requested,
        pinned=pinned,
        snapshot=serving.snapshot,
        settings=serving.settings,
        links=serving.links,
        etag=etag,
    )
    if variant:
        headers["Vary"] = "Accept"
    cached = not_modified(request, etag, headers)
    return ReleaseRequest(request, serving, release, requested, pinned, headers, cached)


async def get_release_request(
    request: Request, package: str, version: str, serving: ServingDep
) -> ReleaseRequest:
    """The release the path names (`latest` resolved) with its caching, or NotFound."""
    release = serving.snapshot.release(package, version)
    return release_request(request, serving, release, version)


ReleaseRequestDep = Annotated[ReleaseRequest, Depends(get_release_request)]
