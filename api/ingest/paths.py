"""Where a release's files may be: inside its own folder, read from disk, never fetched.

A resource names its data (`path`, one string or a list of parts), its `schema` and its `dialect`
relative to the release folder. Each must resolve, symlinks followed, to a place inside that
folder. An absolute path, a `..` segment, a symlink (to a file or to a folder such as `data/`)
that leads out of the release, or a URL (`http://`, `https://`, `ftp://`, `file://`...) is
refused before any of them is read: a release can neither publish a file from elsewhere on the
machine nor make the loader fetch one. A symlink that stays inside the release folder is
followed; the bytes and hash it leads to are checked like any other file's.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import attrs
from frictionless import Error, errors

URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
"""A reference with a scheme (`https://`, `file://`...): something to fetch, not a file here."""

REFERENCE_KEYS = ("path", "schema", "dialect")
"""The keys of a resource that may name a file of the release."""


@attrs.define(kw_only=True, repr=False)
class ResourcePathError(errors.PackageError):
    """A resource names a file outside its release folder, or a URL."""

    type = "resource-path-error"
    title = "Resource Path Error"
    description = (
        "A resource's `path`, `schema` and `dialect` name files inside the release folder"
        " (symlinks followed); URLs, absolute paths and `..` are refused."
    )
    template = "A resource does not stay in its release folder: {note}"


def path_problem(release: Path, reference: str) -> str | None:
    """Why `reference` may not be read from the `release` folder, or None when it may."""
    if URL.match(reference):
        return f'"{reference}" is a URL; a release holds its own files and nothing is fetched'
    pure = PurePosixPath(reference)
    if pure.is_absolute():
        return f'"{reference}" is an absolute path; name it relative to the release folder'
    if ".." in pure.parts:
        return f'"{reference}" has a ".." segment; name it inside the release folder'
    try:
        root, target = release.resolve(), (release / reference).resolve()
    except (OSError, RuntimeError):  # RuntimeError: a symlink loop, before Python 3.13
        return f'"{reference}" cannot be resolved (a symlink loop?)'
    if not target.is_relative_to(root):
        return f'"{reference}" resolves to {target}, outside the release folder (a symlink)'
    return None


def _references(resource: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
    for key in REFERENCE_KEYS:
        value = resource.get(key)
        parts = value if isinstance(value, list) else [value]
        yield from ((key, part) for part in parts if isinstance(part, str))


def resource_path_errors(resource: Mapping[str, Any], release: Path, label: str) -> list[Error]:
    """An error for each file reference of a resource that leaves the release or is a URL."""
    found: list[Error] = []
    for key, reference in _references(resource):
        problem = path_problem(release, reference)
        if problem is not None:
            found.append(ResourcePathError(note=f"{label} {key}: {problem}"))
    return found


def descriptor_path_error(descriptor_path: Path) -> Error | None:
    """An error when the release's `datapackage.json` itself resolves outside its folder."""
    problem = path_problem(descriptor_path.parent, descriptor_path.name)
    return None if problem is None else ResourcePathError(note=f"the descriptor: {problem}")
