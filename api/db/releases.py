"""Read side of the registry: loaded releases, `latest` resolution and table specs."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import orjson
import sqlalchemy as sa
from sqlmodel import Session, select

from api.db.registry import FieldDef, Release, Resource, table_of
from api.db.sqltypes import ROLLUP_COUNT, build_rollup_table, build_table, rollup_table_name
from api.errors import NotFound, quoted
from api.lru import LockedLRU
from api.model import (
    FieldSpec,
    ForeignKey,
    Reference,
    ReleaseInfo,
    ResourceInfo,
    Rollup,
    TableSpec,
)

T = TypeVar("T")
DERIVED_SIZE = 256  # documents kept per snapshot (catalog pages, CKAN dicts, descriptors)


@dataclass(frozen=True)
class LoadedRelease:
    """A release as the server sees it: public info plus the ids of its tables."""

    id: int
    info: ReleaseInfo
    tables: Mapping[str, int]  # resource name -> registry resource id
    content_hash: str


@dataclass(frozen=True)
class Snapshot:
    """All loaded releases at one moment, grouped by package, oldest release first.

    Frozen: what it holds never changes. It remembers what is derived from it alone (table
    specs, whole documents), and only through its own methods.
    """

    packages: dict[str, list[LoadedRelease]]
    marker: tuple[int, int]
    _specs: dict[int, TableSpec] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    _derived: LockedLRU[Hashable, Any] = field(
        default_factory=lambda: LockedLRU(DERIVED_SIZE), init=False, repr=False, compare=False
    )

    def derived(self, key: Hashable, build: Callable[[], T]) -> T:
        """What `build` derives from this snapshot alone, built once per key (the last
        DERIVED_SIZE kept): whole catalogs are rebuilt only when a release is loaded."""
        return cast(T, self._derived.get_or_build(key, build))

    def table_spec(self, resource_id: int, build: Callable[[], TableSpec]) -> TableSpec:
        """The spec of a resource of this snapshot, built by `build` the first time."""
        spec = self._specs.get(resource_id)
        if spec is None:
            spec = self._specs[resource_id] = build()
        return spec

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


def _resource_descriptor(release: LoadedRelease, resource: str) -> Mapping[str, Any]:
    for candidate in release.info.descriptor.get("resources", []):
        if candidate.get("name") == resource:
            return cast(Mapping[str, Any], candidate)
    return {}


def _keys(names: Any) -> tuple[str, ...]:
    """Field names as a foreign key writes them: one name or a list of names."""
    return (names,) if isinstance(names, str) else tuple(str(n) for n in names or ())


def _foreign_keys(
    connection: sa.Connection, release: LoadedRelease, resource: str
) -> tuple[ForeignKey, ...]:
    """Every foreign key of `resource`, with the table it refers to where that is loaded."""
    schema = _resource_descriptor(release, resource).get("schema") or {}
    found = []
    for key in schema.get("foreignKeys") or []:
        target = key.get("reference") or {}
        other = str(target.get("resource") or resource)
        spec = (
            _table_spec(connection, release, other, reference_max_rows=0, follow=False)
            if other in release.tables
            else None
        )
        found.append(ForeignKey(_keys(key.get("fields")), other, _keys(target.get("fields")), spec))
    return tuple(found)


def _references(
    connection: sa.Connection,
    foreign_keys: tuple[ForeignKey, ...],
    fields: tuple[FieldSpec, ...],
    *,
    max_rows: int,
) -> dict[str, Reference]:
    """The keys of each small table a single-column foreign key refers to.

    A composite key, a referenced table over `max_rows` rows or a column whose type differs
    from the one it refers to is left out: its values are then not checked against the keys.
    """
    types = {f.name: f.type for f in fields}
    found: dict[str, Reference] = {}
    for key in foreign_keys:
        spec = key.target
        if spec is None or len(key.fields) != 1 or len(key.reference_fields) != 1:
            continue
        column_name, target_name = key.fields[0], key.reference_fields[0]
        target_field = spec.field(target_name)
        if column_name not in types or spec.row_count > max_rows or target_field is None:
            continue
        if target_field.type != types[column_name]:
            continue
        column = spec.table.c[target_name]
        values = connection.execute(sa.select(column).distinct()).scalars()
        found[column_name] = Reference(key.resource, target_name, frozenset(values))
    return found


def _rollup(
    inspector: sa.Inspector, table_name: str, descriptors: list[dict[str, Any]]
) -> Rollup | None:
    """The rollup the loader stored beside a table (`api.ingest.rollup`), or None."""
    name = rollup_table_name(table_name)
    if not inspector.has_table(name):
        return None
    columns = {c["name"] for c in inspector.get_columns(name)} - {ROLLUP_COUNT}
    table = build_rollup_table(sa.MetaData(), table_name, descriptors, columns)
    return Rollup(table=table, columns=frozenset(columns), count=ROLLUP_COUNT)


def _table_spec(
    connection: sa.Connection,
    release: LoadedRelease,
    resource: str,
    *,
    reference_max_rows: int,
    follow: bool = True,
) -> TableSpec:
    """The spec of a resource; with `follow`, its foreign keys and the tables they refer to."""
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
    indexes = tuple(
        tuple(str(name) for name in index["column_names"])
        for index in inspector.get_indexes(row.table_name)
        if index["column_names"] and all(index["column_names"])
    )
    leading = {columns[0] for columns in indexes}
    foreign_keys = _foreign_keys(connection, release, resource) if follow else ()
    return TableSpec(
        rollup=_rollup(inspector, row.table_name, descriptors),
        indexed=frozenset(leading | set(primary_key[:1])),
        indexes=indexes,
        package=release.info.package,
        version=release.info.version,
        resource=resource,
        table=table,
        fields=fields,
        primary_key=primary_key,
        row_count=row.row_count,
        title=row.title,
        description=row.description,
        references=_references(connection, foreign_keys, fields, max_rows=reference_max_rows)
        if reference_max_rows
        else {},
        foreign_keys=foreign_keys,
    )


class Catalog:
    """Process-wide view of the registry, re-read as soon as a new release is committed.

    Every call checks the registry's generation (one indexed count and max over `od_releases`),
    so every worker sees a committed load on its very next request.
    """

    def __init__(self, engine: sa.Engine, *, reference_max_rows: int = 1000) -> None:
        self.engine = engine
        self.reference_max_rows = reference_max_rows
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

        def build() -> TableSpec:
            with self.engine.connect() as connection:
                return _table_spec(
                    connection, release, resource, reference_max_rows=self.reference_max_rows
                )

        return snapshot.table_spec(release.tables[resource], build)
