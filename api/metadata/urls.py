"""Absolute URLs and IRIs of everything the metadata documents point at, built from the base URL."""

from __future__ import annotations

from urllib.parse import quote, urlencode, urlsplit

ROW_FORMATS = ("csv", "json", "ndjson", "xlsx")


def _seg(value: str) -> str:
    return quote(value, safe="-._~")


def _base(base_url: str) -> str:
    return base_url.rstrip("/")


def host(base_url: str) -> str:
    """The host (and port) part of the base URL, e.g. ``data.example.org``."""
    return urlsplit(base_url).netloc or base_url


def home_url(base_url: str) -> str:
    """The HTML catalog (home page)."""
    return f"{_base(base_url)}/"


def dataset_iri(base_url: str, package: str) -> str:
    """The stable, version-less IRI of a package."""
    return f"{_base(base_url)}/v1/datasets/{_seg(package)}"


def landing_page(base_url: str, package: str) -> str:
    """The HTML page of a package."""
    return f"{_base(base_url)}/datasets/{_seg(package)}"


def release_iri(base_url: str, *, package: str, version: str) -> str:
    """The IRI of one release (a pinned version) of a package."""
    return f"{dataset_iri(base_url, package)}/{_seg(version)}"


def descriptor_url(base_url: str, *, package: str, version: str) -> str:
    """The release's ``datapackage.json`` with absolute URLs."""
    return f"{release_iri(base_url, package=package, version=version)}/datapackage.json"


def rows_url(base_url: str, *, package: str, version: str, resource: str, fmt: str = "csv") -> str:
    """The rows of a resource; the unfiltered ``.csv`` is the published file byte for byte."""
    if fmt not in ROW_FORMATS:
        raise ValueError(f"unknown rows format {fmt!r}; expected one of {', '.join(ROW_FORMATS)}")
    return f"{release_iri(base_url, package=package, version=version)}/{_seg(resource)}.{fmt}"


def zip_url(base_url: str, *, package: str, version: str) -> str:
    """The release as a Frictionless zip."""
    return f"{release_iri(base_url, package=package, version=version)}.zip"


def citation_url(base_url: str, *, package: str, version: str, fmt: str) -> str:
    """A citation of the release in one format (``apa``, ``bibtex``, ...)."""
    release = release_iri(base_url, package=package, version=version)
    return f"{release}/citation?{urlencode({'format': fmt})}"


def diff_url(base_url: str, *, package: str, from_version: str, to_version: str) -> str:
    """The diff between two releases of a package."""
    query = urlencode({"from": from_version, "to": to_version})
    return f"{dataset_iri(base_url, package)}/diff?{query}"


def catalog_iri(base_url: str) -> str:
    """The format-neutral IRI of the DCAT catalog."""
    return f"{_base(base_url)}/catalog"


def catalog_url(
    base_url: str,
    ext: str,
    *,
    page: int | None = None,
    page_size: int | None = None,
    modified_since: str | None = None,
) -> str:
    """One page of the DCAT catalog as ``jsonld``, ``ttl`` or ``rdf``."""
    params: dict[str, str] = {}
    if page is not None:
        params["page"] = str(page)
    if page_size is not None:
        params["page_size"] = str(page_size)
    if modified_since is not None:
        params["modified_since"] = modified_since
    url = f"{_base(base_url)}/catalog.{ext}"
    return f"{url}?{urlencode(params)}" if params else url


def catalog_template(base_url: str, ext: str) -> str:
    """The RFC 6570 template of catalog page URLs (for ``hydra:search``)."""
    return f"{_base(base_url)}/catalog.{ext}{{?page,page_size,modified_since}}"


def data_json_url(base_url: str) -> str:
    """The DCAT-US 1.1 ``data.json`` catalog."""
    return f"{_base(base_url)}/data.json"


def ckan_help_url(base_url: str, action: str) -> str:
    """The ``help`` link CKAN puts in every action envelope."""
    return f"{_base(base_url)}/api/3/action/help_show?{urlencode({'name': action})}"
