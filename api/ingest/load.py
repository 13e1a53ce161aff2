"""Load validated releases into SQL, one transaction per release, never half a release."""

from __future__ import annotations

import gc
import hashlib
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import frictionless
import orjson
import sqlalchemy as sa
from rich.console import Console

from api.db.publish import published_hash, record_release, record_report, record_resource
from api.db.registry import create_registry
from api.db.sqltypes import build_table
from api.errors import PackageInvalid, ReleaseConflict
from api.fieldtypes import JSON_TYPES
from api.ingest.catalog import self_contained
from api.ingest.changelog import entry_summary
from api.ingest.digest import file_digest
from api.ingest.discover import ReleaseRef
from api.ingest.fastpath import FastPathRefused, stored_batches
from api.ingest.indexes import create_declared_indexes, declared_indexes
from api.ingest.paths import resource_path_errors
from api.ingest.progress import RowProgress
from api.ingest.rollup import RollupCounter, create_rollup, rollup_columns
from api.ingest.sqlwrite import (
    binders_for,
    dangling_keys,
    index_columns,
    insert_rows,
    store_file,
)
from api.ingest.validate import validate_descriptor, validate_release
from api.obs.metrics import record_load
from api.semver import parse_semver
from api.timestamps import timestamp_date


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


def _declared_hash(resource: frictionless.Resource) -> str | None:
    value = resource.hash
    if not value:
        return None
    return str(value).split(":", 1)[-1].lower()


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


RESOURCE_FACTS = ("name", "bytes", "hash", "title", "description")
"""The resource's own properties kept in the registry next to its table."""


def _refuse_paths_outside(ref: ReleaseRef, descriptor: dict[str, Any]) -> None:
    """Checked again where the files are opened: a symlink swapped in since validation."""
    outside = [
        str(error.note)
        for resource in descriptor.get("resources", [])
        for error in resource_path_errors(resource, ref.path, f"resource {resource.get('name')!r}")
    ]
    if outside:
        raise FastPathRefused("; ".join(outside))


def _create_table(
    connection: sa.Connection,
    table_name: str,
    schema: frictionless.Schema,
    fields: list[dict[str, Any]],
) -> sa.Table:
    """Create a resource's data table, with a unique index for each `unique` field."""
    table = build_table(sa.MetaData(), table_name, fields, schema.primary_key, ddl=True)
    for fld in schema.fields:
        if fld.constraints.get("unique") and [fld.name] != schema.primary_key:
            sa.Index(f"ux_{table_name}_{fld.name}"[:63], table.c[fld.name], unique=True)
    table.create(connection)
    return table


def _index_and_analyze(
    connection: sa.Connection, table: sa.Table, resource: frictionless.Resource
) -> None:
    """Build the filter and sort indexes once the rows are in (the package's declared ones too),
    then gather planner statistics.

    A column that leads a declared index gets no index of its own: the declared one serves its
    filters and sorts as well, and each index built costs a pass over the rows and a sort.
    """
    led = {columns[0] for columns in declared_indexes(resource)}
    for index, column in enumerate(index_columns(resource.schema)):
        if column not in led:
            sa.Index(f"ix_{table.name}_{index}", table.c[column]).create(connection)
    create_declared_indexes(connection, table, resource)
    # Statistics for the planner: without them SQLite picks the index of an equality filter
    # over that of a range plus sort, and a filtered page is 5x slower (bench/RESULTS.md).
    connection.exec_driver_sql(
        f"ANALYZE {connection.dialect.identifier_preparer.quote(table.name)}"
    )


def _store_checked_file(
    connection: sa.Connection, resource_id: int, resource: frictionless.Resource, path: Path
) -> tuple[int, str]:
    """Store the published file; refuse it when it is not the declared bytes and hash."""
    size, digest = store_file(connection, resource_id, path)
    declared = _declared_hash(resource)
    if (declared and declared != digest) or (resource.bytes and resource.bytes != size):
        raise FastPathRefused(f"{resource.path} does not match its declared bytes or hash")
    return size, digest


def _refuse_dangling_keys(
    connection: sa.Connection, package: frictionless.Package, tables: dict[str, sa.Table]
) -> None:
    """Refuse the release when a foreign key points at no row."""
    problems = [
        p for r in package.resources for p in dangling_keys(connection, tables, r.name, r.schema)
    ]
    if problems:
        raise FastPathRefused("; ".join(problems))


def _report_task(resource: frictionless.Resource, stats: dict[str, Any]) -> frictionless.ReportTask:
    """The report task of a resource loaded without an error, as frictionless writes one."""
    return frictionless.ReportTask(
        name=resource.name,
        type="table",
        valid=True,
        warnings=[],
        errors=[],
        place=str(resource.path or ""),
        labels=resource.schema.field_names,
        stats=stats,  # type: ignore[arg-type]
    )


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
            started = time.perf_counter()
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
                    record_load(ref.package, rows=rows, seconds=time.perf_counter() - started)
        return summary

    def load(self, ref: ReleaseRef) -> int | None:
        """Load one release; return its row count, or None when it was already loaded."""
        descriptor_path = ref.path / "datapackage.json"
        descriptor_bytes = descriptor_path.read_bytes()
        content_hash = hashlib.sha256(descriptor_bytes).hexdigest()
        with self.engine.connect() as connection:
            existing = published_hash(connection, ref.package, ref.version)
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
        _refuse_paths_outside(ref, descriptor)
        package = frictionless.Package(str(ref.path / "datapackage.json"))
        semver = parse_semver(ref.version)
        if semver is None:
            raise FastPathRefused(f"version {ref.version!r} is not SemVer")
        tasks: list[frictionless.ReportTask] = []
        total_rows = 0
        with self.engine.begin() as connection:
            release_id = record_release(
                connection,
                package=ref.package,
                semver=semver,
                published=timestamp_date(descriptor.get("created")),
                loaded_at=datetime.now(UTC),
                content_hash=content_hash,
                descriptor=self_contained(descriptor, ref.path),
                changelog=entry_summary(ref.path.parent, ref.version),
            )
            tables: dict[str, sa.Table] = {}
            for position, resource in enumerate(package.resources):
                rows, task = self._load_resource(
                    connection, ref, release_id, position, resource, tables
                )
                total_rows += rows
                tasks.append(task)
            _refuse_dangling_keys(connection, package, tables)
            report = frictionless.Report.from_validation(
                time=round(time.perf_counter() - started, 3), tasks=tasks
            )
            record_report(connection, release_id, report.to_dict())
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
        table = tables[resource.name] = _create_table(connection, table_name, schema, fields)
        path = ref.path / resource.path if resource.path else None
        label = f"{ref.package} {ref.version} {resource.name}"
        indexed = [(name,) for name in index_columns(schema)] + declared_indexes(resource)
        columns = rollup_columns(schema, indexed)
        counter = RollupCounter([schema.field_names.index(name) for name in columns])
        rows = self._insert_all(connection, table, resource, path, label, counter)
        _index_and_analyze(connection, table, resource)
        if counter.worth_keeping():
            create_rollup(connection, table, fields, columns, counter)
        resource_id = record_resource(
            connection,
            release_id=release_id,
            position=position,
            table_name=table_name,
            row_count=rows,
            facts={key: getattr(resource, key) for key in RESOURCE_FACTS},
            primary_key=schema.primary_key,
            fields=fields,
        )
        stored = (
            None if path is None else _store_checked_file(connection, resource_id, resource, path)
        )
        stats: dict[str, Any] = {
            "errors": 0,
            "warnings": 0,
            "fields": len(fields),
            "rows": rows,
            "seconds": round(time.perf_counter() - started, 3),
        }
        if stored is not None:
            stats.update(bytes=stored[0], sha256=stored[1])
        return rows, _report_task(resource, stats)

    def _insert_all(
        self,
        connection: sa.Connection,
        table: sa.Table,
        resource: frictionless.Resource,
        path: Path | None,
        label: str,
        counter: RollupCounter,
    ) -> int:
        """Insert every row of the resource in batches, with progress; return the row count.

        Each batch is counted by `counter` too (see `api.ingest.rollup`).
        """
        json_columns = {i for i, f in enumerate(resource.schema.fields) if f.type in JSON_TYPES}
        binders = binders_for(connection, table, json_columns)
        batches = stored_batches(resource, path, batch_size=self.batch_size, binders=binders)
        rows = 0
        with _cycle_collector_paused(), self._progress(label) as advance:
            integrity_error = connection.dialect.loaded_dbapi.IntegrityError
            for batch in batches:
                try:
                    insert_rows(connection, table, batch)
                except integrity_error as exc:
                    raise FastPathRefused(f"{resource.name}: {exc}") from exc
                counter.add(batch)
                rows += len(batch)
                advance(len(batch))
        return rows

    def _progress(self, label: str) -> RowProgress:
        return RowProgress(label, disabled=self.quiet, console=self.console)
