"""OpenAPI parameters of the rows grammar: each filter and control typed as the parser reads it.

A parameter's schema is what the parser accepts: its type, the column's constraints where the
parser checks them (an equality value must be one a row can hold, a range bound must fit the
column's pattern and limits), the referenced keys of a small foreign-key table, the values of
a choice control. What a schema cannot say is in the README ("What the OpenAPI document says").
"""

from __future__ import annotations

from typing import Any

from api.fieldtypes import SORTABLE_TYPES, type_of
from api.model import FieldSpec, TableSpec
from api.query.expand import expandable
from api.query.grammar import COUNT_MODES, DELIMITERS
from api.query.operators import CONTROLS, OPERATORS, describe_control, operators_for
from api.query.values import FLAGS, MAX_LIST_VALUES

VERSION_PATTERN = (
    r"^(latest|(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)([-+][0-9A-Za-z.+-]+)?)$"
)
INT64 = {"minimum": -(2**63), "maximum": 2**63 - 1}
CONSTRAINT_KEYWORDS = ("minimum", "maximum", "pattern", "minLength", "maxLength")
# A range bound outside the column's limits matches no row (`api.query.constraints`): the limit
# each comparison's value must stay inside, as the JSON Schema keyword that says it.
BOUND_LIMITS: dict[str, dict[str, str]] = {
    "gt": {"maximum": "exclusiveMaximum", "exclusiveMaximum": "exclusiveMaximum"},
    "gte": {"maximum": "maximum", "exclusiveMaximum": "exclusiveMaximum"},
    "lt": {"minimum": "exclusiveMinimum", "exclusiveMinimum": "exclusiveMinimum"},
    "lte": {"minimum": "minimum", "exclusiveMinimum": "exclusiveMinimum"},
}
NUMERIC = ("integer", "number")
YEAR = "(000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-9][0-9]{3})"  # 0001 to 9999, as dates hold
TEXT_PATTERN = "^[^\\u0000]*$"  # text is compared as stored text, which holds no NUL
STRING_FORMATS = ("uri", "email", "uuid")  # the formats of `string` JSON Schema spells too
NUMBER_TEXT = {"integer": "-?[0-9]{1,18}", "number": r"-?[0-9]{1,15}(\.[0-9]{1,15})?"}


def anchored(pattern: str) -> str:
    """A Table Schema pattern (matched against the whole value) as a JSON Schema pattern."""
    if pattern.startswith("^") and pattern.endswith("$"):
        return pattern
    return f"^(?:{pattern})$"


def parameter(
    name: str, description: str, schema: dict[str, Any], *, location: str = "query"
) -> dict[str, Any]:
    """One OpenAPI parameter; a repeatable one (an array schema) is sent once per value."""
    found: dict[str, Any] = {
        "name": name,
        "in": location,
        "description": description,
        "required": location == "path",
        "schema": schema,
    }
    if schema.get("type") == "array" and location == "query":
        found.update(style="form", explode=schema.pop("x-explode", True))
    return found


def version_parameter(versions: list[str]) -> dict[str, Any]:
    """The `{version}` path segment: any SemVer or `latest`, with the versions loaded now.

    Not an enum: a client generated from this document must still reach a later release.
    """
    listed = ", ".join(f"`{v}`" for v in versions)
    return parameter(
        "version",
        f"A release version, or `latest`. Loaded when this document was made: {listed}. The"
        " parameters and row schema are the latest release's; an older release may lack a"
        " column added since (its `datapackage.json` lists its own).",
        {"type": "string", "pattern": VERSION_PATTERN, "examples": ["latest", versions[-1]]},
        location="path",
    )


def _base(field: FieldSpec) -> dict[str, Any]:
    """A value of the field as query text: its JSON type; text is never empty, integers 64-bit."""
    schema = dict(type_of(field.type).json_schema)
    if schema.get("type") not in ("string", *NUMERIC, "boolean") or "items" in schema:
        schema = {"type": "string"}
    if schema["type"] == "string" and "format" not in schema:
        schema.update(minLength=1, pattern=TEXT_PATTERN)
        if field.format in STRING_FORMATS:
            schema["format"] = field.format
    if schema["type"] == "integer":
        schema.update(INT64)
    return schema


def possible_value(spec: TableSpec, field: FieldSpec) -> dict[str, Any]:
    """A value an equality filter takes: one a row of the column can hold."""
    schema = _base(field)
    if field.enum is not None:
        schema["enum"] = list(field.enum)
    reference = spec.references.get(field.name)
    if reference is not None and "enum" not in schema:
        schema["enum"] = sorted(reference.values, key=str)
    for key in CONSTRAINT_KEYWORDS:
        if key in field.constraints:
            schema[key] = field.constraints[key]
    if "pattern" in schema:
        schema["pattern"] = anchored(schema["pattern"])
    for key in ("exclusiveMinimum", "exclusiveMaximum"):
        if key in field.constraints and schema["type"] in NUMERIC:
            schema[key] = field.constraints[key]
    if "enum" in schema:  # the values themselves: every other keyword holds of them
        return {"type": schema["type"], "enum": schema["enum"]}
    return schema


def _bound(field: FieldSpec, op: str) -> dict[str, Any]:
    schema = _base(field)
    if "pattern" in field.constraints and schema["type"] == "string":
        schema["pattern"] = anchored(field.constraints["pattern"])
    if schema["type"] in NUMERIC:
        for constraint, keyword in BOUND_LIMITS[op].items():
            if constraint in field.constraints:
                schema[keyword] = field.constraints[constraint]
    return schema


def _range(field: FieldSpec) -> dict[str, Any]:
    """`low..high`, either end optional: typed ends for numbers and dates, any text otherwise.

    A high end below a column's `minimum: 0` matches no row, so such a column's high end is
    never negative; other limits on a range are not written here (README).
    """
    kind = type_of(field.type).json_schema.get("type", "")
    low = high = NUMBER_TEXT.get(kind)
    if high is not None and field.constraints.get("minimum") == 0:
        high = high.removeprefix("-?")
    if field.type == "date":
        low = high = f"{YEAR}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])"
    if low is None and field.format == "uri":
        low = high = "[A-Za-z][A-Za-z0-9+-]*:[A-Za-z0-9/_~%-]+"  # a URI, without dots
    if low is None and "pattern" in field.constraints:
        low = high = f"(?:{anchored(field.constraints['pattern'])[1:-1]})"
    if low is None:
        return {
            "type": "string",
            "pattern": r"^[^.\u0000]*[^.\u0000]\.\.[^.\u0000]*$|^\.\.[^.\u0000]+$",
        }
    return {"type": "string", "pattern": f"^({low}\\.\\.({high})?|\\.\\.{high})$"}


def _members(item: dict[str, Any]) -> dict[str, Any]:
    """A comma-separated list (`style: form, explode: false`), at least one value."""
    if item["type"] == "string" and "enum" not in item and item.get("pattern") == TEXT_PATTERN:
        item = {**item, "pattern": "^[^,\\[\\u0000][^,\\u0000]*$"}
    return {
        "type": "array",
        "items": item,
        "minItems": 1,
        "maxItems": MAX_LIST_VALUES,
        "x-explode": False,
    }


FLAG_SCHEMA: dict[str, Any] = {"type": "string", "enum": list(FLAGS)}


def filter_schema(spec: TableSpec, field: FieldSpec, op: str) -> dict[str, Any]:
    """The schema of the value of filter `column__op` (`exact` also for the bare `column=`)."""
    kind = OPERATORS[op].kind
    if kind == "flag":
        return dict(FLAG_SCHEMA)
    if kind == "text":
        return {"type": "string", "minLength": 1, "pattern": TEXT_PATTERN}
    if kind == "range":
        return _range(field)
    if kind == "list":
        return _members(possible_value(spec, field) if op == "in" else _base(field))
    if op == "exact":
        return possible_value(spec, field)
    if op in BOUND_LIMITS:
        return _bound(field, op)
    return _base(field)


def filter_parameters(spec: TableSpec, field: FieldSpec) -> list[dict[str, Any]]:
    """`column=` and every `column__op=` that fits the field's type."""
    label = field.title or field.name
    parameters = [
        parameter(
            field.name,
            f"{label}: equals (same as `{field.name}__exact`).",
            filter_schema(spec, field, "exact"),
        )
    ]
    for key in operators_for(field.type):
        parameters.append(
            parameter(
                f"{field.name}__{key}",
                f"{label}: {OPERATORS[key].description}",
                filter_schema(spec, field, key),
            )
        )
    return parameters


def control_schema(
    spec: TableSpec, key: str, *, max_size: int, max_facets: int
) -> dict[str, Any] | None:
    """The schema of a control of `spec`'s rows; None where the table gives it nothing to name."""
    followed = expandable(spec)
    referenced = [
        f"{reference.fields[0]}.{column}"
        for reference in spec.foreign_keys
        if reference.expandable and reference.target is not None
        for column in reference.target.column_names
    ]
    columns = [*spec.column_names, *referenced]
    sortable = [f.name for f in spec.fields if f.type in SORTABLE_TYPES]
    names = {"type": "array", "minItems": 1}  # a name given twice counts once
    schemas: dict[str, dict[str, Any] | None] = {
        "_sort": {
            **names,
            "uniqueItems": True,
            "items": {"type": "string", "enum": _signed(sortable)},
        }
        if sortable
        else None,
        "_col": {**names, "items": {"type": "string", "enum": columns}},
        "_nocol": {**names, "items": {"type": "string", "enum": columns}},
        "_size": {"type": "integer", "minimum": 0, "maximum": max_size},
        "_next": {"type": "string", "minLength": 1},
        "_count": {"type": "string", "enum": list(COUNT_MODES)},
        "_facet": {**names, "maxItems": max_facets, "items": {"type": "string", "enum": sortable}}
        if sortable
        else None,
        "_bom": dict(FLAG_SCHEMA),
        "_delimiter": {"type": "string", "enum": list(DELIMITERS)},
        "_dl": dict(FLAG_SCHEMA),
        "_expand": {**names, "uniqueItems": True, "items": {"type": "string", "enum": followed}}
        if followed
        else None,
    }
    return schemas[key]


def _signed(names: list[str]) -> list[str]:
    return [signed for name in names for signed in (name, f"-{name}")]


def control_parameters(
    spec: TableSpec, fmt: str | None, *, default_size: int, max_size: int, max_facets: int
) -> list[dict[str, Any]]:
    """The controls that apply to rows in `fmt` (None: the JSON page, format by `Accept`)."""
    parameters = []
    for key, control in CONTROLS.items():
        if control.formats is not None and (fmt or "json") not in control.formats:
            continue
        schema = control_schema(spec, key, max_size=max_size, max_facets=max_facets)
        if schema is None:
            continue
        description = describe_control(key, default_size=default_size, max_size=max_size)
        parameters.append(parameter(key, description, schema))
    return parameters
