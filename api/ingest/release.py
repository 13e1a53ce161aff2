"""Cut a release: scaffold the next folder from the latest one, then seal it once edited.

A scaffolded folder carries no `bytes` or `hash`, so it cannot be validated or loaded by mistake.
Sealing writes them from the edited files, validates the release, diffs it against the previous
one (rows read with frictionless and sorted by key in Python) and refuses a version whose bump is
smaller than the diff calls for. On refusal the descriptor is left exactly as it was.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import frictionless

from api.diff.release import ReleaseDiff, diff_releases
from api.diff.rows import RowCounts, RowOrderError, tally
from api.diff.schema import Bump, next_version
from api.diff.shapes import ReleaseShape, ResourcePair, release_shape
from api.ingest.changelog import add_entry, changelog_entry
from api.ingest.descriptors import is_local_reference, local_path, read_json, resources_of
from api.ingest.digest import file_digest
from api.ingest.discover import DESCRIPTOR_NAME, ReleaseRef, find_releases, latest_of
from api.ingest.fastpath import FastPathRefused, stored_batches
from api.ingest.validate import DEFAULT_ENCODING, ValidationOutcome, validate_release
from api.timestamps import timestamp_date

SEALING_NAME = ".datapackage.sealing.json"
"""The candidate descriptor validated next to the real one before it replaces it."""
ROWS_PER_BATCH = 20_000  # rows read at a time when a release folder is diffed


class ReleaseRefused(Exception):
    """A release step that cannot go ahead; the message says why and what to do."""

    def __init__(
        self,
        message: str,
        *,
        diff: ReleaseDiff | None = None,
        outcome: ValidationOutcome | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.diff = diff
        self.outcome = outcome


# Finding releases ------------------------------------------------------------------------------


def package_releases(datasets_dir: Path, package: str) -> list[ReleaseRef]:
    """The release folders of a package, oldest first; refused when there are none."""
    folder = datasets_dir / package
    if not folder.is_dir():
        raise ReleaseRefused(f"no package folder {folder}")
    refs = find_releases(datasets_dir, [folder])
    if not refs:
        raise ReleaseRefused(f"{folder} holds no release folder such as 1.0.0/")
    return refs


def resolve_release(refs: Sequence[ReleaseRef], version: str) -> ReleaseRef:
    """The release named by a version or `latest`; refused when there is no such folder."""
    wanted = latest_of(ref.version for ref in refs) if version == "latest" else version
    for ref in refs:
        if ref.version == wanted:
            return ref
    known = ", ".join(ref.version for ref in refs)
    raise ReleaseRefused(f"{refs[0].package} has no release {version!r} (releases: {known})")


def _read_descriptor(path: Path) -> dict[str, Any]:
    try:
        found = read_json(path)
    except (OSError, ValueError) as exc:
        raise ReleaseRefused(f"cannot read {path}: {exc}") from exc
    if not isinstance(found, dict):
        raise ReleaseRefused(f"{path} does not hold a JSON object")
    return found


def _write_descriptor(path: Path, descriptor: Mapping[str, Any]) -> None:
    text = json.dumps(descriptor, indent=2, ensure_ascii=False) + "\n"
    path.write_text(text, encoding="utf-8")


# Reading a release folder for a diff -----------------------------------------------------------


def folder_shape(descriptor_path: Path) -> ReleaseShape:
    """The shape of a release folder's descriptor, schemas given by path read from the folder."""
    descriptor = _read_descriptor(descriptor_path)
    schemas = {}
    for resource in resources_of(descriptor):
        schema = resource.get("schema")
        if isinstance(schema, str) and schema and is_local_reference(schema):
            schemas[str(resource.get("name"))] = _read_descriptor(descriptor_path.parent / schema)
    return release_shape(descriptor, schemas)


def open_package(descriptor_path: Path) -> frictionless.Package:
    """Open a release descriptor with frictionless (UTF-8 unless a resource says otherwise)."""
    try:
        package = frictionless.Package(str(descriptor_path))
    except frictionless.FrictionlessException as exc:
        raise ReleaseRefused(f"cannot open {descriptor_path}: {exc}") from exc
    for resource in package.resources:
        if not resource.get_defined("encoding"):
            resource.encoding = DEFAULT_ENCODING
    return package


def folder_rows(
    package: frictionless.Package, resource: str, key: Sequence[str]
) -> list[dict[str, Any]]:
    """Every row of a resource in its stored form (as the loader stores it), sorted by key."""
    found = package.get_resource(resource)
    if not isinstance(found, frictionless.resources.TableResource):
        raise ReleaseRefused(f"resource '{resource}' is not a table")
    names = found.schema.field_names
    path = Path(found.basepath or ".") / found.path if isinstance(found.path, str) else None
    try:
        rows = [
            dict(zip(names, row, strict=True))
            for batch in stored_batches(found, path, batch_size=ROWS_PER_BATCH)
            for row in batch
        ]
        rows.sort(key=lambda row: tuple(row[name] for name in key))
    except (FastPathRefused, frictionless.FrictionlessException, TypeError, KeyError) as exc:
        raise ReleaseRefused(
            f"cannot read the rows of resource '{resource}' in key order ({exc});"
            " run `opendata validate` on the release"
        ) from exc
    return rows


def diff_folders(
    before: ReleaseRef, after: ReleaseRef, *, after_descriptor: Path | None = None
) -> ReleaseDiff:
    """Diff two release folders; `after_descriptor` stands in for the newer one's descriptor."""
    new_path = after_descriptor or after.descriptor_path
    old_package, new_package = open_package(before.descriptor_path), open_package(new_path)

    def count(pair: ResourcePair) -> RowCounts:
        old_rows = folder_rows(old_package, pair.name, pair.key)
        new_rows = folder_rows(new_package, pair.name, pair.key)
        try:
            return tally(old_rows, new_rows, key=pair.key, fields=pair.compared_fields)
        except RowOrderError as exc:
            raise ReleaseRefused(f"resource '{pair.name}': {exc}") from exc

    return diff_releases(
        after.package, folder_shape(before.descriptor_path), folder_shape(new_path), count
    )


# Scaffold --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scaffold:
    """A new release folder copied from the latest release, ready to edit."""

    source: ReleaseRef
    release: ReleaseRef
    bump: Bump
    data_files: tuple[str, ...]


def is_sealed(descriptor: Mapping[str, Any]) -> bool:
    """Whether every local file of a descriptor has its `bytes` and `hash`."""
    return all(
        "bytes" in resource and "hash" in resource
        for resource in resources_of(descriptor)
        if local_path(resource)
    )


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def scaffold_release(
    datasets_dir: Path, package: str, bump: Bump, *, now: datetime | None = None
) -> Scaffold:
    """Copy the latest release to the next version, with a new `version` and `created`."""
    refs = package_releases(datasets_dir, package)
    source = refs[-1]
    if not is_sealed(_read_descriptor(source.descriptor_path)):
        raise ReleaseRefused(
            f"{package} {source.version} is not sealed yet: edit it and run"
            f" `opendata release {package} --seal`, or delete {source.path}"
        )
    version = next_version(source.version, bump)
    target = source.path.parent / version
    if target.exists():
        raise ReleaseRefused(f"{target} already exists")
    shutil.copytree(source.path, target)
    descriptor = _read_descriptor(target / DESCRIPTOR_NAME)
    descriptor["version"] = version
    descriptor["created"] = _timestamp(now or datetime.now(UTC))
    files = []
    for resource in resources_of(descriptor):
        resource.pop("bytes", None)
        resource.pop("hash", None)
        path = local_path(resource)
        if path:
            files.append(path)
    _write_descriptor(target / DESCRIPTOR_NAME, descriptor)
    release = ReleaseRef(package=package, version=version, path=target)
    return Scaffold(source=source, release=release, bump=bump, data_files=tuple(files))


# Seal ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sealed:
    """A release sealed: what was written and the diff against the previous release."""

    release: ReleaseRef
    previous: ReleaseRef | None
    diff: ReleaseDiff | None
    refreshed: tuple[str, ...]  # resources whose bytes or hash were written
    resealed: bool  # the folder was sealed before, with other bytes or hashes
    changelog: Path | None  # the changelog, when an entry was added


def _with_integrity(
    descriptor: Mapping[str, Any], folder: Path
) -> tuple[dict[str, Any], list[str], bool]:
    sealed = json.loads(json.dumps(descriptor))
    refreshed, resealed = [], False
    for resource in resources_of(sealed):
        path = local_path(resource)
        if path is None or not (folder / path).is_file():
            continue
        size, digest = file_digest(folder / path)
        values = {"bytes": size, "hash": f"sha256:{digest.lower()}"}
        if any(resource.get(k) != v for k, v in values.items()):
            refreshed.append(str(resource.get("name")))
            resealed = resealed or ("bytes" in resource and "hash" in resource)
        if "bytes" in resource and "hash" in resource:
            resource.update(values)
        else:
            _insert_before_schema(resource, values)
    return sealed, refreshed, resealed


def _insert_before_schema(resource: dict[str, Any], values: Mapping[str, Any]) -> None:
    items = [(k, v) for k, v in resource.items() if k not in values]
    at = next((i for i, (k, _) in enumerate(items) if k == "schema"), len(items))
    resource.clear()
    resource.update([*items[:at], *values.items(), *items[at:]])


def seal_release(datasets_dir: Path, package: str, *, today: date | None = None) -> Sealed:
    """Seal the highest release folder of a package; ReleaseRefused leaves it untouched."""
    refs = package_releases(datasets_dir, package)
    release = refs[-1]
    previous = refs[-2] if len(refs) > 1 else None
    descriptor = _read_descriptor(release.descriptor_path)
    declared = descriptor.get("version")
    if declared != release.version:
        raise ReleaseRefused(
            f"{release.descriptor_path} declares version {declared!r} in a folder named"
            f" {release.version!r}; they must match"
        )
    sealed, refreshed, resealed = _with_integrity(descriptor, release.path)
    candidate = release.path / SEALING_NAME
    _write_descriptor(candidate, sealed)
    diff = None
    try:
        outcome = validate_release(candidate)
        if not outcome.valid:
            raise ReleaseRefused(f"{package} {release.version} is invalid", outcome=outcome)
        if previous is not None:
            diff = diff_folders(previous, release, after_descriptor=candidate)
            shortfall = diff.shortfall()
            if shortfall is not None:
                raise ReleaseRefused(shortfall, diff=diff)
        if sealed != descriptor:
            os.replace(candidate, release.descriptor_path)
    finally:
        candidate.unlink(missing_ok=True)
    changelog = _add_changelog_entry(release, sealed, diff, today=today)
    return Sealed(release, previous, diff, tuple(refreshed), resealed, changelog)


# Changelog -------------------------------------------------------------------------------------


def _release_date(descriptor: Mapping[str, Any], today: date | None) -> date:
    created = descriptor.get("created")
    published = timestamp_date(created) if isinstance(created, str) else None
    return published or today or datetime.now(UTC).date()


def _add_changelog_entry(
    release: ReleaseRef,
    descriptor: Mapping[str, Any],
    diff: ReleaseDiff | None,
    *,
    today: date | None,
) -> Path | None:
    summary = diff.summary_line() if diff is not None else "First release."
    entry = changelog_entry(release.version, _release_date(descriptor, today), summary)
    return add_entry(release.path.parent, release.package, release.version, entry)
