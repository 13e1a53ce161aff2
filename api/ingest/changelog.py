"""A package's `CHANGELOG.md`: one `## <version> — <date>` section per release, newest first.

Sealing a release adds its entry; loading it keeps the first line of the entry as the release's
changelog text. Both find a release's section with the same heading pattern.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

CHANGELOG_NAME = "CHANGELOG.md"
FIRST_ENTRY = re.compile(r"^## ", re.MULTILINE)


def version_heading(version: str) -> re.Pattern[str]:
    """A heading line of the section of `version` (`## 1.2.0`, `### [1.2.0] — date`, ...)."""
    return re.compile(rf"^#+\s*\[?{re.escape(version)}\]?(\s|$)", re.MULTILINE)


def changelog_path(package_dir: Path) -> Path:
    """Where a package folder keeps its changelog."""
    return package_dir / CHANGELOG_NAME


def entry_summary(package_dir: Path, version: str) -> str | None:
    """The first line of text in the section of `version`, or None when there is none."""
    changelog = changelog_path(package_dir)
    if not changelog.is_file():
        return None
    lines = changelog.read_text(encoding="utf-8").splitlines()
    heading = version_heading(version)
    for index, line in enumerate(lines):
        if heading.match(line):
            for following in lines[index + 1 :]:
                text = following.strip().lstrip("-* ").strip()
                if following.startswith("#"):
                    return None
                if text:
                    return text
    return None


def changelog_entry(version: str, day: date, summary: str) -> str:
    """A changelog entry: a `## <version> — <date>` heading and a one-line summary."""
    return f"## {version} — {day.isoformat()}\n\n{summary}\n"


def add_entry(package_dir: Path, package: str, version: str, entry: str) -> Path | None:
    """Put `entry` above the newest entry; None (and nothing written) when `version` has one."""
    path = changelog_path(package_dir)
    text = path.read_text(encoding="utf-8") if path.is_file() else f"# Changelog: {package}\n"
    if version_heading(version).search(text):
        return None
    first = FIRST_ENTRY.search(text)
    if first is None:
        text = text.rstrip("\n") + "\n\n" + entry
    else:
        text = text[: first.start()] + entry + "\n" + text[first.start() :]
    path.write_text(text, encoding="utf-8")
    return path
