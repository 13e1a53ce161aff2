"""OpenAPI 3.1: one typed operation per loaded resource, derived from its Table Schema."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from api.db.releases import Catalog
from api.fieldtypes import type_of
from api.http import answers
from api.http.answers import problem
from api.http.openapi_params import (
    control_parameters,
    filter_parameters,
    parameter,
    possible_value,
    version_parameter,
)
from api.metadata.urls import PATHS
from api.model import FieldSpec, TableSpec
from api.query.expand import expandable
from api.render.page import page_schema as rows_page_schema
from api.render.xlsx import MEDIA_TYPE as XLSX_MEDIA_TYPE

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": (
        "RFC 9457 problem details; `errors` lists the problems of a bad query (the first"
        " OPENDATA_MAX_PROBLEM_ERRORS of them; `errors_omitted` counts the rest)."
    ),
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "request_id": {"type": "string", "description": "The X-Request-ID of the request."},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "param": {"type": "string"},
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                },
                "required": ["param", "code", "message"],
            },
        },
        "errors_omitted": {"type": "integer", "minimum": 1},
    },
    "required": ["type", "title", "status"],
}


def _camel(text: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", text) if part)


CONSTRAINT_KEYWORDS = ("minimum", "maximum", "pattern", "minLength", "maxLength")


def _constrained(schema: dict[str, Any], field: FieldSpec) -> dict[str, Any]:
    """`schema` with the field's enum and the constraints JSON Schema spells the same way."""
    if field.enum is not None:
        schema["enum"] = field.enum
    for key in CONSTRAINT_KEYWORDS:
        if key in field.constraints and key not in schema:
            schema[key] = field.constraints[key]
    return schema


def value_schema(field: FieldSpec) -> dict[str, Any]:
    """JSON Schema of one stored value of a field (nullable unless required)."""
    schema = _constrained(dict(type_of(field.type).json_schema), field)
    if field.title:
        schema["title"] = field.title
    if field.description:
        schema["description"] = field.description
    if not field.required and "type" in schema:
        schema["type"] = [schema["type"], "null"]
        if "enum" in schema:
            schema["enum"] = [*schema["enum"], None]
    return schema


def _reference_name(spec: TableSpec, resource: str) -> str:
    return f"{_camel(spec.package)}{_camel(resource)}Reference"


def reference_schema(target: TableSpec) -> dict[str, Any]:
    """JSON Schema of a referenced row as `_expand` adds it: the columns `_col` leaves."""
    return {
        "type": "object",
        "title": f"{target.title or target.resource} (referenced)",
        "properties": {f.name: value_schema(f) for f in target.fields},
    }


def _expandable_schema(spec: TableSpec, field: FieldSpec) -> dict[str, Any]:
    """A foreign-key value, or with `_expand` the row it refers to (null when it refers to none)."""
    key = spec.foreign_key(field.name)
    if key is None or key.target is None or field.name not in expandable(spec):
        return value_schema(field)
    ref = {"$ref": f"#/components/schemas/{_reference_name(spec, key.target.resource)}"}
    about = f"With `_expand={field.name}`, the {key.target.resource} row it refers to."
    described = f"{field.description} {about}" if field.description else about
    return {"anyOf": [value_schema(field), ref, {"type": "null"}], "description": described}


def row_schema(spec: TableSpec) -> dict[str, Any]:
    """JSON Schema of one row of a resource.

    No property is required: `_col` and `_nocol` choose the columns a row has (the page's
    `columns` lists them), and an older release may lack a column added since.
    """
    return {
        "type": "object",
        "title": spec.title or spec.resource,
        "description": spec.description or "",
        "properties": {f.name: _expandable_schema(spec, f) for f in spec.fields},
    }


ROW_MEDIA_TYPES = {
    "json": "application/json",
    "csv": "text/csv",
    "ndjson": "application/x-ndjson",
    "xlsx": XLSX_MEDIA_TYPE,
}
TEXT_BODY: dict[str, Any] = {"type": "string"}
BINARY_BODY: dict[str, Any] = {"type": "string", "format": "binary"}
NOT_MODIFIED = answers.NOT_MODIFIED[304]
UNAVAILABLE = answers.UNAVAILABLE[503]
ROWS_DESCRIPTION = (
    "\n\nFilters are `column__op=value`; every control starts with `_`. A bad query is a 400"
    " listing every problem."
)


@dataclass(frozen=True)
class Limits:
    """The page and facet limits of the served settings, which the controls' schemas state."""

    default_size: int
    max_size: int
    max_facets: int


def _body(fmt: str, page_ref: str) -> dict[str, Any]:
    schema = {"json": {"$ref": page_ref}, "xlsx": BINARY_BODY}.get(fmt, TEXT_BODY)
    return {ROW_MEDIA_TYPES[fmt]: {"schema": schema}}


def _rows_responses(fmt: str | None, page_ref: str) -> dict[str, Any]:
    """What a rows request in `fmt` answers (None: format by `Accept`, JSON by default)."""
    if fmt is None:
        content: dict[str, Any] = {}
        for each in ROW_MEDIA_TYPES:
            content.update(_body(each, page_ref))
        ok = {"description": "A page of rows (JSON), or every matching row.", "content": content}
    else:
        ok = {
            "description": f"The matching rows as {fmt.upper()}.",
            "content": _body(fmt, page_ref),
        }
    responses: dict[str, Any] = {
        "200": ok,
        "304": NOT_MODIFIED,
        "400": problem("Bad query: every problem listed in `errors`"),
        "404": problem("Unknown package, version or resource"),
    }
    if fmt is None:
        responses["406"] = problem("No offered format fits `Accept`")
    if fmt in (None, "xlsx"):
        responses["413"] = problem(
            "More rows than an `.xlsx` download holds; `csv_url` gives the same rows as CSV"
        )
    responses["503"] = UNAVAILABLE
    return responses


def rows_operations(
    spec: TableSpec, versions: list[str], limits: Limits, page_ref: str
) -> dict[str, dict[str, Any]]:
    """The path and operation of a resource's rows: format by `Accept`, and by each suffix."""
    filters = [p for field in spec.fields for p in filter_parameters(spec, field)]
    base_path = PATHS.resource_template(spec.package, spec.resource)
    operation_id = f"rows_{spec.package}_{spec.resource}".replace("-", "_")
    found = {}
    for fmt in (None, "csv", "ndjson", "xlsx"):
        controls = control_parameters(
            spec,
            fmt,
            default_size=limits.default_size,
            max_size=limits.max_size,
            max_facets=limits.max_facets,
        )
        suffix = "" if fmt is None else f".{fmt}"
        how = (
            "Add `.csv`, `.ndjson` or `.xlsx` to the path, or send `Accept`, to choose the format."
            if fmt is None
            else f"Every matching row as {fmt.upper()}; `_dl=1` names the file."
        )
        found[base_path + suffix] = {
            "tags": [spec.package],
            "summary": f"{spec.title or spec.resource} ({spec.resource}{suffix})",
            "description": (spec.description or "") + ROWS_DESCRIPTION + " " + how,
            "operationId": operation_id + ("" if fmt is None else f"_{fmt}"),
            "parameters": [version_parameter(versions), *filters, *controls],
            "responses": _rows_responses(fmt, page_ref),
        }
    return found


def record_schema(row_ref: str) -> dict[str, Any]:
    """The JSON Schema of one row by key: the row and the release it is read from."""
    return {
        "type": "object",
        "description": "One row, with the package, concrete version and resource it is from.",
        "properties": {
            "package": {"type": "string"},
            "version": {"type": "string"},
            "resource": {"type": "string"},
            "row": {"$ref": row_ref},
        },
        "required": ["package", "version", "resource", "row"],
    }


def row_operation(
    spec: TableSpec, versions: list[str], record_ref: str
) -> tuple[str, dict[str, Any]] | None:
    """The path and operation of one row by primary key; None for a table without a key."""
    if not spec.primary_key:
        return None
    if len(spec.primary_key) == 1:
        field = spec.field(spec.primary_key[0])
        assert field is not None
        key_schema = possible_value(spec, field)
        described = f"The row's `{field.name}`."
    else:
        key_schema = {"type": "string", "minLength": 1}
        described = f"The row's {', '.join(spec.primary_key)}, comma-joined."
    operation = {
        "tags": [spec.package],
        "summary": f"One row of {spec.title or spec.resource} by primary key",
        "description": "The row whose primary key is the last path segment; no query parameters.",
        "operationId": f"row_{spec.package}_{spec.resource}".replace("-", "_"),
        "parameters": [
            version_parameter(versions),
            parameter("key", described, key_schema, location="path"),
        ],
        "responses": {
            "200": {
                "description": "The row.",
                "content": {"application/json": {"schema": {"$ref": record_ref}}},
            },
            "304": NOT_MODIFIED,
            "400": problem("A query parameter was given; one row takes none"),
            "404": problem("Unknown package, version, resource or key"),
            "503": UNAVAILABLE,
        },
    }
    return PATHS.resource_template(spec.package, spec.resource) + "/{key}", operation


def resource_operations(
    spec: TableSpec, versions: list[str], limits: Limits
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """The operations of one resource by path, and the row and page schemas they name."""
    row_name = f"{_camel(spec.package)}{_camel(spec.resource)}Row"
    page_name = f"{_camel(spec.package)}{_camel(spec.resource)}Page"
    record_name = f"{_camel(spec.package)}{_camel(spec.resource)}Record"
    row_ref, page_ref = f"#/components/schemas/{row_name}", f"#/components/schemas/{page_name}"
    paths = rows_operations(spec, versions, limits, page_ref)
    schemas = {row_name: row_schema(spec), page_name: rows_page_schema(row_ref)}
    schemas.update(
        {
            _reference_name(spec, key.target.resource): reference_schema(key.target)
            for key in spec.foreign_keys
            if key.target is not None and key.expandable
        }
    )
    one = row_operation(spec, versions, f"#/components/schemas/{record_name}")
    if one is not None:
        paths[one[0]] = one[1]
        schemas[record_name] = record_schema(row_ref)
    return paths, schemas


def _without_validation_errors(schema: dict[str, Any]) -> None:
    """Drop FastAPI's 422: a parameter the framework cannot read is a 400 problem here."""
    for item in schema.get("paths", {}).values():
        for operation in item.values():
            responses = operation.get("responses", {})
            if responses.pop("422", None) is not None:
                responses.setdefault("400", problem("A parameter could not be read"))
    components = schema.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)


def _bound_page_sizes(schema: dict[str, Any], max_size: int) -> None:
    """Every `_size` a route declares without a bound is bounded by OPENDATA_MAX_PAGE_SIZE."""
    for item in schema.get("paths", {}).values():
        for operation in item.values():
            for param in operation.get("parameters", []):
                if param["name"] == "_size":
                    param["schema"].setdefault("maximum", max_size)


def _edge_refusals(schema: dict[str, Any]) -> None:
    """What the request limits answer before any route runs, on every operation with a query."""
    for item in schema.get("paths", {}).values():
        for operation in item.values():
            if any(p["in"] == "query" for p in operation.get("parameters", [])):
                responses = operation["responses"]
                responses.setdefault(
                    "400", problem("More query parameters than OPENDATA_MAX_QUERY_PARAMS")
                )
                # Far past the limits, the HTTP parser refuses the request head before the
                # application sees it, in plain text.
                refused = responses["400"]
                plain = {"text/plain": {"schema": {"type": "string"}}}
                responses["400"] = {**refused, "content": {**refused["content"], **plain}}
                responses.setdefault(
                    "414", problem("A query string longer than OPENDATA_MAX_QUERY_BYTES")
                )


def install_openapi(app: FastAPI, catalog: Catalog, *, limits: Limits) -> None:
    """Make `/openapi.json` list the typed operations of every resource of the loaded releases."""
    cache: dict[str, Any] = {}

    def build() -> dict[str, Any]:
        snapshot = catalog.snapshot()
        if cache.get("marker") == snapshot.marker:
            return dict(cache["schema"])
        schema = get_openapi(
            title=app.title,
            version=app.version,
            summary=app.summary,
            routes=app.routes,
            description=app.description,
        )
        _without_validation_errors(schema)
        _bound_page_sizes(schema, limits.max_size)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components["Problem"] = PROBLEM_SCHEMA
        paths = schema.setdefault("paths", {})
        for package, releases in snapshot.packages.items():
            latest = releases[-1]
            for resource in latest.tables:
                spec = catalog.table_spec(package, latest.info.version, resource, snapshot=snapshot)
                versions = [r.info.version for r in releases if resource in r.tables]
                operations, schemas = resource_operations(spec, versions, limits)
                components.update(schemas)
                paths.update({path: {"get": op} for path, op in operations.items()})
        _edge_refusals(schema)
        cache.update(marker=snapshot.marker, schema=schema)
        return schema

    app.openapi = build  # type: ignore[method-assign]
