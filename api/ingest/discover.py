"""Find release folders (`<datasets>/<package>/<version>/`) and order them by SemVer."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from api.semver import SemVer, parse_semver

DESCRIPTOR_NAME = "datapackage.json"


def is_semver(text: str) -> bool:
    """Whether `text` is a SemVer 2.0 string."""
    return parse_semver(text) is not None


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


def _releases_of_package(folder: Path) -> list[ReleaseRef]:
    return [
        ReleaseRef(package=folder.name, version=child.name, path=child)
        for child in folder.iterdir()
        if child.is_dir() and is_semver(child.name)
    ]


def _releases_of_datasets(folder: Path) -> list[ReleaseRef]:
    return [
        ref
        for package in folder.iterdir()
        if package.is_dir() and not package.name.startswith(".")
        for ref in _releases_of_package(package)
    ]


def _releases_at(path: Path) -> list[ReleaseRef]:
    """The releases a path names: a release folder or its descriptor, a package, a datasets root."""
    if path.name == DESCRIPTOR_NAME:
        release = path.parent
        return [ReleaseRef(package=release.parent.name, version=release.name, path=release)]
    if (path / DESCRIPTOR_NAME).is_file() or (is_semver(path.name) and not path.is_file()):
        return [ReleaseRef(package=path.parent.name, version=path.name, path=path)]
    if not path.is_dir():
        raise FileNotFoundError(f"{path} is neither a package folder nor a release folder")
    found = _releases_of_package(path) or _releases_of_datasets(path)
    if not found:
        raise FileNotFoundError(
            f"{path} holds no release: it is neither a release folder (with {DESCRIPTOR_NAME}),"
            " a package folder (with <version>/ sub-folders) nor a datasets folder"
            " (with <package>/<version>/ sub-folders)"
        )
    return found


def find_releases(datasets_dir: Path, paths: Sequence[Path] = ()) -> list[ReleaseRef]:
    """List releases under `datasets_dir`, or those named by `paths`, by package then SemVer.

    :param paths: datasets folders, package folders, release folders or `datapackage.json`
        files; when given, `datasets_dir` is not scanned. A path that holds no release raises
        FileNotFoundError.
    """
    found: set[ReleaseRef] = set()
    if paths:
        for path in paths:
            found.update(_releases_at(path.absolute()))
    elif datasets_dir.is_dir():
        found.update(_releases_of_datasets(datasets_dir))
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
