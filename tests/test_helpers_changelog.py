"""A package's CHANGELOG.md: the entry sealing writes is the one loading reads back."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from api.ingest.changelog import add_entry, changelog_entry, entry_summary, version_heading


@pytest.mark.parametrize(
    ("line", "matches"),
    [
        ("## 1.2.0 — 2025-10-18", True),
        ("### [1.2.0] - 2025-10-18", True),
        ("## 1.2.0", True),
        ("## 1.2.01", False),
        ("## 1.2.0-rc.1", False),
        ("## 1x2x0", False),
        ("text ## 1.2.0", False),
    ],
)
def test_version_heading(line: str, matches: bool) -> None:
    assert bool(version_heading("1.2.0").match(line)) is matches


def test_an_added_entry_is_read_back(tmp_path: Path) -> None:
    entry = changelog_entry("1.0.0", date(2025, 10, 18), "First release.")
    assert entry == "## 1.0.0 — 2025-10-18\n\nFirst release.\n"
    path = add_entry(tmp_path, "pkg", "1.0.0", entry)
    assert path == tmp_path / "CHANGELOG.md"
    assert path.read_text(encoding="utf-8") == "# Changelog: pkg\n\n" + entry
    assert entry_summary(tmp_path, "1.0.0") == "First release."


def test_the_newest_entry_goes_first_and_is_never_added_twice(tmp_path: Path) -> None:
    add_entry(tmp_path, "pkg", "1.0.0", changelog_entry("1.0.0", date(2025, 1, 1), "One."))
    newer = changelog_entry("1.1.0", date(2025, 2, 1), "- Two rows added.")
    add_entry(tmp_path, "pkg", "1.1.0", newer)
    text = (tmp_path / "CHANGELOG.md").read_text(encoding="utf-8")
    assert text.index("## 1.1.0") < text.index("## 1.0.0")
    assert add_entry(tmp_path, "pkg", "1.1.0", newer) is None
    assert (tmp_path / "CHANGELOG.md").read_text(encoding="utf-8") == text
    assert entry_summary(tmp_path, "1.1.0") == "Two rows added."


def test_no_changelog_or_no_text_under_the_heading_is_none(tmp_path: Path) -> None:
    assert entry_summary(tmp_path, "1.0.0") is None
    (tmp_path / "CHANGELOG.md").write_text("## 1.0.0\n\n## 0.9.0\n\nOld.\n", encoding="utf-8")
    assert entry_summary(tmp_path, "1.0.0") is None
    assert entry_summary(tmp_path, "2.0.0") is None
