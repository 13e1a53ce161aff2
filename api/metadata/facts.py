"""Metadata for harvesters and citations: the facts every format shares, read once per package.

Catalog-level facts a Data Package lacks (publisher, contact point, themes, coverage, frequency,
language) come from the descriptor's ``x-catalog`` object. Without it: the publisher is the
contributor with role ``publisher``, the contact point the contributor with role ``maintainer``
or ``contact``, and the authors are the contributors with role ``author`` or ``creator`` (else
the publisher). What is still unknown is left out, except where a format *requires* it: the
DCAT catalog's publisher, DCAT-US's publisher and contact point, and CFF's authors then name the
publisher, else the host of the base URL, i.e. the service that publishes the copy described.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from api.metadata.urls import Links
from api.metadata.vocab import EU, Licence, resolve_licence
from api.model import ReleaseInfo
from api.timestamps import timestamp_date

AUTHOR_ROLES = frozenset({"author", "creator"})
CONTACT_ROLES = frozenset({"maintainer", "contact", "contactperson", "contact_point"})
PUBLISHER_ROLES = frozenset({"publisher"})
_HEX = re.compile(r"^[0-9a-fA-F]+$")
_HASH_LENGTHS = {32: "md5", 40: "sha1", 64: "sha256", 128: "sha512"}


@dataclass(frozen=True)
class Agent:
    """A person or organisation named in a descriptor."""

    name: str
    email: str | None = None
    url: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    organization: str | None = None
    roles: tuple[str, ...] = ()

    @property
    def is_person(self) -> bool:
        """True when the descriptor says it is a person (given/family name or affiliation)."""
        return bool(self.given_name or self.family_name or self.organization)


@dataclass(frozen=True)
class Source:
    """One entry of the descriptor's ``sources``."""

    title: str
    url: str | None = None


@dataclass(frozen=True)
class ResourceFacts:
    """One resource of the latest release."""

    name: str
    title: str
    description: str | None
    row_count: int
    bytes: int | None
    checksum: tuple[str, str] | None  # (algorithm, lower-case hex)
    fields: tuple[Mapping[str, Any], ...]


@dataclass(frozen=True)
class PackageFacts:
    """What the metadata builders need to know about one package (its latest release)."""

    package: str
    version: str
    releases: tuple[ReleaseInfo, ...]
    title: str
    description: str
    keywords: tuple[str, ...]
    licence: Licence
    publisher: Agent | None
    contact: Agent | None
    creators: tuple[Agent, ...]
    themes: tuple[str, ...]
    spatial: tuple[str, ...]
    languages: tuple[str, ...]
    frequency: str | None
    temporal_start: str | None
    temporal_end: str | None
    issued: date
    released: date
    modified: datetime
    resources: tuple[ResourceFacts, ...]
    sources: tuple[Source, ...]

    @property
    def latest(self) -> ReleaseInfo:
        """The newest release."""
        return self.releases[-1]

    @property
    def authors(self) -> tuple[Agent, ...]:
        """Who to credit in a citation: the creators, else the publisher, else nobody."""
        if self.creators:
            return self.creators
        return (self.publisher,) if self.publisher else ()


@dataclass(frozen=True)
class CatalogInfo:
    """Facts about the catalog itself (title, publisher) that no package carries."""

    title: str = "Open data catalog"
    description: str = "Versioned, validated open data packages served by a read-only API."
    publisher: Agent | None = None
    languages: tuple[str, ...] = (f"{EU}language/ENG",)


def utc(moment: datetime) -> datetime:
    """The moment as an aware UTC datetime (naive values are taken as UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def iso_z(moment: datetime) -> str:
    """ISO 8601 in UTC with a ``Z`` suffix and whole seconds."""
    return utc(moment).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def parse_checksum(value: str | None) -> tuple[str, str] | None:
    """Split ``sha256:<hex>`` (or plain hex, algorithm from its length) into (algorithm, hex)."""
    if not value:
        return None
    algorithm, _, digest = str(value).rpartition(":")
    digest = digest.strip()
    if not _HEX.match(digest):
        return None
    algorithm = algorithm.strip().lower().replace("-", "") or _HASH_LENGTHS.get(len(digest), "")
    return (algorithm, digest.lower()) if algorithm else None


def host_agent(links: Links) -> Agent:
    """The service the links point at, named by its host, as a last-resort publisher."""
    return Agent(name=links.host, url=links.home())


def publisher_or_host(facts: PackageFacts, *, links: Links) -> Agent:
    """The declared publisher, else the service that publishes this copy."""
    return facts.publisher or host_agent(links)


def contact_or_publisher(facts: PackageFacts, *, links: Links) -> Agent:
    """The declared contact point, else the publisher (declared, else the host)."""
    return facts.contact or publisher_or_host(facts, links=links)


def catalog_publisher(
    info: CatalogInfo, packages: Sequence[PackageFacts], *, links: Links
) -> Agent:
    """The catalog's publisher: configured, else the one all packages share, else the host."""
    if info.publisher is not None:
        return info.publisher
    named = {facts.publisher for facts in packages if facts.publisher is not None}
    if len(named) == 1 and all(facts.publisher for facts in packages):
        return named.pop()
    return host_agent(links)


def _strings(value: Any) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    items = value if isinstance(value, list | tuple) else [value]
    return tuple(dict.fromkeys(str(item).strip() for item in items if str(item).strip()))


def _text(mapping: Mapping[str, Any], key: str) -> str | None:
    value = mapping.get(key)
    return str(value).strip() or None if value is not None else None


def _contributor(raw: Mapping[str, Any]) -> Agent | None:
    given, family = _text(raw, "givenName"), _text(raw, "familyName")
    name = _text(raw, "title") or " ".join(p for p in (given, family) if p) or _text(raw, "name")
    if not name:
        return None
    roles = _strings(raw.get("roles")) or _strings(raw.get("role"))
    return Agent(
        name=name,
        email=_text(raw, "email"),
        url=_text(raw, "path"),
        given_name=given,
        family_name=family,
        organization=_text(raw, "organization"),
        roles=tuple(role.lower() for role in roles),
    )


def _agent(raw: Any) -> Agent | None:
    if not isinstance(raw, Mapping):
        return None
    name = _text(raw, "name") or _text(raw, "fn") or _text(raw, "title")
    if not name:
        return None
    email = _text(raw, "email") or _text(raw, "hasEmail")
    if email and email.lower().startswith("mailto:"):
        email = email[len("mailto:") :]
    return Agent(name=name, email=email, url=_text(raw, "url") or _text(raw, "path"))


def _with_role(agents: Sequence[Agent], roles: frozenset[str]) -> list[Agent]:
    return [agent for agent in agents if roles.intersection(agent.roles)]


def _resource(release: ReleaseInfo, index: int) -> ResourceFacts:
    info = release.resources[index]
    declared = [r for r in release.descriptor.get("resources") or [] if isinstance(r, Mapping)]
    raw = next((r for r in declared if r.get("name") == info.name), {})
    schema = raw.get("schema") if isinstance(raw.get("schema"), Mapping) else {}
    fields = tuple(f for f in (schema or {}).get("fields") or [] if isinstance(f, Mapping))
    size = info.bytes if info.bytes is not None else raw.get("bytes")
    return ResourceFacts(
        name=info.name,
        title=info.title or _text(raw, "title") or info.name,
        description=info.description or _text(raw, "description"),
        row_count=info.row_count,
        bytes=int(size) if size is not None else None,
        checksum=parse_checksum(info.hash or raw.get("hash")),
        fields=fields,
    )


def _absolute(raw: Mapping[str, Any]) -> str | None:
    """The source's path when it is an absolute web URL (relative paths point into the zip)."""
    path = _text(raw, "path")
    return path if path and path.lower().startswith(("http://", "https://")) else None


def _release_date(release: ReleaseInfo) -> date:
    return (
        release.published
        or timestamp_date(release.descriptor.get("created"))
        or release.loaded_at.date()
    )


def _description(release: ReleaseInfo) -> str:
    text = _text(release.descriptor, "description")
    if text:
        return text
    names = ", ".join(r.name for r in release.resources) or "none"
    count = len(release.resources)
    return (
        f"Data package {release.package}, version {release.version}, "
        f"with {count} resource{'s' if count != 1 else ''}: {names}."
    )


def package_facts(releases: Sequence[ReleaseInfo]) -> PackageFacts:
    """Read the shared facts of a package from its releases (oldest first)."""
    if not releases:
        raise ValueError("a package needs at least one release")
    latest = releases[-1]
    descriptor = latest.descriptor
    extra = descriptor.get("x-catalog")
    catalog: Mapping[str, Any] = extra if isinstance(extra, Mapping) else {}
    contributors = [
        agent
        for raw in descriptor.get("contributors") or []
        if isinstance(raw, Mapping)
        if (agent := _contributor(raw)) is not None
    ]
    publisher = _agent(catalog.get("publisher")) or next(
        iter(_with_role(contributors, PUBLISHER_ROLES)), None
    )
    contact = _agent(catalog.get("contactPoint")) or next(
        iter(_with_role(contributors, CONTACT_ROLES)), None
    )
    temporal = catalog.get("temporal") if isinstance(catalog.get("temporal"), Mapping) else {}
    licences = [raw for raw in descriptor.get("licenses") or [] if isinstance(raw, Mapping)]
    sources = tuple(
        Source(title=_text(raw, "title") or _text(raw, "path") or "source", url=_absolute(raw))
        for raw in descriptor.get("sources") or []
        if isinstance(raw, Mapping)
    )
    return PackageFacts(
        package=latest.package,
        version=latest.version,
        releases=tuple(releases),
        title=latest.title,
        description=_description(latest),
        keywords=_strings(descriptor.get("keywords")),
        licence=resolve_licence(licences[0] if licences else None),
        publisher=publisher,
        contact=contact,
        creators=tuple(_with_role(contributors, AUTHOR_ROLES)),
        themes=_strings(catalog.get("themes") or catalog.get("theme")),
        spatial=_strings(catalog.get("spatial")),
        languages=_strings(catalog.get("language")),
        frequency=_text(catalog, "accrualPeriodicity"),
        temporal_start=_text(temporal or {}, "start"),
        temporal_end=_text(temporal or {}, "end"),
        issued=timestamp_date(catalog.get("issued")) or min(_release_date(r) for r in releases),
        released=_release_date(latest),
        modified=utc(latest.loaded_at),
        resources=tuple(_resource(latest, i) for i in range(len(latest.resources))),
        sources=sources,
    )
