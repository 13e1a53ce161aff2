"""Reading the values of a query string: each value with its field's frictionless reader.

A value that cannot be read raises a `Problem`; `QueryParser` records every problem of a query
string so that the grammar can report them all at once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from typing import Any

import frictionless
import orjson

from api.errors import ParamError, quoted
from api.fieldtypes import type_of
from api.model import FieldSpec, TableSpec
from api.query.constraints import bound_problems, rules_of, value_problems
from api.query.decode import Undecodable, load_json, stored_or_problem, text_problem
from api.query.operators import Operator

FLAGS: dict[str, bool] = {"1": True, "true": True, "0": False, "false": False}
MAX_LIST_VALUES = 1000


class Problem(Exception):
    """A problem with one parameter, raised while reading it and recorded by the caller."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.found = [(code, message)]

    @classmethod
    def of(cls, found: Sequence[tuple[str, str]]) -> Problem:
        """Return one problem that carries every (code, message) pair in `found`."""
        problem = cls(*found[0])
        problem.found = list(found)
        return problem

    @classmethod
    def joined(cls, problems: Sequence[Problem]) -> Problem:
        """Return one problem that carries every problem in `problems`."""
        joined = cls(*problems[0].found[0])
        joined.found = [pair for problem in problems for pair in problem.found]
        return joined


def unknown_column(spec: TableSpec, name: str) -> Problem:
    """The problem of a name that is no column of the table, listing the columns."""
    known = ", ".join(spec.column_names)
    return Problem(
        "unknown-column", f"No column {quoted(name)} in this table; the columns are: {known}."
    )


@lru_cache(maxsize=4096)
def value_reader(descriptor: str) -> Callable[[Any], Any]:
    """frictionless's value reader of a field, built once per field descriptor.

    Building a `frictionless.Field` validates and copies its descriptor (about 1 ms); the reader
    it returns is a pure function of the descriptor, so every request can share it.
    """
    return frictionless.Field.from_descriptor(orjson.loads(descriptor)).create_value_reader()


class FieldReader:
    """Reads the values of a table's fields with their frictionless readers."""

    def __init__(self, spec: TableSpec) -> None:
        self.spec = spec
        self._keys: dict[str, str] = {}

    def field(self, name: str) -> FieldSpec:
        """The field called `name`; an `unknown-column` problem if there is none."""
        field = self.spec.field(name)
        if field is None:
            raise unknown_column(self.spec, name)
        return field

    def key(self, field: FieldSpec) -> str:
        """The field's descriptor as canonical JSON: what its reader and rules are cached by."""
        if field.name not in self._keys:
            descriptor = dict(field.descriptor) or {
                "name": field.name,
                "type": field.type,
                **({"format": field.format} if field.format else {}),
                **({"constraints": dict(field.constraints)} if field.constraints else {}),
            }
            self._keys[field.name] = orjson.dumps(descriptor, option=orjson.OPT_SORT_KEYS).decode()
        return self._keys[field.name]

    def read(self, field: FieldSpec, text: str, *, possible: bool) -> Any:
        """Return `text` read as a value of `field`, in stored form.

        :param possible: refuse a value that no row can hold (see `api.query.constraints`).
        """
        reader = value_reader(self.key(field))
        if not text:
            raise Problem(
                "invalid-value",
                f"An empty value for column {quoted(field.name)} matches "
                f"nothing; use {field.name}__isnull=1 to find missing values.",
            )
        reason = text_problem(text)
        if reason is not None:
            raise Problem(
                "invalid-value",
                f"{quoted(text)} is not a usable value for column {quoted(field.name)}: {reason}.",
            )
        value = reader(text)
        if value is None:
            if field.format and field.format != "default":
                expected = f"a {field.type} in format {quoted(field.format)}"
            else:
                expected = type_of(field.type).hint
            raise Problem(
                "invalid-value",
                f"{quoted(text)} is not a valid value for column {quoted(field.name)}:"
                f" expected {expected}.",
            )
        stored, reason = stored_or_problem(field.type, value)
        if reason is not None:
            raise Problem(
                "invalid-value",
                f"{quoted(text)} is not a usable value for column {quoted(field.name)}: {reason}.",
            )
        if possible:
            found = value_problems(self.spec, field, rules_of(self.key(field)), stored, text)
            if found:
                raise Problem.of(found)
        return stored


class QueryParser(FieldReader):
    """Collects every problem of one query string while it is read."""

    def __init__(self, spec: TableSpec) -> None:
        super().__init__(spec)
        self.errors: list[ParamError] = []

    def record(self, param: str, problem: Problem) -> None:
        """Keep every (code, message) of `problem` as an error of `param`."""
        self.errors.extend(ParamError(param, code, message) for code, message in problem.found)

    def value(self, field: FieldSpec, op: Operator, text: str) -> Any:
        """Read the value of a filter according to its operator's kind."""
        if op.kind == "flag":
            if text.lower() not in FLAGS:
                raise Problem(
                    "invalid-value", f"{op.key} takes 1 or true, 0 or false; got {quoted(text)}."
                )
            return FLAGS[text.lower()]
        if op.kind == "text":
            if not text:
                raise Problem(
                    "invalid-value",
                    f"An empty text matches every value of column "
                    f"{quoted(field.name)}; leave the filter out instead.",
                )
            reason = text_problem(text)
            if reason is not None:
                raise Problem("invalid-value", f"{quoted(text)} cannot be searched for: {reason}.")
            return text
        if op.kind == "single":
            value = self.read(field, text, possible=op.checked == "value")
        elif op.kind == "range":
            value = self.bounds(field, text)
        else:
            return self.members(field, text, possible=op.checked == "value")
        if op.checked == "bound":
            found = bound_problems(field, rules_of(self.key(field)), op.key, value)
            if found:
                raise Problem.of(found)
        return value

    def bounds(self, field: FieldSpec, text: str) -> tuple[Any, Any]:
        """Read a `low..high` range, either end optional."""
        if text.count("..") != 1 or text == "..":
            raise Problem(
                "invalid-value",
                f"Write a range as low..high, either end optional; got {quoted(text)}.",
            )
        low_text, _, high_text = text.partition("..")
        low = self.read(field, low_text, possible=False) if low_text else None
        high = self.read(field, high_text, possible=False) if high_text else None
        if low is not None and high is not None and low > high:
            raise Problem(
                "invalid-value", f"The range {quoted(text)} is empty: its low end is higher."
            )
        return low, high

    def members(self, field: FieldSpec, text: str, *, possible: bool) -> tuple[Any, ...]:
        """Read every member of a list; raise one problem naming each bad member."""
        values, problems = [], []
        for item in list_items(text):
            try:
                values.append(self.read(field, item, possible=possible))
            except Problem as problem:
                problems.append(problem)
        if problems:
            raise Problem.joined(problems)
        return tuple(values)

    def names(self, param: str, values: Iterable[str]) -> list[str]:
        """Column names of a comma-separated and/or repeated control; unknown ones recorded."""
        names = []
        for value in values:
            for name in split_names(self.spec, value):
                if self.spec.field(name) is None:
                    self.record(param, unknown_column(self.spec, name))
                else:
                    names.append(name)
        return names


def list_items(text: str) -> list[str]:
    """The members of a list value: comma-separated, or a JSON array of strings and numbers."""
    if not text.startswith("["):
        items: Any = text.split(",")
    else:
        try:
            items = load_json(text)
        except Undecodable:
            items = None
        if not isinstance(items, list) or not items or not all(_scalar(i) for i in items):
            raise Problem(
                "invalid-value", "A JSON array must hold strings and numbers, at least one."
            )
    if len(items) > MAX_LIST_VALUES:
        raise Problem("invalid-value", f"A list may hold at most {MAX_LIST_VALUES} values.")
    return [i if isinstance(i, str) else json.dumps(i) for i in items]


def _scalar(item: Any) -> bool:
    return isinstance(item, str | int | float) and not isinstance(item, bool)


def split_names(spec: TableSpec, value: str) -> list[str]:
    """Column names of one control value, comma-separated."""
    # A whole value naming a column wins, so a column whose name holds a comma stays reachable.
    return [value] if spec.field(value.removeprefix("-")) is not None else value.split(",")
