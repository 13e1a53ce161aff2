"""SemVer 2.0 versions: parsing and precedence, shared by release discovery and the diff."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# The pattern published with SemVer 2.0.0 (https://semver.org), anchored, without a `v` prefix.
SEMVER_PATTERN = re.compile(
    r"^(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)\.(?P<patch>0|[1-9]\d*)"
    r"(?:-(?P<prerelease>(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)"
    r"(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+(?P<build>[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)

PrereleaseKey = tuple[tuple[int, int, str], ...]


@dataclass(frozen=True, order=True)
class SemVer:
    """A parsed SemVer 2.0 string; instances sort by SemVer precedence."""

    major: int
    minor: int
    patch: int
    # A release (0) sorts above any of its pre-releases (-1); identifiers then compare pairwise.
    _rank: int = field(repr=False)
    _prerelease_key: PrereleaseKey = field(repr=False)
    # Build metadata does not take part in precedence; the text breaks remaining ties.
    text: str = field(compare=True)
    prerelease: str = field(default="", compare=False)
    build: str = field(default="", compare=False)

    @property
    def is_prerelease(self) -> bool:
        """Whether the version carries a pre-release tag such as `-rc.1`."""
        return bool(self.prerelease)

    def __str__(self) -> str:
        return self.text


def parse_semver(text: str) -> SemVer | None:
    """Parse a SemVer 2.0 string such as `1.2.0` or `2.0.0-rc.1`; None when it is not one."""
    match = SEMVER_PATTERN.match(text)
    if match is None:
        return None
    prerelease = match.group("prerelease") or ""
    key: PrereleaseKey = tuple(
        (0, int(part), "") if part.isdigit() else (1, 0, part)
        for part in prerelease.split(".")
        if prerelease
    )
    return SemVer(
        major=int(match.group("major")),
        minor=int(match.group("minor")),
        patch=int(match.group("patch")),
        _rank=-1 if prerelease else 0,
        _prerelease_key=key,
        text=text,
        prerelease=prerelease,
        build=match.group("build") or "",
    )
