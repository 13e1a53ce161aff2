"""Bodies of the CKAN read API (``package_list``, ``package_show``, ``package_search``).

Shapes follow CKAN 2.10: the ``{"help", "success", "result"}`` envelope, package and resource
dicts with CKAN's field names and timestamp format, and CKAN's error dicts. Search is done in
Python over the package dicts (a catalog holds few packages); it supports the subset of Solr
syntax that harvesters send (see `search_packages`).
"""

from __future__ import annotations

import fnmatch
import json
import re
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from api.errors import ApiError
from api.metadata import PackageFacts, iso_z, package_facts, urls, utc
from api.metadata.vocab import FILE_FORMATS, label
from api.model import ReleaseInfo

DEFAULT_ROWS = 10
MAX_ROWS = 1000
DEFAULT_SORT = "score desc, metadata_modified desc"
SORTABLE = (
    "id",
    "name",
    "title_string",
    "metadata_created",
    "metadata_modified",
    "score",
    "num_resources",
    "num_tags",
)
_TAG = re.compile(r"^[\w \-.]{2,100}$")


class CkanError(ApiError):
    """An error reported in CKAN's own shape (`error` is the envelope's ``error`` member)."""

    status: ClassVar[int] = 409
    code: ClassVar[str] = "ckan-error"
    title: ClassVar[str] = "CKAN error"

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(str(error.get("message") or error), details={"error": error})
        self.error = error


class CkanValidationError(CkanError):
    """A bad parameter: ``{"__type": "Validation Error", "<param>": ["message"]}``, status 409."""

    code = "ckan-validation-error"
    title = "Validation Error"

    def __init__(self, param: str, message: str) -> None:
        super().__init__({"__type": "Validation Error", param: [message]})


class CkanNotFound(CkanError):
    """No such package: ``{"__type": "Not Found Error", "message": "Not found"}``, status 404."""

    status = 404
    code = "ckan-not-found"
    title = "Not Found Error"

    def __init__(self) -> None:
        super().__init__({"__type": "Not Found Error", "message": "Not found"})


def envelope(action: str, result: Any, *, base_url: str) -> dict[str, Any]:
    """A successful action response."""
    return {"help": urls.ckan_help_url(base_url, action), "success": True, "result": result}


def error_envelope(action: str, error: dict[str, Any], *, base_url: str) -> dict[str, Any]:
    """A failed action response (send with the error's status: 404, 409...)."""
    return {"help": urls.ckan_help_url(base_url, action), "success": False, "error": error}


def ckan_time(moment: datetime) -> str:
    """CKAN's timestamp format: UTC, microseconds, no zone suffix."""
    return utc(moment).replace(tzinfo=None).strftime("%Y-%m-%dT%H:%M:%S.%f")


def ckan_name(value: str) -> str:
    """A valid CKAN name: 2 to 100 of lower-case letters, digits, ``-`` and ``_``."""
    name = re.sub(r"[^a-z0-9_-]+", "-", value.lower()).strip("-")[:100] or "package"
    return name if len(name) >= 2 else f"{name}-"


def _id(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join(parts)))


def _organization(facts: PackageFacts, *, base_url: str, created: str) -> dict[str, Any] | None:
    if facts.publisher is None:
        return None
    name = ckan_name(facts.publisher.name)
    return {
        "id": _id(base_url, "organization", name),
        "name": name,
        "title": facts.publisher.name,
        "type": "organization",
        "description": "",
        "image_url": "",
        "created": created,
        "is_organization": True,
        "approval_status": "approved",
        "state": "active",
    }


def _resources(facts: PackageFacts, *, base_url: str, package_id: str) -> list[dict[str, Any]]:
    loaded = ckan_time(facts.latest.loaded_at)
    package, version = facts.package, facts.version
    files: list[tuple[str, str, str | None, str, int | None, str]] = [
        (
            urls.rows_url(base_url, package=package, version=version, resource=r.name),
            r.title,
            r.description,
            "csv",
            r.bytes,
            f"{r.checksum[0]}:{r.checksum[1]}" if r.checksum else "",
        )
        for r in facts.resources
    ]
    files.append(
        (
            urls.zip_url(base_url, package=package, version=version),
            f"{facts.title}, version {version} (ZIP)",
            "Every resource of the release with its datapackage.json.",
            "zip",
            None,
            "",
        )
    )
    return [
        {
            "id": _id(url),
            "package_id": package_id,
            "name": name,
            "description": text or "",
            "format": FILE_FORMATS[fmt].label,
            "mimetype": FILE_FORMATS[fmt].media_type,
            "mimetype_inner": None,
            "url": url,
            "size": size,
            "hash": digest,
            "position": position,
            "created": loaded,
            "last_modified": loaded,
            "metadata_modified": loaded,
            "state": "active",
            "datastore_active": False,
            "url_type": None,
            "resource_type": None,
            "cache_url": None,
            "cache_last_updated": None,
        }
        for position, (url, name, text, fmt, size, digest) in enumerate(files)
    ]


def _extras(facts: PackageFacts, *, base_url: str) -> list[dict[str, str]]:
    iri = urls.dataset_iri(base_url, facts.package)
    publisher, contact = facts.publisher, facts.contact
    versions = [
        {
            "version": r.version,
            "published": r.published.isoformat() if r.published else None,
            "datapackage_url": urls.descriptor_url(base_url, package=r.package, version=r.version),
        }
        for r in facts.releases
    ]
    values: dict[str, str | None] = {
        "uri": iri,
        "identifier": iri,
        "issued": facts.issued.isoformat(),
        "modified": iso_z(facts.modified),
        "datapackage_url": urls.descriptor_url(
            base_url, package=facts.package, version=facts.version
        ),
        "versions": json.dumps(versions),
        "version_notes": facts.latest.changelog,
        "theme": json.dumps(list(facts.themes)) if facts.themes else None,
        "language": json.dumps(list(facts.languages)) if facts.languages else None,
        "frequency": facts.frequency,
        "spatial_uri": facts.spatial[0] if facts.spatial else None,
        "spatial_text": ", ".join(label(s) or s for s in facts.spatial) or None,
        "temporal_start": facts.temporal_start,
        "temporal_end": facts.temporal_end,
        "publisher_name": publisher.name if publisher else None,
        "publisher_email": publisher.email if publisher else None,
        "publisher_url": publisher.url if publisher else None,
        "contact_name": contact.name if contact else None,
        "contact_email": contact.email if contact else None,
    }
    return [{"key": key, "value": value} for key, value in sorted(values.items()) if value]


def package_dict(releases: Sequence[ReleaseInfo], *, base_url: str) -> dict[str, Any]:
    """The ``package_show`` result for a package (its latest release)."""
    facts = package_facts(releases)
    package_id = _id(urls.dataset_iri(base_url, facts.package))
    created = ckan_time(facts.releases[0].loaded_at)
    organization = _organization(facts, base_url=base_url, created=created)
    tags = [k for k in facts.keywords if _TAG.match(k)]
    resources = _resources(facts, base_url=base_url, package_id=package_id)
    licence = facts.licence
    return {
        "id": package_id,
        "name": ckan_name(facts.package),
        "title": facts.title,
        "notes": facts.description,
        "version": facts.version,
        "url": urls.landing_page(base_url, facts.package),
        "license_id": licence.ckan_id,
        "license_title": licence.ckan_title,
        "license_url": licence.url,
        "isopen": licence.is_open,
        "author": ", ".join(a.name for a in facts.creators) or None,
        "author_email": next((a.email for a in facts.creators if a.email), None),
        "maintainer": facts.contact.name if facts.contact else None,
        "maintainer_email": facts.contact.email if facts.contact else None,
        "state": "active",
        "type": "dataset",
        "private": False,
        "creator_user_id": None,
        "metadata_created": created,
        "metadata_modified": ckan_time(facts.modified),
        "owner_org": organization["id"] if organization else None,
        "organization": organization,
        "tags": [
            {
                "id": _id(base_url, "tag", tag),
                "name": tag,
                "display_name": tag,
                "state": "active",
                "vocabulary_id": None,
            }
            for tag in tags
        ],
        "num_tags": len(tags),
        "resources": resources,
        "num_resources": len(resources),
        "extras": _extras(facts, base_url=base_url),
        "groups": [],
        "relationships_as_object": [],
        "relationships_as_subject": [],
    }


def package_list(dicts: Sequence[dict[str, Any]]) -> list[str]:
    """The ``package_list`` result: package names, alphabetically."""
    return sorted(d["name"] for d in dicts)


def find_package(dicts: Sequence[dict[str, Any]], id_or_name: str) -> dict[str, Any]:
    """The package whose ``id`` or ``name`` is `id_or_name`, else `CkanNotFound`."""
    for found in dicts:
        if id_or_name in (found["id"], found["name"]):
            return found
    raise CkanNotFound()


_TOKEN = re.compile(
    r'(?P<sign>[+-]?)(?P<field>[A-Za-z_]+):(?P<value>"(?:[^"\\]|\\.)*"|[\[{][^\]}]*[\]}]|[^\s+]+)'
    r'|"(?P<phrase>[^"]*)"|(?P<word>[^\s+]+)'
)
_RANGE = re.compile(r"^([\[{])\s*(\S+)\s+TO\s+(\S+)\s*([\]}])$")
_MATH = re.compile(r"([/+-])(\d*)([A-Z]+?)S?(?=[/+-]|$)")
_TEXT_FIELDS = {"title": 3, "tags": 2, "name": 2, "notes": 1}
_DATE_FIELDS = ("metadata_modified", "metadata_created")
_UNITS = {"SECOND": 1, "MINUTE": 60, "HOUR": 3600, "DAY": 86400}
_CALENDAR = ("YEAR", "MONTH", "DAY", "HOUR", "MINUTE", "SECOND")
FILTER_FIELDS = (
    "id",
    "name",
    "title",
    "notes",
    "version",
    "state",
    "tags",
    "license_id",
    "organization",
    "groups",
    "res_format",
    "dataset_type",
    *_DATE_FIELDS,
)
Predicate = Callable[[dict[str, Any]], bool]


def _field_values(package: dict[str, Any], field: str) -> list[str]:
    """The values Solr would index for `field` (several for multi-valued fields)."""
    if field == "tags":
        return [t["name"] for t in package["tags"]]
    if field == "organization":
        return [package["organization"]["name"]] if package["organization"] else []
    if field == "groups":
        return [g["name"] for g in package["groups"]]
    if field == "res_format":
        return [r["format"] for r in package["resources"]]
    value = package.get("type" if field == "dataset_type" else field)
    return [] if value is None else [str(value)]


def _solr_date(text: str, now: datetime) -> datetime | None:
    """An ISO timestamp or Solr date math (``NOW-1DAY``, ``NOW/DAY+7DAYS``); ``*`` is None."""
    if text == "*":
        return None
    if not text.startswith("NOW"):
        try:
            return utc(datetime.fromisoformat(text.replace("Z", "+00:00")))
        except ValueError as exc:
            raise CkanValidationError("fq", f"Invalid date: {text}") from exc
    moment, rest = now, text[3:]
    if _MATH.sub("", rest) or any(u not in _CALENDAR for _, _, u in _MATH.findall(rest)):
        raise CkanValidationError("fq", f"Invalid date math: {text}")
    for op, amount, unit in _MATH.findall(rest):
        if op == "/":
            keep = _CALENDAR.index(unit) + 1
            y, mo, d, h, mi, sec = [
                moment.year,
                moment.month,
                moment.day,
                moment.hour,
                moment.minute,
                moment.second,
            ][:keep] + [1, 1, 1, 0, 0, 0][keep:]
            moment = datetime(y, mo, d, h, mi, sec, tzinfo=UTC)
        elif unit in _UNITS:
            moment += timedelta(seconds=int(amount or 1) * _UNITS[unit] * (-1 if op == "-" else 1))
        else:
            step = int(amount or 1) * (12 if unit == "YEAR" else 1) * (-1 if op == "-" else 1)
            year, month = divmod(moment.year * 12 + moment.month - 1 + step, 12)
            moment = moment.replace(year=year, month=month + 1, day=min(moment.day, 28))
    return moment


def _matcher(field: str, raw: str, now: datetime) -> Predicate:
    if field not in FILTER_FIELDS:
        raise CkanValidationError(
            "fq", f"Unknown field: {field}; supported: {', '.join(FILTER_FIELDS)}"
        )
    bounds = _RANGE.match(raw)
    if bounds is None:
        value = json.loads(raw) if raw.startswith('"') else raw
        if field in ("title", "notes"):
            return lambda p: value.lower() in str(p.get(field) or "").lower()
        if value == "*":
            return lambda p: bool(_field_values(p, field))
        return lambda p: any(fnmatch.fnmatchcase(v, value) for v in _field_values(p, field))
    if field not in _DATE_FIELDS:
        raise CkanValidationError("fq", f"Ranges work on {' and '.join(_DATE_FIELDS)} only")
    low, high = _solr_date(bounds[2], now), _solr_date(bounds[3], now)
    closed = (bounds[1] == "[", bounds[4] == "]")

    def in_range(package: dict[str, Any]) -> bool:
        value = utc(datetime.fromisoformat(package[field]))
        above = low is None or value > low or (closed[0] and value == low)
        below = high is None or value < high or (closed[1] and value == high)
        return above and below

    return in_range


def _negate(predicate: Predicate) -> Predicate:
    return lambda package: not predicate(package)


def _parse(text: str, param: str, now: datetime) -> tuple[list[Predicate], list[str]]:
    """Split `text` into ``field:value`` filters (AND-ed, ``-`` negates) and free words."""
    filters: list[Predicate] = []
    words: list[str] = []
    for token in _TOKEN.finditer(text):
        field = token["field"]
        if field and (param == "fq" or field in FILTER_FIELDS):
            match = _matcher(field, token["value"], now)
            filters.append(_negate(match) if token["sign"] == "-" else match)
        elif token["word"] in ("AND", "&&"):
            continue
        elif param == "fq":
            raise CkanValidationError("fq", f"Cannot parse filter: {token[0]}")
        else:
            words.append((token["phrase"] or token[0]).lower())
    return filters, [w for w in words if w]


def _score(package: dict[str, Any], words: list[str]) -> float:
    if not words:
        return 1.0
    total = 0.0
    for word in words:
        hits = [
            weight
            for field, weight in _TEXT_FIELDS.items()
            if any(word in v.lower() for v in _field_values(package, field))
        ]
        if not hits:
            return 0.0
        total += sum(hits)
    return total


def _sort_keys(sort: str) -> list[tuple[str, bool]]:
    keys = []
    for part in sort.split(","):
        bits = part.split()
        if len(bits) != 2 or bits[0] not in SORTABLE or bits[1].lower() not in ("asc", "desc"):
            raise CkanValidationError(
                "sort",
                f"Invalid sort: {part.strip()!r}; use '<field> asc|desc' with field one"
                f" of {', '.join(SORTABLE)}",
            )
        keys.append((bits[0], bits[1].lower() == "desc"))
    return keys


def search_packages(
    dicts: Sequence[dict[str, Any]],
    *,
    q: str | None = None,
    fq: str | None = None,
    rows: int = DEFAULT_ROWS,
    start: int = 0,
    sort: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The ``package_search`` result.

    :param q: words matched case-insensitively in title, notes, tags and name (all must match);
        ``*:*`` or empty matches everything; ``field:value`` terms act as in `fq`.
    :param fq: ``field:value`` terms, AND-ed (space or ``+`` separated), ``-`` to negate,
        quoted values, ``*`` wildcards, and ``[a TO b]`` / ``{a TO b}`` ranges on the
        metadata dates (ISO timestamps, ``NOW-1DAY`` style date math, ``*`` open ends).
    :param rows: page size; more than 1000 is capped at 1000 as CKAN does.
    """
    if rows < 0:
        raise CkanValidationError("rows", "Must be a natural number")
    if start < 0:
        raise CkanValidationError("start", "Must be a natural number")
    moment = utc(now or datetime.now(UTC))
    order = sort or DEFAULT_SORT
    keys = _sort_keys(order)
    query = "" if q in (None, "", "*:*", "*") else str(q)
    filters, words = _parse(query, "q", moment)
    more, _ = _parse(fq or "", "fq", moment)
    filters += more
    scored = [(p, _score(p, words)) for p in dicts if all(f(p) for f in filters)]
    scored = [(p, score) for p, score in scored if score > 0]
    for field, descending in reversed(keys):

        def key(item: tuple[dict[str, Any], float], field: str = field) -> Any:
            if field == "score":
                return item[1]
            if field == "title_string":
                return str(item[0]["title"]).lower()
            return item[0][field]

        scored.sort(key=key, reverse=descending)
    page = [p for p, _ in scored[start : start + min(rows, MAX_ROWS)]]
    return {"count": len(scored), "facets": {}, "results": page, "sort": order, "search_facets": {}}


__all__ = [
    "CkanError",
    "CkanNotFound",
    "CkanValidationError",
    "ckan_name",
    "ckan_time",
    "envelope",
    "error_envelope",
    "find_package",
    "package_dict",
    "package_list",
    "search_packages",
]
