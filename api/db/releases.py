"""Read side of the registry: loaded releases, `latest` resolution and table specs."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import orjson
import sqlalchemy as sa
from sqlmodel import Session, select

from api.db.registry import FieldDef, Release, Resource, table_of
from api.db.sqltypes import build_table
from api.errors import NotFound, quoted
from api.model import FieldSpec, ReleaseInfo, ResourceInfo, TableSpec

T = TypeVar("T")
DERIVED_SIZE = 256  # documents kept per snapshot (catalog pages, CKAN dicts, descriptors)


@dataclass(frozen=True)
class LoadedRelease:
    """A release as the server sees it: public info plus the ids of its tables."""

    id: int
    info: ReleaseInfo
    tables: Mapping[str, int]  # resource name -> registry resource id
    content_hash: str


@dataclass
class Snapshot:
    """All loaded releases at one moment, grouped by package, oldest release first."""

    packages: dict[str, list[LoadedRelease]]
    marker: tuple[int, int]
    _specs: dict[int, TableSpec] = field(default_factory=dict)
    _derived: OrderedDict[Hashable, Any] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def derived(self, key: Hashable, build: Callable[[], T]) -> T:
        """What `build` derives from this snapshot alone, built once per key (the last
        DERIVED_SIZE kept): whole catalogs are rebuilt only when a release is loaded."""
        with self._lock:
            if key in self._derived:
                self._derived.move_to_end(key)
                return cast(T, self._derived[key])
        value = build()
        with self._lock:
            self._derived[key] = value
            while len(self._derived) > DERIVED_SIZE:
                self._derived.popitem(last=False)
        return value

    def releases(self, package: str) -> list[LoadedRelease]:
        """Every release of a package, oldest first; NotFound when there is none."""
        found = self.packages.get(package)
        if not found:
            raise NotFound(f"no package named {quoted(package)}")
        return found

    def release(self, package: str, version: str) -> LoadedRelease:
        """Resolve a SemVer string or `latest` to a loaded release."""
        releases = self.releases(package)
        if version == "latest":
            return releases[-1]
        for candidate in releases:
            if candidate.info.version == version:
                return candidate
        known = ", ".join(r.info.version for r in releases)
        raise NotFound(
            f"package {quoted(package)} has no release {quoted(version)} (releases: {known})"
        )

    def successor(self, package: str, version: str) -> LoadedRelease | None:
        """The release that follows `version`, if any."""
        releases = self.releases(package)
        for index, candidate in enumerate(releases[:-1]):
            if candidate.info.version == version:
                return releases[index + 1]
        return None


RELEASES = table_of(Release)


def _version_key(row: Release) -> tuple[int, int, int, int, str]:
    return (row.major, row.minor, row.patch, 0 if row.prerelease else 1, row.prerelease)


def _marker(connection: sa.Connection) -> tuple[int, int]:
    row = connection.execute(
        sa.select(sa.func.count(), sa.func.coalesce(sa.func.max(RELEASES.c.id), 0))
    ).one()
    return int(row[0]), int(row[1])


def read_snapshot(connection: sa.Connection) -> Snapshot:
    """Read every loaded release from the registry."""
    marker = _marker(connection)
    session = Session(bind=connection)
    releases = session.exec(select(Release)).all()
    resources = session.exec(select(Resource)).all()
    by_release: dict[int, list[Any]] = {}
    for resource in resources:
        by_release.setdefault(resource.release_id, []).append(resource)
    packages: dict[str, list[LoadedRelease]] = {}
    for row in sorted(releases, key=_version_key):
        assert row.id is not None
        own = sorted(by_release.get(row.id, []), key=lambda r: r.position)
        info = ReleaseInfo(
            package=row.package,
            version=row.version,
            published=row.published,
            loaded_at=row.loaded_at,
            descriptor=orjson.loads(row.descriptor),
            resources=tuple(
                ResourceInfo(
                    name=r.name,
                    row_count=r.row_count,
                    bytes=r.bytes,
                    hash=r.hash,
                    title=r.title,
                    description=r.description,
                )
                for r in own
            ),
            changelog=row.changelog,
        )
        packages.setdefault(row.package, []).append(
            LoadedRelease(
                id=row.id,
                info=info,
                tables={r.name: r.id for r in own},
                content_hash=row.content_hash,
            )
        )
    return Snapshot(packages=dict(sorted(packages.items())), marker=marker)


def _table_spec(connection: sa.Connection, release: LoadedRelease, resource: str) -> TableSpec:
    resource_id = release.tables[resource]
    session = Session(bind=connection)
    row = session.exec(select(Resource).where(Resource.id == resource_id)).one()
    defs = session.exec(
        select(FieldDef).where(FieldDef.resource_id == resource_id).order_by(FieldDef.position)  # type: ignore[arg-type]
    ).all()
    descriptors = [orjson.loads(d.descriptor) for d in defs]
    primary_key = tuple(orjson.loads(row.primary_key))
    table = build_table(sa.MetaData(), row.table_name, descriptors, primary_key)
    fields = tuple(
        FieldSpec(
            name=d["name"],
            type=d.get("type", "any"),
            format=d.get("format"),
            title=d.get("title"),
            description=d.get("description"),
            constraints=d.get("constraints") or {},
            descriptor=d,
        )
        for d in descriptors
    )
    inspector = sa.inspect(connection)
    leading: set[str] = {
        index["column_names"][0]
        for index in inspector.get_indexes(row.table_name)
        if index["column_names"] and index["column_names"][0]
    }
    return TableSpec(
        indexed=frozenset(leading | set(primary_key[:1])),
        package=release.info.package,
        version=release.info.version,
        resource=resource,
        table=table,
        fields=fields,
        primary_key=primary_key,
        row_count=row.row_count,
        title=row.title,
        description=row.description,
    )


class Catalog:
    """Process-wide view of the registry, re-read as soon as a new release is committed.

    Every call checks the registry's generation (one indexed count and max over `od_releases`),
    so every worker sees a committed load on its very next request.
    """

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None

    def snapshot(self) -> Snapshot:
        """The current snapshot, re-read when the registry's generation changed."""
        with self.engine.connect() as connection:
            marker = _marker(connection)
            current = self._snapshot
            if current is not None and current.marker == marker:
                return current
            with self._lock:
                if self._snapshot is None or self._snapshot.marker != marker:
                    self._snapshot = read_snapshot(connection)
                return self._snapshot

    def table_spec(
        self, package: str, version: str, resource: str, *, snapshot: Snapshot | None = None
    ) -> TableSpec:
        """Resolve (package, version or latest, resource) to a queryable table.

        :param snapshot: the snapshot the caller already resolved the release in, so that
            `latest` means the same release for both even if a load lands in between.
        """
        snapshot = snapshot or self.snapshot()
        return self.resource_spec(snapshot.release(package, version), resource, snapshot=snapshot)

    def resource_spec(
        self, release: LoadedRelease, resource: str, *, snapshot: Snapshot
    ) -> TableSpec:
        """The queryable table of a resource of an already resolved release, or NotFound."""
        if resource not in release.tables:
            names, info = ", ".join(release.tables), release.info
            raise NotFound(
                f"release {info.package} {info.version} has no resource {quoted(resource)}"
                f" (resources: {names})"
            )
        resource_id = release.tables[resource]
        spec = snapshot._specs.get(resource_id)
        if spec is None:
            with self.engine.connect() as connection:
                spec = _table_spec(connection, release, resource)
            snapshot._specs[resource_id] = spec
        return spec
