"""Merge-join of two primary-key-ordered row streams into rows added, removed and changed.

Both streams must be in strictly increasing key order as Python compares the key tuples (text by
code point, dates as dates). The join checks that as it goes and raises `RowOrderError` rather than
report a wrong diff. Values are compared as stored: a date equals a date, never its text.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Row = Mapping[str, Any]
Key = tuple[Any, ...]

ADDED, REMOVED, CHANGED = "added", "removed", "changed"
DIFF_TYPES = (ADDED, REMOVED, CHANGED)


class RowOrderError(ValueError):
    """A row stream is not in strictly increasing primary-key order."""


@dataclass(frozen=True)
class RowChange:
    """One row added, removed or changed, with the row as it was and as it is."""

    diff_type: str
    key: Key
    before: Row | None
    after: Row | None
    changed: tuple[str, ...] = ()


@dataclass(frozen=True)
class RowCounts:
    """How many rows of a resource were added, removed, changed and left alone."""

    added: int = 0
    removed: int = 0
    changed: int = 0
    unchanged: int = 0

    @property
    def changes(self) -> int:
        """Rows added, removed or changed."""
        return self.added + self.removed + self.changed

    def as_dict(self) -> dict[str, int]:
        """The counts as a JSON object."""
        return {
            "added": self.added,
            "removed": self.removed,
            "changed": self.changed,
            "unchanged": self.unchanged,
        }


def same_value(before: Any, after: Any) -> bool:
    """Whether two stored values are equal (missing equals missing, NaN equals NaN)."""
    if before is None or after is None:
        return before is after
    if isinstance(before, float) and isinstance(after, float):
        return before == after or (math.isnan(before) and math.isnan(after))
    return bool(before == after)


def _keyed(rows: Iterable[Row], key: Sequence[str], side: str) -> Iterator[tuple[Key, Row]]:
    previous: Key | None = None
    for row in rows:
        current = tuple(row[name] for name in key)
        if any(value is None for value in current):
            raise RowOrderError(f"a row of the {side} release has no value for key {list(key)}")
        if previous is not None:
            try:
                ordered = previous < current
            except TypeError:
                ordered = False
            if not ordered:
                raise RowOrderError(
                    f"rows of the {side} release are not in primary-key order:"
                    f" {current!r} comes after {previous!r}"
                )
        previous = current
        yield current, row


def _before(left: Key, right: Key) -> bool:
    try:
        return left < right
    except TypeError as exc:
        raise RowOrderError(f"keys {left!r} and {right!r} cannot be compared") from exc


def _merge(
    before: Iterable[Row], after: Iterable[Row], key: Sequence[str], fields: Sequence[str]
) -> Iterator[RowChange | None]:
    """Every change in key order, and None for each row pair left unchanged."""
    left, right = _keyed(before, key, "older"), _keyed(after, key, "newer")
    old, new = next(left, None), next(right, None)
    while old is not None or new is not None:
        if new is None or (old is not None and _before(old[0], new[0])):
            assert old is not None
            yield RowChange(REMOVED, old[0], old[1], None)
            old = next(left, None)
        elif old is None or _before(new[0], old[0]):
            yield RowChange(ADDED, new[0], None, new[1])
            new = next(right, None)
        else:
            changed = tuple(f for f in fields if not same_value(old[1].get(f), new[1].get(f)))
            yield RowChange(CHANGED, new[0], old[1], new[1], changed) if changed else None
            old, new = next(left, None), next(right, None)


def diff_rows(
    before: Iterable[Row], after: Iterable[Row], *, key: Sequence[str], fields: Sequence[str]
) -> Iterator[RowChange]:
    """Rows added, removed and changed (in `fields`), in key order.

    :param before: rows of the older release, in key order.
    :param after: rows of the newer release, in key order.
    """
    return (change for change in _merge(before, after, key, fields) if change is not None)


def tally(
    before: Iterable[Row], after: Iterable[Row], *, key: Sequence[str], fields: Sequence[str]
) -> RowCounts:
    """Count the rows added, removed, changed and unchanged."""
    counts = dict.fromkeys((*DIFF_TYPES, "unchanged"), 0)
    for change in _merge(before, after, key, fields):
        counts[change.diff_type if change is not None else "unchanged"] += 1
    return RowCounts(**counts)


# Output shapes ---------------------------------------------------------------------------------


def change_record(resource: str, change: RowChange, key: Sequence[str]) -> dict[str, Any]:
    """A change as a JSON object: changed fields as `from_<field>`/`to_<field>` pairs.

    An added row carries `to_` values of all its fields, a removed row `from_` values.
    """
    record: dict[str, Any] = {
        "resource": resource,
        "diff_type": change.diff_type,
        "key": dict(zip(key, change.key, strict=True)),
    }
    if change.before is not None and change.after is not None:
        for name in change.changed:
            record[f"from_{name}"] = change.before.get(name)
            record[f"to_{name}"] = change.after.get(name)
    elif change.after is not None:
        record.update((f"to_{k}", v) for k, v in change.after.items() if k not in key)
    elif change.before is not None:
        record.update((f"from_{k}", v) for k, v in change.before.items() if k not in key)
    return record


def csv_header(key: Sequence[str], fields: Sequence[str]) -> list[str]:
    """Key columns, `diff_type`, then `from_<field>` and `to_<field>` for every field."""
    return [*key, "diff_type", *(f"{side}_{name}" for name in fields for side in ("from", "to"))]


def csv_row(change: RowChange, fields: Sequence[str]) -> list[Any]:
    """One change as a CSV row under `csv_header`."""
    cells: list[Any] = [*change.key, change.diff_type]
    for name in fields:
        cells.append(change.before.get(name) if change.before is not None else None)
        cells.append(change.after.get(name) if change.after is not None else None)
    return cells
