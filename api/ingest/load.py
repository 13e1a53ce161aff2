"""Load validated releases into SQL, one transaction per release, never half a release."""

from __future__ import annotations

import gc
import hashlib
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import frictionless
import orjson
import sqlalchemy as sa
from rich.console import Console

from api.db.registry import (
    FieldDef,
    Package,
    Release,
    Resource,
    ValidationRecord,
    create_registry,
    table_of,
)
from api.db.sqltypes import build_table
from api.errors import PackageInvalid, ReleaseConflict
from api.fieldtypes import JSON_TYPES
from api.ingest.catalog import self_contained
from api.ingest.discover import ReleaseRef
from api.ingest.fastpath import FastPathRefused, stored_batches
from api.ingest.indexes import create_declared_indexes
from api.ingest.paths import resource_path_errors
from api.ingest.progress import RowProgress
from api.ingest.sqlwrite import (
    CHUNK_BYTES,
    binders_for,
    dangling_keys,
    index_columns,
    insert_rows,
    store_file,
)
from api.ingest.validate import validate_descriptor, validate_release
from api.semver import parse_semver


@dataclass
class LoadSummary:
    """What one `load` run did."""

    loaded: list[tuple[str, str, int]] = field(default_factory=list)  # package, version, rows
    skipped: list[tuple[str, str]] = field(default_factory=list)
    refused: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    conflicts: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every release is loaded or was already loaded."""
        return not self.refused and not self.conflicts


def physical_table_name(package: str, version: str, resource: str) -> str:
    """A short, stable and unique SQL table name for one (package, version, resource)."""
    digest = hashlib.sha256(f"{package}\0{version}\0{resource}".encode()).hexdigest()[:10]
    slug = re.sub(r"[^a-z0-9]+", "_", resource.lower()).strip("_")[:30]
    return f"d_{slug}_{digest}"


def file_digest(path: Path) -> tuple[int, str]:
    """Return the size and sha256 hex digest of a file."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def _declared_hash(resource: frictionless.Resource) -> str | None:
    value = resource.hash
    if not value:
        return None
    return str(value).split(":", 1)[-1].lower()


def _published(descriptor: dict[str, Any]) -> date | None:
    created = descriptor.get("created")
    if not created:
        return None
    try:
        return datetime.fromisoformat(str(created).replace("Z", "+00:00")).date()
    except ValueError:
        return None


def _changelog_entry(release_dir: Path, version: str) -> str | None:
    changelog = release_dir.parent / "CHANGELOG.md"
    if not changelog.is_file():
        return None
    lines = changelog.read_text(encoding="utf-8").splitlines()
    heading = re.compile(rf"^#+\s*\[?{re.escape(version)}\]?(\s|$)")
    for index, line in enumerate(lines):
        if heading.match(line):
            for following in lines[index + 1 :]:
                text = following.strip().lstrip("-* ").strip()
                if following.startswith("#"):
                    return None
                if text:
                    return text
    return None


@contextmanager
def _cycle_collector_paused() -> Iterator[None]:
    """Pause the cycle collector for a bulk pass.

    The pass allocates millions of short-lived, acyclic rows and cells; the collector would
    traverse them again and again (about a fifth of the load time) and free nothing.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class ReleaseLoader:
    """Loads release folders into one database."""

    def __init__(
        self,
        engine: sa.Engine,
        *,
        batch_size: int = 20_000,
        quiet: bool = False,
        console: Console | None = None,
    ) -> None:
        self.engine = engine
        self.batch_size = batch_size
        self.console = console or Console(stderr=True)
        self.quiet = quiet
        with engine.begin() as connection:
            create_registry(connection)

    def load_all(self, refs: Sequence[ReleaseRef]) -> LoadSummary:
        """Load every release not loaded yet; refuse invalid or conflicting ones."""
        summary = LoadSummary()
        for ref in refs:
            try:
                rows = self.load(ref)
            except PackageInvalid as exc:
                summary.refused.append((ref.package, ref.version, exc.details.get("report", {})))
            except ReleaseConflict as exc:
                summary.conflicts.append((ref.package, ref.version, exc.message))
            else:
                if rows is None:
                    summary.skipped.append((ref.package, ref.version))
                else:
                    summary.loaded.append((ref.package, ref.version, rows))
        return summary

    def load(self, ref: ReleaseRef) -> int | None:
        """Load one release; return its row count, or None when it was already loaded."""
        descriptor_path = ref.path / "datapackage.json"
        descriptor_bytes = descriptor_path.read_bytes()
        content_hash = hashlib.sha256(descriptor_bytes).hexdigest()
        with self.engine.connect() as connection:
            existing = connection.execute(
                sa.select(Release.content_hash).where(  # type: ignore[call-overload]
                    Release.package == ref.package, Release.version == ref.version
                )
            ).scalar_one_or_none()
        if existing is not None:
            if existing != content_hash:
                raise ReleaseConflict(
                    f"{ref.package} {ref.version} is already published with other content;"
                    " released folders never change: cut a new version instead"
                )
            self._verify_files(ref)
            return None
        outcome = validate_descriptor(ref.path)
        if not outcome.valid:
            raise PackageInvalid(
                f"{ref.package} {ref.version} is invalid", details={"report": outcome.report}
            )
        try:
            return self._load_rows(ref, descriptor_bytes, content_hash)
        except (FastPathRefused, sa.exc.IntegrityError) as exc:
            refusal = exc
        # Outside the except block, so the aborted pass is freed before frictionless reads it all.
        full = validate_release(ref.path)
        report = full.report if not full.valid else {"valid": False, "errors": [str(refusal)]}
        raise PackageInvalid(
            f"{ref.package} {ref.version} is invalid", details={"report": report}
        ) from refusal

    def _verify_files(self, ref: ReleaseRef) -> None:
        package = frictionless.Package(str(ref.path / "datapackage.json"))
        for resource in package.resources:
            declared = _declared_hash(resource)
            if resource.path and declared:
                _size, actual = file_digest(ref.path / resource.path)
                if actual != declared:
                    raise ReleaseConflict(
                        f"{ref.package} {ref.version}: {resource.path} no longer matches the hash"
                        " it was published with; released folders never change"
                    )

    def _load_rows(self, ref: ReleaseRef, descriptor_bytes: bytes, content_hash: str) -> int:
        started = time.perf_counter()
        descriptor = orjson.loads(descriptor_bytes)
        # Checked again where the files are opened: a symlink swapped in since validation.
        outside = [
            str(error.note)
            for resource in descriptor.get("resources", [])
            for error in resource_path_errors(
                resource, ref.path, f"resource {resource.get('name')!r}"
            )
        ]
        if outside:
            raise FastPathRefused("; ".join(outside))
        package = frictionless.Package(str(ref.path / "datapackage.json"))
        semver = parse_semver(ref.version)
        if semver is None:
            raise FastPathRefused(f"version {ref.version!r} is not SemVer")
        tasks: list[frictionless.ReportTask] = []
        total_rows = 0
        with self.engine.begin() as connection:
            now = datetime.now(UTC)
            if (
                connection.execute(
                    sa.select(Package.name).where(Package.name == ref.package)  # type: ignore[call-overload]
                ).first()
                is None
            ):
                connection.execute(
                    sa.insert(table_of(Package)),
                    {"name": ref.package, "first_loaded_at": now},
                )
            release_id = connection.execute(
                sa.insert(table_of(Release)).returning(table_of(Release).c.id),
                {
                    "package": ref.package,
                    "version": ref.version,
                    "major": semver.major,
                    "minor": semver.minor,
                    "patch": semver.patch,
                    "prerelease": semver.prerelease,
                    "published": _published(descriptor),
                    "loaded_at": now,
                    "content_hash": content_hash,
                    "descriptor": orjson.dumps(self_contained(descriptor, ref.path)).decode(),
                    "changelog": _changelog_entry(ref.path, ref.version),
                },
            ).scalar_one()
            tables: dict[str, sa.Table] = {}
            for position, resource in enumerate(package.resources):
                rows, task = self._load_resource(
                    connection, ref, release_id, position, resource, tables
                )
                total_rows += rows
                tasks.append(task)
            problems = [
                p
                for r in package.resources
                for p in dangling_keys(connection, tables, r.name, r.schema)
            ]
            if problems:
                raise FastPathRefused("; ".join(problems))
            report = frictionless.Report.from_validation(
                time=round(time.perf_counter() - started, 3), tasks=tasks
            )
            connection.execute(
                sa.insert(table_of(ValidationRecord)),
                {
                    "release_id": release_id,
                    "valid": True,
                    "report": orjson.dumps(report.to_dict()).decode(),
                },
            )
        return total_rows

    def _load_resource(
        self,
        connection: sa.Connection,
        ref: ReleaseRef,
        release_id: int,
        position: int,
        resource: frictionless.Resource,
        tables: dict[str, sa.Table],
    ) -> tuple[int, frictionless.ReportTask]:
        started = time.perf_counter()
        schema = resource.schema
        fields = [f.to_descriptor() for f in schema.fields]
        table_name = physical_table_name(ref.package, ref.version, resource.name)
        table = build_table(sa.MetaData(), table_name, fields, schema.primary_key, ddl=True)
        for fld in schema.fields:
            if fld.constraints.get("unique") and [fld.name] != schema.primary_key:
                sa.Index(f"ux_{table_name}_{fld.name}"[:63], table.c[fld.name], unique=True)
        table.create(connection)
        tables[resource.name] = table
        json_columns = {i for i, f in enumerate(schema.fields) if f.type in JSON_TYPES}
        binders = binders_for(connection, table, json_columns)
        path = ref.path / resource.path if resource.path else None
        batches = stored_batches(resource, path, batch_size=self.batch_size, binders=binders)
        rows = 0
        label = f"{ref.package} {ref.version} {resource.name}"
        with _cycle_collector_paused(), self._progress(label) as advance:
            integrity_error = connection.dialect.loaded_dbapi.IntegrityError
            for batch in batches:
                try:
                    insert_rows(connection, table, batch)
                except integrity_error as exc:
                    raise FastPathRefused(f"{resource.name}: {exc}") from exc
                rows += len(batch)
                advance(len(batch))
        for index, column in enumerate(index_columns(schema)):
            sa.Index(f"ix_{table_name}_{index}", table.c[column]).create(connection)
        create_declared_indexes(connection, table, resource)
        # Statistics for the planner: without them SQLite picks the index of an equality filter
        # over that of a range plus sort, and a filtered page is 5x slower (bench/RESULTS.md).
        connection.exec_driver_sql(
            f"ANALYZE {connection.dialect.identifier_preparer.quote(table_name)}"
        )
        resource_id = connection.execute(
            sa.insert(table_of(Resource)).returning(table_of(Resource).c.id),
            {
                "release_id": release_id,
                "name": resource.name,
                "position": position,
                "table_name": table_name,
                "row_count": rows,
                "bytes": resource.bytes,
                "hash": resource.hash,
                "title": resource.title,
                "description": resource.description,
                "primary_key": orjson.dumps(schema.primary_key).decode(),
            },
        ).scalar_one()
        connection.execute(
            sa.insert(table_of(FieldDef)),
            [
                {
                    "resource_id": resource_id,
                    "position": i,
                    "name": f["name"],
                    "type": f.get("type", "any"),
                    "format": f.get("format"),
                    "descriptor": orjson.dumps(f).decode(),
                }
                for i, f in enumerate(fields)
            ],
        )
        size, digest = (0, "")
        if path is not None:
            size, digest = store_file(connection, resource_id, path)
            declared = _declared_hash(resource)
            if (declared and declared != digest) or (resource.bytes and resource.bytes != size):
                raise FastPathRefused(f"{resource.path} does not match its declared bytes or hash")
        stats: dict[str, Any] = {
            "errors": 0,
            "warnings": 0,
            "fields": len(fields),
            "rows": rows,
            "seconds": round(time.perf_counter() - started, 3),
        }
        if path is not None:
            stats.update(bytes=size, sha256=digest)
        task = frictionless.ReportTask(
            name=resource.name,
            type="table",
            valid=True,
            warnings=[],
            errors=[],
            place=str(resource.path or ""),
            labels=schema.field_names,
            stats=stats,  # type: ignore[arg-type]
        )
        return rows, task

    def _progress(self, label: str) -> RowProgress:
        return RowProgress(label, disabled=self.quiet, console=self.console)
