"""Reading a release's JSON descriptors and walking their resources and local files."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any


def read_json(path: Path) -> Any:
    """The JSON document in a UTF-8 file; OSError or ValueError when it cannot be read."""
    return json.loads(path.read_text(encoding="utf-8"))


def read_json_or_none(path: Path) -> Any:
    """The JSON document in a UTF-8 file, or None when it is missing or not JSON."""
    try:
        return read_json(path)
    except (OSError, ValueError):
        return None


def resources_of(descriptor: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The resources of a descriptor that are objects; none when `resources` is not a list."""
    resources = descriptor.get("resources")
    if not isinstance(resources, list):
        return []
    return [item for item in resources if isinstance(item, dict)]


def is_url(reference: str) -> bool:
    """Whether a reference reads as a URL (it holds `://`) rather than as a file's path."""
    return "://" in reference


def is_local_reference(reference: str) -> bool:
    """Whether a reference is, by its text alone, a relative path that stays in its folder: not a
    URL, not absolute, no `..` (symlinks are checked by `paths.path_problem`)."""
    pure = PurePosixPath(reference)
    return not is_url(reference) and not pure.is_absolute() and ".." not in pure.parts


def local_path(resource: Mapping[str, Any]) -> str | None:
    """A resource's `path` when it is one local file of the release, else None."""
    path = resource.get("path")
    return path if isinstance(path, str) and is_local_reference(path) else None
