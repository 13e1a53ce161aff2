"""Reading `_`-prefixed controls: the problems every query string that takes controls shares.

The rows grammar and the diff query both read their controls here, so that a repeated control
or a bad page size reads the same wherever it is given.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from api.errors import BadQuery, ParamError, plain, quoted
from api.query.decode import whole_number
from api.query.operators import Control


def duplicate_error(key: str, count: int) -> ParamError:
    """The problem of a single control given `count` times."""
    return ParamError(key, "duplicate-parameter", f"{key} is given {count} times; give it once.")


def read_size(text: str, *, max_size: int, low: int = 1) -> int:
    """A page size, a whole number from `low` to `max_size`; BadQuery when it is not one.

    A rows page may be empty (`low` 0: the count alone); a diff page may not.
    """
    size = whole_number(text, low=low, high=max_size)
    if size is None:
        message = f"_size must be a whole number from {low} to {max_size}; got {quoted(text)}."
        raise BadQuery([ParamError("_size", "invalid-size", message)])
    return size


def read_controls(
    params: Sequence[tuple[str, str]], controls: Mapping[str, Control], *, kind: str
) -> tuple[dict[str, list[str]], list[ParamError]]:
    """The values given to each control of a query string that takes `controls` only.

    Each key that is not a control, then each single control given more than once, is a
    problem. :param kind: what takes the controls, for the message (``a diff``).
    """
    given: dict[str, list[str]] = {}
    errors: list[ParamError] = []
    for key, value in params:
        if key in controls:
            given.setdefault(key, []).append(value)
        else:
            known = ", ".join(controls)
            message = f"{plain(key)} is not a parameter of {kind}; they are: {known}."
            errors.append(ParamError(key, "unknown-parameter", message))
    errors += [
        duplicate_error(key, len(values))
        for key, values in given.items()
        if len(values) > 1 and not controls[key].repeatable
    ]
    return given, errors
