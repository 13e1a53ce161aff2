"""A seeded list of mixed-traffic URLs for any loaded database, read from its registry."""

from __future__ import annotations

import json
import random
import sqlite3
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

BIG_TABLE = 50_000
"""Above this many rows, exports and workbooks get a narrow filter (a few hundred rows)."""
SIZES = (1, 5, 10, 25, 50, 100, 100, 100, 250, 500, 1000)
CITATION_FORMATS = ("apa", "bibtex", "ris", "csl-json", "cff")
SEARCH_WORDS = ("scam", "cambodia", "deport", "synthetic", "crackdown", "figures", "police")
WEIGHTS = {  # URL class -> share of the list (diff is left out for a single-release package)
    "page": 36, "lookup": 12, "csv": 2, "csv-filtered": 5, "ndjson": 4, "xlsx": 2,
    "metadata": 10, "ckan": 8, "html": 6, "diff": 6, "citation": 9,
}


@dataclass(frozen=True)
class Column:
    """One column of a loaded resource."""

    name: str
    type: str
    required: bool
    enum: tuple[Any, ...]
    indexed: bool


@dataclass(frozen=True)
class Resource:
    """One loaded resource, with a random sample of its rows."""

    package: str
    version: str
    name: str
    rows: int
    primary_key: tuple[str, ...]
    columns: tuple[Column, ...]
    sample: tuple[dict[str, Any], ...]

    def path(self, version: str | None = None, suffix: str = "") -> str:
        """The rows URL of this resource, for its version or `latest`."""
        return f"/v1/datasets/{self.package}/{version or self.version}/{self.name}{suffix}"


@dataclass(frozen=True)
class Catalog:
    """What a database serves: packages, their versions in order, their resources."""

    versions: dict[str, list[str]]
    resources: tuple[Resource, ...]

    @classmethod
    def read(cls, database: Path, sample: int = 200, seed: int = 1) -> Catalog:
        """Read the registry and a seeded sample of every table."""
        rnd = random.Random(seed)
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
            connection.row_factory = sqlite3.Row
            releases = connection.execute(
                "SELECT package, version FROM od_releases ORDER BY package, major, minor, patch"
            ).fetchall()
            versions: dict[str, list[str]] = {}
            for row in releases:
                versions.setdefault(row["package"], []).append(row["version"])
            found = []
            for row in connection.execute(
                "SELECT r.package, r.version, s.id, s.name, s.table_name, s.row_count,"
                " s.primary_key FROM od_resources s JOIN od_releases r ON r.id = s.release_id"
            ).fetchall():
                found.append(_resource(connection, row, sample, rnd))
        return cls(versions, tuple(found))


def _resource(connection: sqlite3.Connection, row: sqlite3.Row, size: int,
              rnd: random.Random) -> Resource:
    table = row["table_name"]
    indexed = set(json.loads(row["primary_key"])[:1])
    for index in connection.execute(f'PRAGMA index_list("{table}")').fetchall():
        first = connection.execute(f'PRAGMA index_info("{index["name"]}")').fetchone()
        indexed.add(first["name"])
    columns = []
    for field in connection.execute(
        "SELECT name, type, descriptor FROM od_fields WHERE resource_id = ? ORDER BY position",
        (row["id"],),
    ).fetchall():
        constraints = json.loads(field["descriptor"]).get("constraints", {})
        columns.append(Column(field["name"], field["type"], bool(constraints.get("required")),
                              tuple(constraints.get("enum", ())), field["name"] in indexed))
    last = connection.execute(f'SELECT max(rowid) FROM "{table}"').fetchone()[0] or 0
    if last <= size:
        rows = connection.execute(f'SELECT * FROM "{table}"').fetchall()
    else:
        picked = ",".join(str(rnd.randint(1, last)) for _ in range(size))
        rows = connection.execute(f'SELECT * FROM "{table}" WHERE rowid IN ({picked})').fetchall()
    return Resource(row["package"], row["version"], row["name"], row["row_count"],
                    tuple(json.loads(row["primary_key"])), tuple(columns),
                    tuple(dict(r) for r in rows))


# Filters -----------------------------------------------------------------------------------------

ORDERED = {"integer", "number", "date", "string", "year"}


def _text(value: Any) -> str:
    return str(value)


def _value(rnd: random.Random, resource: Resource, column: Column) -> Any:
    values = [r[column.name] for r in resource.sample if r[column.name] is not None]
    return rnd.choice(values) if values else None


def _filter(rnd: random.Random, resource: Resource, column: Column) -> list[tuple[str, str]]:
    """One filter on one column, fitting its type, with values seen in the table."""
    value = _value(rnd, resource, column)
    if value is None:
        return [(f"{column.name}__isnull", "1")]
    name, kind = column.name, column.type
    if kind == "date":
        start = date.fromisoformat(str(value)[:10])
        end = start + timedelta(days=rnd.randint(0, 89))
        return [(f"{name}__between", f"{start}..{end}")] if rnd.random() < 0.8 else [
            (f"{name}__gte", str(start))]
    if kind in ("integer", "number"):
        other = _value(rnd, resource, column)
        low, high = sorted((value, other))
        choice = rnd.random()
        if choice < 0.4:
            return [(f"{name}__between", f"{low}..{high}")]
        if choice < 0.7:
            return [(f"{name}__gte", _text(value))]
        return [(f"{name}__lt", _text(value))] if choice < 0.85 else [(name, _text(value))]
    if kind == "string":
        choice = rnd.random()
        if choice < 0.55 or "," in str(value):
            return [(name, str(value))]
        if choice < 0.7:
            picks = {str(_value(rnd, resource, column)) for _ in range(rnd.randint(2, 3))} | {
                str(value)}
            return [(f"{name}__in", ",".join(sorted(v for v in picks if "," not in v)))]
        if choice < 0.8:
            return [(f"{name}__not", str(value))]
        if choice < 0.9:
            return [(f"{name}__startswith", str(value)[: rnd.randint(1, 3)])]
        word = rnd.choice(str(value).split() or [str(value)])
        return [(f"{name}__icontains", word[:8])]
    if not column.required:
        return [(f"{name}__{rnd.choice(('isnull', 'notnull'))}", rnd.choice(("1", "0")))]
    return []


def _narrow(rnd: random.Random, resource: Resource, days: int) -> list[tuple[str, str]]:
    """A filter matching few rows of a big table: an indexed equality and a short range.

    The equality is on the indexed `enum` column with the most values; the range is a date
    window of up to `days` days, or 300 keys.
    """
    params: list[tuple[str, str]] = []
    equal = [c for c in resource.columns if c.indexed and c.type == "string" and c.enum]
    if equal:
        column = max(equal, key=lambda c: len(c.enum))
        params.append((column.name, str(_value(rnd, resource, column))))
    dates = [c for c in resource.columns if c.indexed and c.type == "date"]
    key = resource.primary_key[0]
    if dates:
        start = date.fromisoformat(str(_value(rnd, resource, dates[0]))[:10])
        end = start + timedelta(days=rnd.randint(0, days - 1))
        params.append((f"{dates[0].name}__between", f"{start}..{end}"))
    else:
        low = _value(rnd, resource, next(c for c in resource.columns if c.name == key))
        params += ([(f"{key}__between", f"{low}..{low + 300}")] if isinstance(low, int)
                   else [(key, str(low))])
    return params


def _page_query(rnd: random.Random, resource: Resource) -> list[tuple[str, str]]:
    """Zero to three random filters, maybe a sort, a size, a facet, a column choice."""
    usable = [c for c in resource.columns if c.type in ORDERED or not c.required]
    params: list[tuple[str, str]] = []
    for column in rnd.sample(usable, k=min(len(usable), rnd.choice((0, 1, 1, 2, 2, 3)))):
        params += _filter(rnd, resource, column)
    if rnd.random() < 0.6:
        keys = rnd.sample(resource.columns, k=min(len(resource.columns), rnd.choice((1, 1, 2))))
        params.append(("_sort", ",".join(("-" if rnd.random() < 0.4 else "") + c.name
                                         for c in keys)))
    params.append(("_size", str(rnd.choice(SIZES))))
    enums = [c for c in resource.columns if c.enum]
    if enums and rnd.random() < 0.2:
        params.append(("_facet", rnd.choice(enums).name))
    if rnd.random() < 0.15:
        chosen = rnd.sample(resource.columns, k=rnd.randint(1, len(resource.columns)))
        params.append(("_col", ",".join(c.name for c in chosen)))
    if rnd.random() < 0.1:
        params.append(("_count", "none"))
    return params


def _with(path: str, params: list[tuple[str, str]]) -> str:
    return f"{path}?{urlencode(params)}" if params else path


# The list ----------------------------------------------------------------------------------------


def _one(rnd: random.Random, label: str, catalog: Catalog) -> str:
    resource = rnd.choice([r for r in catalog.resources if r.sample])
    package = resource.package
    latest = catalog.versions[package][-1]
    version = "latest" if resource.version == latest and rnd.random() < 0.3 else None
    big = resource.rows > BIG_TABLE
    if label == "page":
        suffix = rnd.choice(("", ".json"))
        return _with(resource.path(version, suffix), _page_query(rnd, resource))
    if label == "lookup":
        row = rnd.choice(resource.sample)
        key = ",".join(quote(str(row[k]), safe="") for k in resource.primary_key)
        return resource.path(version, f"/{key}")
    if label == "csv":
        return resource.path(version, ".csv")
    if label in ("csv-filtered", "ndjson", "xlsx"):
        narrow = _narrow(rnd, resource, 3 if label == "xlsx" else 7)
        params = narrow if big else _page_query(rnd, resource)
        params = [(k, v) for k, v in params if k not in ("_size", "_facet", "_count")]
        suffix = {"csv-filtered": ".csv", "ndjson": ".ndjson", "xlsx": ".xlsx"}[label]
        if label == "csv-filtered" and rnd.random() < 0.3:
            params.append(("_delimiter", rnd.choice((";", "tab"))))
        return _with(resource.path(version, suffix), params)
    release = f"/v1/datasets/{package}/{version or resource.version}"
    if label == "metadata":
        return rnd.choice((f"{release}/datapackage.json", "/datapackage.json", "/catalog.jsonld",
                           "/catalog.ttl", "/catalog.rdf", "/data.json", "/v1/datasets",
                           f"/v1/datasets/{package}", f"{release}/validation.json",
                           "/sitemap.xml"))
    if label == "ckan":
        return rnd.choice((
            "/api/3/action/package_list", f"/api/3/action/package_show?id={package}",
            f"/api/3/action/package_search?q={rnd.choice(SEARCH_WORDS)}&rows={rnd.randint(1, 20)}",
            "/api/3/action/status_show"))
    if label == "html":
        return rnd.choice(("/", f"/datasets/{package}"))
    if label == "diff":
        old, new = sorted(rnd.sample(catalog.versions[package], 2),
                          key=catalog.versions[package].index)
        if rnd.random() < 0.5:
            return f"/v1/datasets/{package}/diff?from={old}&to={new}"
        names = sorted({r.name for r in catalog.resources if r.package == package
                        and r.version == old} & {r.name for r in catalog.resources
                                                 if r.package == package and r.version == new})
        return (f"/v1/datasets/{package}/diff{rnd.choice(('', '.csv'))}?from={old}&to={new}"
                f"&resource={rnd.choice(names)}")
    return f"{release}/citation?format={rnd.choice(CITATION_FORMATS)}"


def mixed_urls(catalog: Catalog, *, count: int, seed: int) -> list[tuple[str, str]]:
    """`count` (class, path) pairs drawn with `WEIGHTS`, shuffled, the same for a seed."""
    rnd = random.Random(seed)
    weights = dict(WEIGHTS)
    if all(len(versions) < 2 for versions in catalog.versions.values()):
        del weights["diff"]
    labels = rnd.choices(list(weights), weights=list(weights.values()), k=count)
    return [(label, _one(rnd, label, catalog)) for label in labels]
