"""Find release folders (`<datasets>/<package>/<version>/`) and order them by SemVer."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

DESCRIPTOR_NAME = "datapackage.json"

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


def is_semver(text: str) -> bool:
    """Whether `text` is a SemVer 2.0 string."""
    return parse_semver(text) is not None


def semver_key(text: str) -> SemVer:
    """Sort key for version strings; raises ValueError for a string that is not SemVer."""
    parsed = parse_semver(text)
    if parsed is None:
        raise ValueError(f"{text!r} is not a SemVer version")
    return parsed


@dataclass(frozen=True)
class ReleaseRef:
    """One release folder: `<datasets>/<package>/<version>/`."""

    package: str
    version: str
    path: Path

    @property
    def descriptor_path(self) -> Path:
        """The release's `datapackage.json`."""
        return self.path / DESCRIPTOR_NAME


def _sort_key(ref: ReleaseRef) -> tuple[str, int, SemVer | None, str]:
    parsed = parse_semver(ref.version)
    # Folders whose name is not SemVer (only reachable when named explicitly) sort first.
    return (ref.package, 0 if parsed is None else 1, parsed, str(ref.path))


def _releases_of_package(folder: Path) -> Iterable[ReleaseRef]:
    for child in folder.iterdir():
        if child.is_dir() and is_semver(child.name):
            yield ReleaseRef(package=folder.name, version=child.name, path=child)


def _releases_at(path: Path) -> Iterable[ReleaseRef]:
    if path.name == DESCRIPTOR_NAME:
        release = path.parent
        yield ReleaseRef(package=release.parent.name, version=release.name, path=release)
    elif (path / DESCRIPTOR_NAME).is_file() or (is_semver(path.name) and not path.is_file()):
        yield ReleaseRef(package=path.parent.name, version=path.name, path=path)
    elif path.is_dir():
        yield from _releases_of_package(path)
    else:
        raise FileNotFoundError(f"{path} is neither a package folder nor a release folder")


def find_releases(datasets_dir: Path, paths: Sequence[Path] = ()) -> list[ReleaseRef]:
    """List releases under `datasets_dir`, or those named by `paths`, by package then SemVer.

    :param paths: package folders, release folders or `datapackage.json` files; when given,
        `datasets_dir` is not scanned.
    """
    found: set[ReleaseRef] = set()
    if paths:
        for path in paths:
            found.update(_releases_at(path.absolute()))
    elif datasets_dir.is_dir():
        for folder in datasets_dir.iterdir():
            if folder.is_dir() and not folder.name.startswith("."):
                found.update(_releases_of_package(folder))
    return sorted(found, key=_sort_key)


def latest_of(versions: Iterable[str]) -> str | None:
    """The latest version: the highest release, or the highest pre-release when there is none."""
    parsed = [v for v in (parse_semver(text) for text in versions) if v is not None]
    releases = [v for v in parsed if not v.is_prerelease]
    pool = releases or parsed
    return max(pool).text if pool else None


def latest_releases(datasets_dir: Path, paths: Sequence[Path] = ()) -> list[ReleaseRef]:
    """The latest release of every package found by `find_releases`, ordered by package."""
    by_package: dict[str, list[ReleaseRef]] = {}
    for ref in find_releases(datasets_dir, paths):
        by_package.setdefault(ref.package, []).append(ref)
    latest: list[ReleaseRef] = []
    for package in sorted(by_package):
        refs = by_package[package]
        version = latest_of(ref.version for ref in refs)
        latest.extend(ref for ref in refs if ref.version == version)
    return latest
