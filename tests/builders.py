"""Write small, sealed release folders for tests (bytes and sha256 computed)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

LICENSE = {
    "name": "CC-BY-4.0",
    "path": "https://creativecommons.org/licenses/by/4.0/",
    "title": "Creative Commons Attribution 4.0",
}


def write_release(
    datasets: Path,
    package: str,
    version: str,
    resources: dict[str, tuple[dict[str, Any], str]],
    **extra: Any,
) -> Path:
    """Write `datasets/<package>/<version>/` with one CSV per resource; return the folder."""
    folder = datasets / package / version
    (folder / "data").mkdir(parents=True, exist_ok=True)
    entries = []
    for name, (schema, text) in resources.items():
        data = text.encode("utf-8")
        (folder / "data" / f"{name}.csv").write_bytes(data)
        entries.append(
            {
                "name": name,
                "path": f"data/{name}.csv",
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                "bytes": len(data),
                "hash": "sha256:" + hashlib.sha256(data).hexdigest(),
                "schema": schema,
            }
        )
    descriptor = {
        "name": package,
        "title": extra.pop("title", package.replace("-", " ").title()),
        "version": version,
        "licenses": [LICENSE],
        "created": extra.pop("created", "2025-01-01T00:00:00Z"),
        **extra,
        "resources": entries,
    }
    (folder / "datapackage.json").write_text(json.dumps(descriptor, indent=2) + "\n")
    return folder


def field(name: str, type_: str = "string", **more: Any) -> dict[str, Any]:
    """A Table Schema field with a title and a description."""
    return {"name": name, "type": type_, "title": name, "description": f"The {name}.", **more}


def write_schema_file_releases(datasets: Path) -> None:
    """Write `split` 1.0.0 and 1.0.1 with the `children` schema in a file; 1.0.1 adds a key."""
    parents = {"fields": [field("code")], "primaryKey": ["code"]}
    children = [field("id", "integer"), field("parent")]
    reference = {"resource": "parents", "fields": ["code"]}
    for version, child_schema in (
        ("1.0.0", {"fields": children, "primaryKey": ["id"]}),
        (
            "1.0.1",
            {
                "fields": children,
                "primaryKey": ["id"],
                "foreignKeys": [{"fields": ["parent"], "reference": reference}],
            },
        ),
    ):
        folder = write_release(
            datasets,
            "split",
            version,
            {"parents": (parents, "code\nA\n"), "children": (child_schema, "id,parent\n1,A\n")},
        )
        descriptor = json.loads((folder / "datapackage.json").read_text())
        (folder / "schemas").mkdir()
        (folder / "schemas" / "children.json").write_text(json.dumps(child_schema))
        descriptor["resources"][1]["schema"] = "schemas/children.json"
        (folder / "datapackage.json").write_text(json.dumps(descriptor, indent=2) + "\n")
