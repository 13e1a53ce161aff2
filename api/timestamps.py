"""ISO 8601 timestamps as descriptors and query strings write them, read one way everywhere."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any


def parse_timestamp(text: str) -> datetime:
    """An ISO 8601 date or date-time, a trailing `Z` read as UTC; ValueError when it is neither."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def timestamp_date(value: Any) -> date | None:
    """The day of an ISO 8601 timestamp such as a descriptor's `created`; None when absent or
    unreadable."""
    if value is None:
        return None
    try:
        return parse_timestamp(str(value)).date()
    except ValueError:
        return None
