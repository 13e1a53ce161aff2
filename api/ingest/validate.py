"""Validate a release with frictionless, then with the project's own rules, in one report.

The report keeps frictionless's own shape (`valid`, `stats`, `warnings`, `errors`,
`tasks[].errors[]`); a broken project rule adds one entry to the top-level `errors` list, built
from a frictionless `Error` subclass so that it has the same keys as every other error.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any

import attrs
from frictionless import Check, Checklist, Error, FrictionlessException, Package, Report, errors
from frictionless.table.row import Row

from .descriptors import local_path, read_json_or_none, resources_of
from .discover import DESCRIPTOR_NAME, is_semver
from .indexes import index_declaration_errors
from .paths import ResourcePathError, descriptor_path_error, path_problem, resource_path_errors

FIELD_NAME = re.compile(r"^[A-Za-z0-9]+(?:_[A-Za-z0-9]+)*$")
"""Letters and digits, single underscores between them: `col__op` and `_control` stay free."""

RESOURCE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
"""Lower case, no dots: the URL adds `.csv`, `.json`... to a resource name."""

PACKAGE_NAME = RESOURCE_NAME

DEFAULT_ENCODING = "utf-8"
TABULAR_FORMATS = frozenset({"csv", "tsv", "xls", "xlsx", "ods"})

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
"""The starts of text a spreadsheet may run as a formula (OWASP, CSV injection)."""
FORMULA_TEXT_TYPES = frozenset({"string", "any", "list"})
"""Field types whose cells are free text (the ones Excel-ready exports neutralise)."""
KEPT_FORMULA_LIKE = 20
"""How many formula-like values a validation keeps (it counts every one)."""

FlatError = tuple[str | None, int | None, str | None, str]
Descriptor = Mapping[str, Any]


# Project rules, as frictionless errors -------------------------------------------------------


@attrs.define(kw_only=True, repr=False)
class VersionError(errors.PackageError):
    """The descriptor's `version` is missing or is not SemVer."""

    type = "version-error"
    title = "Version Error"
    description = "A release declares a SemVer `version`."
    template = "The release version is not valid: {note}"


@attrs.define(kw_only=True, repr=False)
class ReleasePathError(errors.PackageError):
    """The release does not sit at `<package name>/<version>/`."""

    type = "release-path-error"
    title = "Release Path Error"
    description = "A release lives in `<datasets>/<package name>/<version>/`."
    template = "The release folder does not match the descriptor: {note}"


@attrs.define(kw_only=True, repr=False)
class PackageNameError(errors.PackageError):
    """The package name cannot be used as a URL segment."""

    type = "package-name-error"
    title = "Package Name Error"
    description = "A package name is lower case letters, digits, `-` and `_`."
    template = "The package name is not valid: {note}"


@attrs.define(kw_only=True, repr=False)
class ResourceNameError(errors.PackageError):
    """A resource name cannot be used as a URL segment."""

    type = "resource-name-error"
    title = "Resource Name Error"
    description = "A resource name is lower case letters, digits, `-` and `_` (no dots)."
    template = "A resource name is not valid: {note}"


@attrs.define(kw_only=True, repr=False)
class FieldNameError(errors.PackageError):
    """A field name would collide with the query grammar (`col__op`, `_control`)."""

    type = "field-name-error"
    title = "Field Name Error"
    description = "A field name is letters and digits joined by single underscores."
    template = "A field name is not valid: {note}"


@attrs.define(kw_only=True, repr=False)
class PrimaryKeyMissingError(errors.PackageError):
    """A table resource declares no primary key."""

    type = "primary-key-missing"
    title = "Primary Key Missing"
    description = "Every table resource declares a `primaryKey` in its schema."
    template = "A table has no primary key: {note}"


@attrs.define(kw_only=True, repr=False)
class IntegrityError(errors.PackageError):
    """A resource lacks the `bytes` and `sha256:` `hash` that make a release immutable."""

    type = "integrity-error"
    title = "Integrity Error"
    description = "Every file resource of a release declares `bytes` and a `sha256:` `hash`."
    template = "A resource cannot be checked for edits: {note}"


# Reading -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FormulaLike:
    """A text value a spreadsheet would read as the start of a formula: a warning, not an error."""

    resource: str
    row: int
    field: str
    value: str


@dataclass(frozen=True)
class ValidationOutcome:
    """The verdict on one release and the frictionless report behind it.

    `formula_like` holds the first formula-like text values (at most `KEPT_FORMULA_LIKE`) and
    `formula_like_count` counts all of them; they never make a release invalid.
    """

    valid: bool
    report: dict[str, Any]
    formula_like: tuple[FormulaLike, ...] = ()
    formula_like_count: int = 0


@attrs.define(kw_only=True, repr=False)
class FormulaLikeCheck(Check):
    """Collects text cells that start with `=`, `+`, `-`, `@`, tab or CR; reports no error."""

    type = "formula-like-text"
    found: list[FormulaLike] = attrs.field(factory=list)
    count: int = 0
    text_columns: list[tuple[int, str]] = attrs.field(factory=list)

    def validate_start(self) -> Iterable[Error]:
        """Find the text columns of the resource: the only cells each row needs looked at."""
        schema = self.resource.schema
        self.text_columns = [
            (index, field.name)
            for index, field in enumerate(schema.fields)
            if field.type in FORMULA_TEXT_TYPES
        ]
        return ()

    def validate_row(self, row: Row) -> Iterable[Error]:
        """Note each formula-like text cell of the row, as published (the first few kept)."""
        cells = row.cells
        for index, name in self.text_columns:
            cell = cells[index] if index < len(cells) else None
            if isinstance(cell, str) and cell.startswith(FORMULA_PREFIXES):
                self.count += 1
                if len(self.found) < KEPT_FORMULA_LIKE:
                    resource = str(self.resource.name)
                    self.found.append(FormulaLike(resource, row.row_number, name, cell))
        return ()


def descriptor_path_of(path: Path) -> Path:
    """The `datapackage.json` of a release folder (or the path itself when it names one)."""
    return path if path.name == DESCRIPTOR_NAME or path.is_file() else path / DESCRIPTOR_NAME


def _schema_of(resource: Descriptor, release: Path) -> Descriptor | None:
    schema = resource.get("schema")
    if isinstance(schema, str):
        schema = (
            read_json_or_none(release / schema) if path_problem(release, schema) is None else None
        )
    return schema if isinstance(schema, Mapping) else None


def _is_table(resource: Descriptor) -> bool:
    path = resource.get("path")
    suffix = PurePosixPath(path).suffix.lstrip(".").lower() if isinstance(path, str) else ""
    return (
        "schema" in resource
        or resource.get("type") == "table"
        or resource.get("profile") == "tabular-data-resource"
        or str(resource.get("format", suffix)).lower() in TABULAR_FORMATS
    )


# Rules ---------------------------------------------------------------------------------------


def _check_version(descriptor: Descriptor, release: Path) -> Iterable[Error]:
    version = descriptor.get("version")
    if version is None:
        yield VersionError(note='the descriptor has no "version"')
    elif not isinstance(version, str) or not is_semver(version):
        yield VersionError(note=f'"{version}" is not a SemVer version such as "1.2.0"')
    elif version != release.name:
        note = f'version "{version}" is in a folder named "{release.name}"'
        yield ReleasePathError(note=note)


def _check_package_name(descriptor: Descriptor, release: Path) -> Iterable[Error]:
    name = descriptor.get("name")
    folder = release.parent.name
    if not isinstance(name, str):
        yield ReleasePathError(note=f'the descriptor has no "name"; expected "{folder}"')
        return
    if not PACKAGE_NAME.match(name):
        yield PackageNameError(note=f'"{name}" does not match {PACKAGE_NAME.pattern}')
    if name != folder:
        yield ReleasePathError(note=f'package "{name}" is in a folder named "{folder}"')


def _check_resources(descriptor: Descriptor, release: Path) -> Iterable[Error]:
    for index, resource in enumerate(resources_of(descriptor)):
        name = resource.get("name")
        label = f'resource "{name}"' if isinstance(name, str) else f"resource {index}"
        if isinstance(name, str) and not RESOURCE_NAME.match(name):
            yield ResourceNameError(note=f'"{name}" does not match {RESOURCE_NAME.pattern}')
        outside = resource_path_errors(resource, release, label)
        yield from outside
        if "path" in resource:
            yield from _check_integrity(resource, label)
        if outside or not _is_table(resource):
            continue  # a schema out of the release is not read
        schema = _schema_of(resource, release)
        if schema is None or not schema.get("primaryKey"):
            yield PrimaryKeyMissingError(note=f'{label} declares no "primaryKey"')
        fields = schema.get("fields") if schema is not None else None
        for field in fields if isinstance(fields, list) else []:
            field_name = field.get("name") if isinstance(field, Mapping) else None
            if isinstance(field_name, str) and not FIELD_NAME.match(field_name):
                note = f'field "{field_name}" of {label} does not match {FIELD_NAME.pattern}'
                yield FieldNameError(note=note)
        yield from index_declaration_errors(resource, schema, label)


def _check_integrity(resource: Descriptor, label: str) -> Iterable[Error]:
    size, digest = resource.get("bytes"), resource.get("hash")
    if not isinstance(size, int) or isinstance(size, bool):
        yield IntegrityError(note=f'{label} declares no "bytes"')
    if not isinstance(digest, str):
        yield IntegrityError(note=f'{label} declares no "hash"')
    elif not digest.startswith("sha256:"):
        yield IntegrityError(note=f'{label} has a "hash" without the "sha256:" prefix')


Rule = Callable[[Descriptor, Path], Iterable[Error]]

RULES: tuple[Rule, ...] = (_check_version, _check_package_name, _check_resources)
"""The project rules, in report order."""


def project_errors(descriptor: Descriptor, release: Path) -> list[Error]:
    """Every project rule a release descriptor breaks (frictionless judges the rest)."""
    return [error for rule in RULES for error in rule(descriptor, release)]


# Validation ----------------------------------------------------------------------------------


def _with_extra_errors(report: Report, extra: list[Error]) -> ValidationOutcome:
    body: dict[str, Any] = report.to_dict()
    if extra:
        body["errors"] = [*body.get("errors", []), *(error.to_dict() for error in extra)]
        body["stats"] = {**body["stats"], "errors": body["stats"]["errors"] + len(extra)}
        body["valid"] = False
    return ValidationOutcome(valid=bool(body["valid"]), report=body)


def _rules_for(descriptor_path: Path) -> list[Error]:
    descriptor = read_json_or_none(descriptor_path)
    if not isinstance(descriptor, Mapping):
        return []
    return project_errors(descriptor, descriptor_path.parent)


def _failure(exception: FrictionlessException) -> Report:
    report: Report = Report.from_validation(errors=exception.reasons or [exception.error])
    return report


def _open_package(descriptor_path: Path) -> Package | Report:
    try:
        package: Package = Package(str(descriptor_path))
    except FrictionlessException as exception:
        return _failure(exception)
    for resource in package.resources:
        # The Data Package default is UTF-8; without this frictionless would guess a codepage.
        if not resource.get_defined("encoding"):
            resource.encoding = DEFAULT_ENCODING
    return package


def _refused_unread(descriptor_path: Path) -> ValidationOutcome | None:
    """The verdict, when a file reference leaves the release: then frictionless reads nothing."""
    outside = descriptor_path_error(descriptor_path)
    if outside is not None:
        return _with_extra_errors(Report.from_validation(), [outside])
    rules = _rules_for(descriptor_path)
    if not any(isinstance(error, ResourcePathError) for error in rules):
        return None
    return _with_extra_errors(Report.from_validation(), rules)


def validate_release(path: Path) -> ValidationOutcome:
    """Validate a release folder (or its `datapackage.json`): descriptor, data, hashes, rules.

    Text values that start like a spreadsheet formula are counted on the way, as warnings.
    """
    descriptor_path = descriptor_path_of(path)
    refused = _refused_unread(descriptor_path)
    if refused is not None:
        return refused
    opened = _open_package(descriptor_path)
    formulas = FormulaLikeCheck()
    try:
        if isinstance(opened, Report):
            report = opened
        else:
            report = opened.validate(Checklist(checks=[formulas]))
    except FrictionlessException as exception:
        report = _failure(exception)
    outcome = _with_extra_errors(report, _rules_for(descriptor_path))
    return replace(outcome, formula_like=tuple(formulas.found), formula_like_count=formulas.count)


def _file_errors(descriptor_path: Path) -> list[Error]:
    found: list[Error] = []
    descriptor = read_json_or_none(descriptor_path)
    if not isinstance(descriptor, Mapping):
        return found
    for resource in resources_of(descriptor):
        path, size = local_path(resource), resource.get("bytes")
        if path is None:
            continue
        file = descriptor_path.parent / path
        if not file.is_file():
            found.append(errors.SchemeError(note=f'file "{path}" does not exist'))
        elif isinstance(size, int) and file.stat().st_size != size:
            note = f'"{path}": expected is "{size}" and actual is "{file.stat().st_size}"'
            found.append(errors.ByteCountError(note=note))
    return found


def validate_descriptor(path: Path) -> ValidationOutcome:
    """Check the descriptor, its schemas, the project rules and file sizes; read no rows."""
    descriptor_path = descriptor_path_of(path)
    refused = _refused_unread(descriptor_path)
    if refused is not None:
        return refused
    report = Package.validate_descriptor(str(descriptor_path))
    extra = _rules_for(descriptor_path)
    if report.valid:
        extra = _file_errors(descriptor_path) + extra
    return _with_extra_errors(report, extra)


def error_entries(outcome: ValidationOutcome) -> list[tuple[str | None, Mapping[str, Any]]]:
    """Every error of the report with the name of its resource (None for top-level errors)."""
    report = outcome.report
    entries: list[tuple[str | None, Mapping[str, Any]]] = [
        (None, error) for error in report.get("errors", [])
    ]
    for task in report.get("tasks", []):
        entries.extend((task.get("name"), error) for error in task.get("errors", []))
    return entries


def flatten(outcome: ValidationOutcome) -> list[FlatError]:
    """(resource name, row number, field name, error type) for every error, in report order.

    A foreign-key error names several fields; they are joined with commas.
    """
    flat: list[FlatError] = []
    for resource, error in error_entries(outcome):
        field = error.get("fieldName")
        if field is None and error.get("fieldNames"):
            field = ",".join(error["fieldNames"])
        flat.append((resource, error.get("rowNumber"), field, str(error["type"])))
    return flat
