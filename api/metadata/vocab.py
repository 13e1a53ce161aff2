"""Controlled vocabularies: licences, file and media types, EU Vocabularies concepts.

The tables are general, none cut to the packages served: countries and languages are read from
the ISO tables of `api.metadata.iso`.

Every table maps an identifier we meet in descriptors (or emit) to what each output format needs:
EU authority IRIs for DCAT-AP, labels and ISO codes for DCAT-US, CKAN licence ids, and so on.
`vocabulary_graph` types the controlled IRIs a DCAT graph points at, because the DCAT-AP range
shapes are closed-world: an IRI used as a theme, language, place or licence must itself be typed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from rdflib import RDF, Graph, Literal, Namespace, URIRef

from api.metadata import iso

DCAT = Namespace("http://www.w3.org/ns/dcat#")
DCT = Namespace("http://purl.org/dc/terms/")
FOAF = Namespace("http://xmlns.com/foaf/0.1/")
SKOS = Namespace("http://www.w3.org/2004/02/skos/core#")
SPDX = Namespace("http://spdx.org/rdf/terms#")
VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")
OWL = Namespace("http://www.w3.org/2002/07/owl#")
HYDRA = Namespace("http://www.w3.org/ns/hydra/core#")
ADMS = Namespace("http://www.w3.org/ns/adms#")
DCATAP = Namespace("http://data.europa.eu/r5r/")

# `title` and `format` are also methods of `str` (a Namespace is a str), so name them by key.
DCT_TITLE = DCT["title"]
DCT_FORMAT = DCT["format"]

EU = "http://publications.europa.eu/resource/authority/"
IANA = "https://www.iana.org/assignments/media-types/"


@dataclass(frozen=True)
class Licence:
    """A licence resolved to the identifiers each metadata format uses."""

    title: str
    url: str | None
    spdx: str | None
    eu_iri: str | None
    ckan_id: str
    ckan_title: str
    is_open: bool


# SPDX id -> (title, canonical URL, EU licence code, CKAN id, CKAN title, open)
_LICENCES: dict[str, tuple[str, str, str, str, str, bool]] = {
    "CC-BY-4.0": (
        "Creative Commons Attribution 4.0 International",
        "https://creativecommons.org/licenses/by/4.0/",
        "CC_BY_4_0",
        "cc-by",
        "Creative Commons Attribution",
        True,
    ),
    "CC-BY-SA-4.0": (
        "Creative Commons Attribution Share Alike 4.0 International",
        "https://creativecommons.org/licenses/by-sa/4.0/",
        "CC_BYSA_4_0",
        "cc-by-sa",
        "Creative Commons Attribution Share-Alike",
        True,
    ),
    "CC-BY-NC-4.0": (
        "Creative Commons Attribution Non Commercial 4.0 International",
        "https://creativecommons.org/licenses/by-nc/4.0/",
        "CC_BYNC_4_0",
        "cc-nc",
        "Creative Commons Non-Commercial (Any)",
        False,
    ),
    "CC0-1.0": (
        "Creative Commons Zero v1.0 Universal",
        "https://creativecommons.org/publicdomain/zero/1.0/",
        "CC0",
        "cc-zero",
        "Creative Commons CCZero",
        True,
    ),
    "ODC-By-1.0": (
        "Open Data Commons Attribution License v1.0",
        "https://opendatacommons.org/licenses/by/1-0/",
        "ODC_BY",
        "odc-by",
        "Open Data Commons Attribution License",
        True,
    ),
    "ODbL-1.0": (
        "Open Data Commons Open Database License v1.0",
        "https://opendatacommons.org/licenses/odbl/1-0/",
        "ODC_BL",
        "odc-odbl",
        "Open Data Commons Open Database License (ODbL)",
        True,
    ),
    "PDDL-1.0": (
        "Open Data Commons Public Domain Dedication & License 1.0",
        "https://opendatacommons.org/licenses/pddl/1-0/",
        "ODC_PDDL",
        "odc-pddl",
        "Open Data Commons Public Domain Dedication and License (PDDL)",
        True,
    ),
}

# Other spellings met in Data Package descriptors -> SPDX id.
_LICENCE_ALIASES: dict[str, str] = {
    "cc-by": "CC-BY-4.0",
    "cc-by-sa": "CC-BY-SA-4.0",
    "cc0": "CC0-1.0",
    "cc-zero": "CC0-1.0",
    "odc-by": "ODC-By-1.0",
    "odc-by-1.0": "ODC-By-1.0",
    "odc-odbl": "ODbL-1.0",
    "odc-odbl-1.0": "ODbL-1.0",
    "odbl": "ODbL-1.0",
    "odc-pddl": "PDDL-1.0",
    "odc-pddl-1.0": "PDDL-1.0",
    "pddl": "PDDL-1.0",
}

NOT_SPECIFIED = Licence(
    title="License not specified",
    url=None,
    spdx=None,
    eu_iri=None,
    ckan_id="notspecified",
    ckan_title="License not specified",
    is_open=False,
)


def _url_key(url: str) -> str:
    return url.split("://", 1)[-1].rstrip("/").lower()


def _known(spdx: str) -> Licence:
    title, url, eu, ckan_id, ckan_title, is_open = _LICENCES[spdx]
    return Licence(
        title=title,
        url=url,
        spdx=spdx,
        eu_iri=f"{EU}licence/{eu}",
        ckan_id=ckan_id,
        ckan_title=ckan_title,
        is_open=is_open,
    )


def resolve_licence(raw: Mapping[str, Any] | None) -> Licence:
    """Resolve a Data Package ``licenses[]`` entry (by name, then by path)."""
    if not raw:
        return NOT_SPECIFIED
    name = str(raw.get("name") or "").strip()
    path = str(raw.get("path") or "").strip() or None
    by_lower = {key.lower(): key for key in _LICENCES}
    spdx = by_lower.get(name.lower()) or _LICENCE_ALIASES.get(name.lower())
    if spdx is None and path:
        spdx = next((k for k, v in _LICENCES.items() if _url_key(v[1]) == _url_key(path)), None)
    if spdx is not None:
        known = _known(spdx)
        return known if path is None else replace(known, url=path)
    # A licence this table does not know is not claimed to be open: nothing says it is.
    title = str(raw.get("title") or name or path or NOT_SPECIFIED.title)
    return Licence(
        title=title,
        url=path,
        spdx=None,
        eu_iri=None,
        ckan_id=name.lower() or "other",
        ckan_title=title,
        is_open=False,
    )


@dataclass(frozen=True)
class Concept:
    """One concept of an EU Vocabularies authority table (or another controlled list)."""

    label: str
    scheme: str
    code: str | None = None  # ISO code (languages), ISO 8601 repeat (frequencies), ...


def _table(scheme: str, rows: Mapping[str, tuple[str, str | None]]) -> dict[str, Concept]:
    return {
        f"{EU}{scheme}/{key}": Concept(label, f"{EU}{scheme}", code)
        for key, (label, code) in rows.items()
    }


THEMES = _table(
    "data-theme",
    {
        "AGRI": ("Agriculture, fisheries, forestry and food", None),
        "ECON": ("Economy and finance", None),
        "EDUC": ("Education, culture and sport", None),
        "ENER": ("Energy", None),
        "ENVI": ("Environment", None),
        "GOVE": ("Government and public sector", None),
        "HEAL": ("Health", None),
        "INTR": ("International issues", None),
        "JUST": ("Justice, legal system and public safety", None),
        "OP_DATPRO": ("Provisional data", None),
        "REGI": ("Regions and cities", None),
        "SOCI": ("Population and society", None),
        "TECH": ("Science and technology", None),
        "TRAN": ("Transport", None),
    },
)

# Countries and languages are read from the ISO tables (`api.metadata.iso`), keyed by their EU
# authority codes: ISO 3166-1 alpha-3 for countries, ISO 639-2/T (as in 639-3) for languages.
COUNTRY_SCHEME = f"{EU}country"
LANGUAGE_SCHEME = f"{EU}language"

# ISO 8601 repeating intervals are what DCAT-US 1.1 expects for accrualPeriodicity.
FREQUENCIES = _table(
    "frequency",
    {
        "IRREG": ("irregular", "irregular"),
        "CONT": ("continuous", "R/PT1S"),
        "UPDATE_CONT": ("continuously updated", "R/PT1S"),
        "HOURLY": ("hourly", "R/PT1H"),
        "DAILY": ("daily", "R/P1D"),
        "WEEKLY": ("weekly", "R/P1W"),
        "MONTHLY": ("monthly", "R/P1M"),
        "QUARTERLY": ("quarterly", "R/P3M"),
        "ANNUAL_2": ("semiannual", "R/P6M"),
        "ANNUAL": ("annual", "R/P1Y"),
        "BIENNIAL": ("biennial", "R/P2Y"),
        "NEVER": ("never", None),
        "UNKNOWN": ("unknown", None),
        "OTHER": ("other", None),
    },
)

AVAILABILITY = _table(
    "planned-availability",
    {
        "STABLE": ("stable", None),
        "AVAILABLE": ("available", None),
        "TEMPORARY": ("temporary", None),
        "EXPERIMENTAL": ("experimental", None),
    },
)
STABLE = f"{EU}planned-availability/STABLE"


@dataclass(frozen=True)
class FileFormat:
    """A distribution format: EU file type, IANA media type and a short label."""

    label: str
    media_type: str

    @property
    def file_type_iri(self) -> str:
        """The EU file-type authority IRI."""
        return f"{EU}file-type/{self.label}"

    @property
    def media_type_iri(self) -> str:
        """The IANA registry IRI of the media type."""
        return f"{IANA}{self.media_type}"


FILE_FORMATS: dict[str, FileFormat] = {
    "csv": FileFormat("CSV", "text/csv"),
    "json": FileFormat("JSON", "application/json"),
    "zip": FileFormat("ZIP", "application/zip"),
}

FILE_TYPES = {
    fmt.file_type_iri: Concept(fmt.label, f"{EU}file-type") for fmt in FILE_FORMATS.values()
}
LICENCE_CONCEPTS = {
    f"{EU}licence/{row[2]}": Concept(row[0], f"{EU}licence", spdx)
    for spdx, row in _LICENCES.items()
}

SCHEMES: dict[str, str] = {
    f"{EU}data-theme": "Data theme",
    f"{EU}language": "Language",
    f"{EU}country": "Country",
    f"{EU}frequency": "Frequency",
    f"{EU}file-type": "File type",
    f"{EU}licence": "Licence",
    f"{EU}planned-availability": "Planned availability",
}

CONCEPTS: dict[str, Concept] = {
    **THEMES,
    **FREQUENCIES,
    **FILE_TYPES,
    **LICENCE_CONCEPTS,
    **AVAILABILITY,
}

# The class DCAT-AP 3.0.1 (range.ttl) expects for the object of each property.
RANGE_TYPES: dict[URIRef, URIRef] = {
    DCAT.theme: SKOS.Concept,
    DCAT.themeTaxonomy: SKOS.ConceptScheme,
    DCT.spatial: DCT.Location,
    DCT.language: DCT.LinguisticSystem,
    DCT.accrualPeriodicity: DCT.Frequency,
    DCT_FORMAT: DCT.MediaTypeOrExtent,
    DCAT.mediaType: DCT.MediaType,
    DCT.license: DCT.LicenseDocument,
    SPDX.algorithm: SPDX.ChecksumAlgorithm,
    DCATAP.availability: SKOS.Concept,
}


def concept(iri: str) -> Concept | None:
    """The concept a controlled IRI names: from the tables above or the ISO tables, else None."""
    found = CONCEPTS.get(iri)
    if found is not None:
        return found
    scheme, _, key = iri.rpartition("/")
    if scheme == COUNTRY_SCHEME and (place := iso.country(key)) is not None:
        return Concept(place.name, COUNTRY_SCHEME, place.alpha_2)
    if scheme == LANGUAGE_SCHEME and (tongue := iso.language(key)) is not None:
        return Concept(tongue.name, LANGUAGE_SCHEME, tongue.tag)
    return None


def known_iris() -> list[str]:
    """Every controlled IRI we know: the tables above, every country, every ISO 639-1 language."""
    countries = [f"{COUNTRY_SCHEME}/{key}" for key in iso.countries()]
    languages = [
        f"{LANGUAGE_SCHEME}/{key.upper()}"
        for key, tongue in iso.languages().items()
        if len(tongue.tag) == 2
    ]
    return [*CONCEPTS, *countries, *languages]


def label(iri: str) -> str | None:
    """The English label of a controlled IRI we know, else None."""
    found = concept(iri)
    return found.label if found else None


def code(iri: str) -> str | None:
    """The code (BCP 47 language tag, ISO country, ISO 8601 frequency) of an IRI we know."""
    found = concept(iri)
    return found.code if found else None


def extent(iri: str) -> iso.Extent | None:
    """The approximate bounding box of a place IRI we know (an EU country), else None."""
    scheme, _, key = iri.rpartition("/")
    place = iso.country(key) if scheme == COUNTRY_SCHEME else None
    return place.extent if place else None


def vocabulary_graph(data: Graph | None = None) -> Graph:
    """Type the controlled IRIs that `data` points at (every known one when `data` is None).

    Each IRI gets the class its property's range demands; IRIs from the tables above also get
    ``skos:Concept``, ``skos:prefLabel`` and ``skos:inScheme`` as in EU Vocabularies, and their
    schemes a ``dct:title``. An unknown theme IRI is typed ``skos:Concept`` without a label, so
    validation still reports it: themes should come from the EU data-theme table.
    """
    graph = Graph()
    used: list[tuple[URIRef, URIRef]] = []
    if data is None:
        used = [(URIRef(iri), _class_of(iri)) for iri in known_iris()]
        used += [(URIRef(iri), SKOS.ConceptScheme) for iri in SCHEMES]
        used += [(URIRef(fmt.media_type_iri), DCT.MediaType) for fmt in FILE_FORMATS.values()]
        used.append((SPDX.checksumAlgorithm_sha256, SPDX.ChecksumAlgorithm))
    else:
        for prop, cls in RANGE_TYPES.items():
            used += [(obj, cls) for obj in data.objects(None, prop) if isinstance(obj, URIRef)]
    for iri, cls in used:
        graph.add((iri, RDF.type, cls))
        known = concept(str(iri))
        if known is not None:
            graph.add((iri, RDF.type, SKOS.Concept))
            graph.add((iri, SKOS.prefLabel, Literal(known.label, lang="en")))
            graph.add((iri, SKOS.inScheme, URIRef(known.scheme)))
            graph.add((URIRef(known.scheme), RDF.type, SKOS.ConceptScheme))
    for scheme in sorted(set(graph.subjects(RDF.type, SKOS.ConceptScheme)), key=str):
        title = SCHEMES.get(str(scheme))
        if title is not None:
            graph.add((scheme, DCT_TITLE, Literal(title, lang="en")))
    return graph


def _class_of(iri: str) -> URIRef:
    scheme = CONCEPTS[iri].scheme if iri in CONCEPTS else iri.rpartition("/")[0]
    return {
        f"{EU}data-theme": SKOS.Concept,
        f"{EU}language": DCT.LinguisticSystem,
        f"{EU}country": DCT.Location,
        f"{EU}frequency": DCT.Frequency,
        f"{EU}file-type": DCT.MediaTypeOrExtent,
        f"{EU}licence": DCT.LicenseDocument,
        f"{EU}planned-availability": SKOS.Concept,
    }[scheme]
