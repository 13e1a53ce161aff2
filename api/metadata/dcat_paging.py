"""Hydra paging of the DCAT-AP catalog: page selection and the view and search triples.

The catalog is a ``hydra:Collection`` whose ``hydra:view`` is the current page (also typed with
Hydra's former ``hydra:PagedCollection`` for older harvesters), with first, last, next and
previous links, and a ``hydra:search`` IRI template for ``page``, ``page_size`` and
``modified_since``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from rdflib import RDF, Graph, Literal, URIRef

from api.errors import BadQuery, ParamError
from api.metadata.facts import iso_z, utc
from api.metadata.rdf_nodes import stable_node
from api.metadata.urls import Links
from api.metadata.vocab import DCT, HYDRA
from api.model import ReleaseInfo

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


@dataclass(frozen=True)
class CatalogPage:
    """The packages on one page of the catalog, with what the Hydra links need."""

    packages: tuple[tuple[ReleaseInfo, ...], ...]
    page: int
    page_size: int
    total: int
    modified_since: datetime | None = None

    @property
    def last_page(self) -> int:
        """Number of the last page (1 when the catalog is empty)."""
        return max(1, -(-self.total // self.page_size))

    @property
    def has_next(self) -> bool:
        """Whether a later page exists."""
        return self.page < self.last_page


def check_paging(page: int, page_size: int) -> None:
    """Raise `BadQuery` unless `page` is 1 or more and `page_size` is 1 to `MAX_PAGE_SIZE`."""
    errors = []
    if page < 1:
        errors.append(ParamError("page", "invalid-control", "page must be 1 or more"))
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        errors.append(
            ParamError(
                "page_size", "invalid-control", f"page_size must be between 1 and {MAX_PAGE_SIZE}"
            )
        )
    if errors:
        raise BadQuery(errors)


def select_page(
    packages: Sequence[Sequence[ReleaseInfo]],
    *,
    page: int = 1,
    page_size: int = DEFAULT_PAGE_SIZE,
    modified_since: datetime | None = None,
) -> CatalogPage:
    """Keep packages whose latest release was loaded at or after `modified_since`, then page."""
    check_paging(page, page_size)
    since = utc(modified_since) if modified_since is not None else None
    kept = [
        tuple(releases)
        for releases in packages
        if releases and (since is None or utc(releases[-1].loaded_at) >= since)
    ]
    start = (page - 1) * page_size
    return CatalogPage(
        tuple(kept[start : start + page_size]), page, page_size, len(kept), modified_since
    )


def add_paging(
    graph: Graph, catalog: URIRef, selected: CatalogPage, *, links: Links, ext: str
) -> None:
    """Add the Hydra collection, view (page links) and search template of `catalog`."""
    since = iso_z(selected.modified_since) if selected.modified_since is not None else None

    def page_url(number: int) -> URIRef:
        return URIRef(
            links.catalog_page(ext, page=number, page_size=selected.page_size, modified_since=since)
        )

    view = page_url(selected.page)
    graph.add((catalog, RDF.type, HYDRA.Collection))
    graph.add((catalog, HYDRA.totalItems, Literal(selected.total)))
    graph.add((catalog, HYDRA.view, view))
    # PagedCollection is Hydra's former name; older harvesters look for it.
    graph.add((view, RDF.type, HYDRA.PartialCollectionView))
    graph.add((view, RDF.type, HYDRA.PagedCollection))
    graph.add((view, HYDRA.totalItems, Literal(selected.total)))
    graph.add((view, HYDRA.itemsPerPage, Literal(selected.page_size)))
    graph.add((view, HYDRA.first, page_url(1)))
    graph.add((view, HYDRA.last, page_url(selected.last_page)))
    if selected.has_next:
        graph.add((view, HYDRA.next, page_url(selected.page + 1)))
    if selected.page > 1:
        graph.add((view, HYDRA.previous, page_url(min(selected.page - 1, selected.last_page))))
    search = stable_node("search", str(catalog), ext)
    graph.add((catalog, HYDRA.search, search))
    graph.add((search, RDF.type, HYDRA.IriTemplate))
    graph.add((search, HYDRA.template, Literal(links.catalog_template(ext))))
    graph.add((search, HYDRA.variableRepresentation, HYDRA.BasicRepresentation))
    for variable, prop in (
        ("page", HYDRA.pageIndex),
        ("page_size", HYDRA.limit),
        ("modified_since", DCT.modified),
    ):
        mapping = stable_node("mapping", str(catalog), ext, variable)
        graph.add((search, HYDRA.mapping, mapping))
        graph.add((mapping, RDF.type, HYDRA.IriTemplateMapping))
        graph.add((mapping, HYDRA.variable, Literal(variable)))
        graph.add((mapping, HYDRA.property, prop))
        graph.add((mapping, HYDRA.required, Literal(False)))


__all__ = [
    "DEFAULT_PAGE_SIZE",
    "MAX_PAGE_SIZE",
    "CatalogPage",
    "add_paging",
    "check_paging",
    "select_page",
]
