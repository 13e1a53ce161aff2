"""Total decoding of client text: any string in, a value or an `Undecodable` reason out.

Filters, cursors, one-row keys and page sizes all read request text through these functions, so
none of them can raise anything but `Undecodable`: not a `RecursionError` on deeply nested JSON,
a `ValueError` from Python's limit on integer digits, an `InvalidOperation` from `Decimal`, an
`OverflowError` from a date at the end of the calendar, or a `UnicodeEncodeError` when a lone
surrogate reaches the database driver.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from api.storage import stored_value, unstorable

# Deeper than any value the grammar accepts (a cursor is a list of {tag: text} objects), far
# below the interpreter's recursion limit.
MAX_JSON_DEPTH = 8
_JSON_STRUCTURE = re.compile(r'"(?:[^"\\]|\\.)*"?|[\[\]{}]')
_SURROGATE = re.compile("[\ud800-\udfff]")


class Undecodable(ValueError):
    """Client text that cannot be read as asked; the message says why, in plain words."""


def text_problem(value: Any) -> str | None:
    """Why a value read from a request cannot be compared with stored values, or None.

    Strings must be encodable as UTF-8 (JSON's `\\ud800` escape gives a lone surrogate, which no
    driver can send) and free of NUL; integers must fit 64 bits.
    """
    if isinstance(value, str) and _SURROGATE.search(value):
        return "it contains a lone surrogate (\\ud800 to \\udfff), which is not text"
    return unstorable(value)


def json_depth(text: str) -> int:
    """How deeply the arrays and objects of JSON `text` nest (brackets in strings ignored)."""
    depth = deepest = 0
    for token in _JSON_STRUCTURE.findall(text):
        if token in ("[", "{"):
            depth += 1
            deepest = max(deepest, depth)
        elif token in ("]", "}"):
            depth -= 1
    return deepest


def load_json(
    text: str,
    *,
    max_depth: int = MAX_JSON_DEPTH,
    object_hook: Callable[[dict[str, Any]], Any] | None = None,
) -> Any:
    """Parse JSON `text` nested at most `max_depth` deep; Undecodable when it cannot be read.

    `object_hook` may raise ValueError or ArithmeticError to refuse an object. `NaN` and
    `Infinity` are accepted, as cursors carry them.
    """
    if json_depth(text) > max_depth:
        raise Undecodable(f"it nests arrays or objects more than {max_depth} deep")
    try:
        return json.loads(text, object_hook=object_hook)
    except (ValueError, ArithmeticError, TypeError, RecursionError) as exc:
        raise Undecodable("it is not valid JSON") from exc


def whole_number(text: str, *, low: int, high: int) -> int | None:
    """`text` as an integer from `low` to `high` (ASCII digits only), else None; never raises."""
    if not (text.isascii() and text.isdigit()):
        return None
    digits = text.lstrip("0") or "0"
    if len(digits) > len(str(high)):
        return None  # also keeps int() clear of Python's limit on integer digits
    number = int(digits)
    return number if low <= number <= high else None


def stored_or_problem(field_type: str, value: Any) -> tuple[Any, str | None]:
    """Return (`value` in stored form, None), or (None, why it cannot be stored).

    Storing converts an aware datetime to UTC, which can leave the calendar (year 1 at +01:00),
    and a Decimal to float, which refuses a signalling NaN.
    """
    reason = text_problem(value)
    if reason is not None:
        return None, reason
    try:
        return stored_value(field_type, value), None
    except (ValueError, ArithmeticError, TypeError):
        return None, f"it cannot be stored as a {field_type}"
