"""The URL map: every link the service gives out, built from one base URL, each segment quoted once.

A `Links` is bound to a base URL, once per request by `api.deps`: the configured
``OPENDATA_BASE_URL`` when set, else the scheme and host the request was sent to (`request_base`);
nothing else in the package joins a base URL to a path or spells the API prefix. Names and versions
go in as they are (not yet percent-encoded) and are quoted here, once.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote, urlencode, urlsplit

API_PREFIX = "/v1/datasets"
ROW_FORMATS = ("csv", "json", "ndjson", "xlsx")
UNRESERVED = "-._~"  # RFC 3986 section 2.3, with letters and digits: never percent-encoded
CATALOG_PARAMS = ("page", "page_size", "modified_since")
DEFAULT_PORTS = {"http": "80", "https": "443"}
# A Host value (RFC 9110 section 7.2) narrowed to what names a server: dot-separated DNS labels
# (`_` allowed, as container names have it) or an IPv4 address, or a bracketed IPv6 address;
# then an optional port. Nothing else may reach a link: no `/`, `@`, `<`, quote, space or `%`.
_HOST = re.compile(
    r"(?P<name>[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
    r"(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?"
    r"|\[(?P<ipv6>[0-9A-Fa-f:.]{2,45})\])"
    r"(?::(?P<port>[0-9]{1,5}))?"
)
MAX_HOST_LENGTH = 261  # a 253-character name, `:` and a five-digit port, or a bracketed IPv6


def segment(value: str) -> str:
    """One path segment: every character but the unreserved ones percent-encoded."""
    return quote(value, safe=UNRESERVED)


def quote_path(path: str) -> str:
    """A decoded path (as ASGI gives it) percent-encoded segment by segment, by `segment`."""
    return "/".join(segment(part) for part in path.split("/"))


def _with_query(url: str, query: str | Sequence[tuple[str, str]]) -> str:
    text = query if isinstance(query, str) else urlencode(query)
    return f"{url}?{text}" if text else url


def normal_host(host: str, scheme: str = "http") -> str | None:
    """A Host header value as links spell it (lower case, the scheme's default port dropped),
    or None when it does not name a server (a malformed or hostile value)."""
    found = _HOST.fullmatch(host) if len(host) <= MAX_HOST_LENGTH else None
    if found is None:
        return None
    ipv6, port = found["ipv6"], found["port"]
    if ipv6 is not None:
        try:
            ipaddress.IPv6Address(ipv6)
        except ValueError:
            return None
    if port is not None and not 0 < int(port) <= 65535:
        return None
    name = host.lower() if port is None else host[: -len(port) - 1].lower()
    return name if port is None or DEFAULT_PORTS.get(scheme) == port else f"{name}:{port}"


def request_base(scheme: str, host: str) -> str | None:
    """The base URL of a request sent to `host` over `scheme` (``http`` or ``https``), or None
    when either cannot be part of a link."""
    if scheme not in DEFAULT_PORTS:
        return None
    found = normal_host(host, scheme)
    return f"{scheme}://{found}" if found is not None else None


def package_route(*path: str) -> str:
    """A route pattern under the API prefix, e.g. ``/v1/datasets/{package}/{version}``."""
    return "/".join((API_PREFIX, *path))


@dataclass(frozen=True)
class Links:
    """Every link of the service, absolute under `base_url` (an empty base gives paths)."""

    base_url: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "base_url", self.base_url.rstrip("/"))

    # The service --------------------------------------------------------------------------------

    @property
    def host(self) -> str:
        """The host (and port) part of the base URL, e.g. ``data.example.org``."""
        return urlsplit(self.base_url).netloc or self.base_url

    def at(self, path: str, query: str | Sequence[tuple[str, str]] = "") -> str:
        """The absolute URL of a decoded request path (and an encoded or listed query)."""
        return _with_query(self.base_url + quote_path(path), query)

    def home(self) -> str:
        """The HTML catalog (home page)."""
        return f"{self.base_url}/"

    def docs(self) -> str:
        """The interactive API documentation."""
        return f"{self.base_url}/docs"

    def sitemap(self) -> str:
        """The sitemap of every page and pinned descriptor."""
        return f"{self.base_url}/sitemap.xml"

    def page(self, package: str) -> str:
        """The HTML page of a package (its landing page)."""
        return f"{self.base_url}/datasets/{segment(package)}"

    def table_page(self, package: str, version: str, resource: str) -> str:
        """The HTML table view of a resource."""
        return f"{self.page(package)}/{segment(version)}/{segment(resource)}"

    def row_page(self, package: str, version: str, resource: str, key: Sequence[str]) -> str:
        """The HTML page of one row, the key's values comma-joined."""
        joined = ",".join(segment(value) for value in key)
        return f"{self.table_page(package, version, resource)}/{joined}"

    def embed(self, package: str, view: str) -> str:
        """The frameable page of one chart a package declares."""
        return f"{self.base_url}/embed/{segment(package)}/{segment(view)}"

    def chart_file(self, package: str, view: str, fmt: str = "svg") -> str:
        """One declared chart as a file: ``svg`` or ``png``."""
        return f"{self.page(package)}/charts/{segment(view)}.{segment(fmt)}"

    def diff_page(
        self, package: str, from_version: str, to_version: str, *, resource: str | None = None
    ) -> str:
        """The HTML page of what changed between two releases, optionally of one resource."""
        query = [("from", from_version), ("to", to_version)]
        query += [("resource", resource)] if resource is not None else []
        return _with_query(f"{self.page(package)}/diff", query)

    def ckan_package(self, package: str) -> str:
        """The CKAN `package_show` of a package."""
        return _with_query(f"{self.base_url}/api/3/action/package_show", [("id", package)])

    def asset(self, name: str) -> str:
        """A stylesheet or script of the pages."""
        return f"{self.base_url}/static/site/{segment(name)}"

    # The API ------------------------------------------------------------------------------------

    def packages(self) -> str:
        """The list of every package."""
        return self.base_url + API_PREFIX

    def package(self, package: str) -> str:
        """The stable, version-less IRI of a package."""
        return f"{self.packages()}/{segment(package)}"

    def release(self, package: str, version: str) -> str:
        """The IRI of one release (a pinned version, or ``latest``) of a package."""
        return f"{self.package(package)}/{segment(version)}"

    def descriptor(self, package: str, version: str) -> str:
        """The release's ``datapackage.json`` with absolute URLs."""
        return f"{self.release(package, version)}/datapackage.json"

    def validation(self, package: str, version: str) -> str:
        """The frictionless report stored with the release."""
        return f"{self.release(package, version)}/validation.json"

    def zip(self, package: str, version: str) -> str:
        """The release as a Frictionless zip."""
        return f"{self.release(package, version)}.zip"

    def citation(self, package: str, version: str, fmt: str) -> str:
        """A citation of the release in one format (``apa``, ``bibtex``, ...)."""
        return _with_query(f"{self.release(package, version)}/citation", [("format", fmt)])

    def resource(self, package: str, version: str, resource: str) -> str:
        """The rows of a resource, format chosen by ``Accept``."""
        return f"{self.release(package, version)}/{segment(resource)}"

    def rows(self, package: str, version: str, resource: str, fmt: str = "csv") -> str:
        """The rows in one format; the unfiltered ``.csv`` is the published file byte for byte."""
        if fmt not in ROW_FORMATS:
            known = ", ".join(ROW_FORMATS)
            raise ValueError(f"unknown rows format {fmt!r}; expected one of {known}")
        return f"{self.resource(package, version, resource)}.{fmt}"

    def row(self, package: str, version: str, resource: str, key: Sequence[str]) -> str:
        """One row by primary key, the key's values comma-joined."""
        joined = ",".join(segment(value) for value in key)
        return f"{self.resource(package, version, resource)}/{joined}"

    def resource_template(self, package: str, resource: str) -> str:
        """The OpenAPI path of a resource's rows, its version left as ``{version}``."""
        return f"{self.package(package)}/{{version}}/{segment(resource)}"

    def diff(
        self, package: str, from_version: str, to_version: str, *, resource: str | None = None
    ) -> str:
        """The diff between two releases of a package, optionally of one resource."""
        query = [("from", from_version), ("to", to_version)]
        query += [("resource", resource)] if resource is not None else []
        return _with_query(f"{self.package(package)}/diff", query)

    def diff_csv(self, package: str, from_version: str, to_version: str, resource: str) -> str:
        """Every row change of one resource between two releases, as CSV."""
        query = [("from", from_version), ("to", to_version), ("resource", resource)]
        return _with_query(f"{self.package(package)}/diff.csv", query)

    # Harvesters ---------------------------------------------------------------------------------

    def catalog(self) -> str:
        """The format-neutral IRI of the DCAT catalog."""
        return f"{self.base_url}/catalog"

    def catalog_page(
        self,
        ext: str,
        *,
        page: int | None = None,
        page_size: int | None = None,
        modified_since: str | None = None,
    ) -> str:
        """One page of the DCAT catalog as ``jsonld``, ``ttl`` or ``rdf``."""
        values = (page, page_size, modified_since)
        query = [(k, str(v)) for k, v in zip(CATALOG_PARAMS, values, strict=True) if v is not None]
        return _with_query(f"{self.catalog()}.{segment(ext)}", query)

    def catalog_template(self, ext: str) -> str:
        """The RFC 6570 template of catalog page URLs (for ``hydra:search``)."""
        return f"{self.catalog()}.{segment(ext)}{{?{','.join(CATALOG_PARAMS)}}}"

    def data_json(self) -> str:
        """The DCAT-US 1.1 ``data.json`` catalog."""
        return f"{self.base_url}/data.json"

    def ckan_object(self, kind: str, name: str) -> str:
        """The name a CKAN organization or tag is known by under this base (the seed of its id).

        Not quoted, and not a link: CKAN ids are UUIDs derived from it, kept as they were.
        """
        return "/".join((self.base_url, kind, name))

    def ckan_help(self, action: str) -> str:
        """The ``help`` link CKAN puts in every action envelope."""
        return _with_query(f"{self.base_url}/api/3/action/help_show", [("name", action)])


PATHS = Links("")
"""The same map as paths on this host: for redirects, and for routes that name no host."""
