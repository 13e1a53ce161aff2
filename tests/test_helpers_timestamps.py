"""ISO 8601 timestamps: one reader for descriptors, query strings and harvest filters."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from api.timestamps import parse_timestamp, timestamp_date


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-10-18T09:30:00Z", datetime(2025, 10, 18, 9, 30, tzinfo=UTC)),
        (
            "2025-10-18T09:30:00+07:00",
            datetime(2025, 10, 18, 9, 30, tzinfo=timezone(timedelta(hours=7))),
        ),
        ("2025-10-18T09:30:00", datetime(2025, 10, 18, 9, 30)),
        ("2025-10-18", datetime(2025, 10, 18)),
    ],
)
def test_parse_timestamp_reads_dates_and_date_times(text: str, expected: datetime) -> None:
    assert parse_timestamp(text) == expected
    assert parse_timestamp(text).tzinfo == expected.tzinfo


@pytest.mark.parametrize("text", ["", "yesterday", "2025-13-01", "18/10/2025"])
def test_parse_timestamp_refuses_what_is_not_iso_8601(text: str) -> None:
    with pytest.raises(ValueError):
        parse_timestamp(text)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-10-18T23:30:00Z", date(2025, 10, 18)),
        ("2025-10-18", date(2025, 10, 18)),
        (None, None),
        ("", None),
        ("not a date", None),
        (["2025-10-18"], None),
    ],
)
def test_timestamp_date_is_the_day_or_none(value: object, expected: date | None) -> None:
    assert timestamp_date(value) == expected
