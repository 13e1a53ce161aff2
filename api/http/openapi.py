"""OpenAPI 3.1: one typed operation per loaded resource, derived from its Table Schema."""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from api.db.releases import Catalog
from api.fieldtypes import type_of
from api.metadata.urls import PATHS
from api.model import FieldSpec, TableSpec
from api.query.expand import expandable
from api.query.operators import CONTROLS, OPERATORS, describe_control, operators_for
from api.render.page import page_schema as rows_page_schema
from api.render.xlsx import MEDIA_TYPE as XLSX_MEDIA_TYPE

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
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


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": PROBLEM_REF}},
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
    """JSON Schema of one row of a resource."""
    return {
        "type": "object",
        "title": spec.title or spec.resource,
        "description": spec.description or "",
        "properties": {f.name: _expandable_schema(spec, f) for f in spec.fields},
        "required": list(spec.column_names),
    }


def _parameter(
    name: str,
    description: str,
    schema: dict[str, Any],
    *,
    multi: bool = False,
    location: str = "query",
) -> dict[str, Any]:
    parameter: dict[str, Any] = {
        "name": name,
        "in": location,
        "description": description,
        "required": location == "path",
    }
    parameter["schema"] = {"type": "array", "items": schema} if multi else schema
    if multi:
        parameter["explode"] = True
    return parameter


def _filter_parameters(field: FieldSpec) -> list[dict[str, Any]]:
    label = field.title or field.name
    parameters = [
        _parameter(field.name, f"{label}: equals (same as `{field.name}__exact`).", _scalar(field))
    ]
    for key in operators_for(field.type):
        operator = OPERATORS[key]
        parameters.append(
            _parameter(
                f"{field.name}__{key}", f"{label}: {operator.description}", {"type": "string"}
            )
        )
    return parameters


def _scalar(field: FieldSpec) -> dict[str, Any]:
    # A value as text; one breaking a constraint is refused, so the schema says so.
    return _constrained(dict(type_of(field.type).json_schema or {"type": "string"}), field)


def resource_operation(
    spec: TableSpec, versions: list[str], *, default_size: int, max_size: int
) -> tuple[str, dict[str, Any], str, dict[str, Any]]:
    """The path, operation, row-schema name and row schema of one resource."""
    row_name = f"{_camel(spec.package)}{_camel(spec.resource)}Row"
    page_name = f"{_camel(spec.package)}{_camel(spec.resource)}Page"
    parameters = [
        _parameter(
            "version",
            "A release version, or `latest`.",
            {"type": "string", "enum": ["latest", *versions]},
            location="path",
        ),
    ]
    for field in spec.fields:
        parameters.extend(_filter_parameters(field))
    followed = expandable(spec)
    for key, control in CONTROLS.items():
        schema: dict[str, Any] = {"type": "string"}
        if key == "_expand" and followed:
            schema["enum"] = followed
        parameters.append(
            _parameter(
                key,
                describe_control(key, default_size=default_size, max_size=max_size),
                schema,
                multi=control.repeatable,
            )
        )
    page_schema = rows_page_schema(f"#/components/schemas/{row_name}")
    operation = {
        "tags": [spec.package],
        "summary": f"{spec.title or spec.resource} ({spec.resource})",
        "description": (spec.description or "") + "\n\nFilters are `column__op=value`; "
        "every control starts with `_`. A bad query is a 400 listing every problem. "
        "Add `.csv`, `.ndjson`, `.xlsx` or `.json` to the path, or send `Accept`, "
        "to choose the format.",
        "operationId": f"rows_{spec.package}_{spec.resource}".replace("-", "_"),
        "parameters": parameters,
        "responses": {
            "200": {
                "description": "A page of rows (JSON) or every matching row (CSV, NDJSON).",
                "content": {
                    "application/json": {"schema": {"$ref": f"#/components/schemas/{page_name}"}},
                    "text/csv": {"schema": {"type": "string"}},
                    "application/x-ndjson": {"schema": {"type": "string"}},
                    XLSX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
                },
            },
            "304": {"description": "Not modified (If-None-Match)."},
            "400": _problem("Bad query: every problem listed in `errors`"),
            "404": _problem("Unknown version or resource"),
            "406": _problem("Not acceptable"),
            "413": _problem(
                "More rows than an `.xlsx` download holds; `csv_url` gives the same rows as CSV"
            ),
        },
    }
    path = PATHS.resource_template(spec.package, spec.resource)
    references = {
        _reference_name(spec, key.target.resource): reference_schema(key.target)
        for key in spec.foreign_keys
        if key.target is not None and key.expandable
    }
    extra = {"row": row_schema(spec), "page": (page_name, page_schema), "references": references}
    return path, operation, row_name, extra


def install_openapi(app: FastAPI, catalog: Catalog, *, default_size: int, max_size: int) -> None:
    """Make `/openapi.json` list one typed operation per resource of the loaded releases."""
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
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components["Problem"] = PROBLEM_SCHEMA
        paths = schema.setdefault("paths", {})
        for package, releases in snapshot.packages.items():
            latest = releases[-1]
            for resource in latest.tables:
                spec = catalog.table_spec(package, latest.info.version, resource, snapshot=snapshot)
                versions = [r.info.version for r in releases if resource in r.tables]
                path, operation, row_name, extra = resource_operation(
                    spec, versions, default_size=default_size, max_size=max_size
                )
                components[row_name] = extra["row"]
                page_name, page_schema = extra["page"]
                components[page_name] = page_schema
                components.update(extra["references"])
                paths[path] = {"get": operation}
        cache.update(marker=snapshot.marker, schema=schema)
        return schema

    app.openapi = build  # type: ignore[method-assign]
