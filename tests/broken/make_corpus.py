"""Regenerate the valid fixture packages and the corpus of broken releases.

    python tests/broken/make_corpus.py

Every broken case is the valid `sample` 1.0.0 release with one defect. An edit made
`before_hash` is sealed by correct `bytes`/`hash`; an edit made `after_hash` is the kind of
change to a published file that the recorded hash must catch. The output is deterministic.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
FIXTURES = HERE.parent / "fixtures" / "datasets"

LICENSE = {
    "name": "CC-BY-4.0",
    "path": "https://creativecommons.org/licenses/by/4.0/",
    "title": "Creative Commons Attribution 4.0",
}

PLACES = "code,name\nKH-12,Phnom Penh\nKH-18,Preah Sihanouk\nKH-3,Kampong Cham\n"
FIGURES = (
    "id,place_code,metric,value,as_of\n"
    "1,KH-12,detained,120,2025-07-01\n"
    "2,KH-18,deported,45,2025-07-15\n"
    "3,KH-3,detained,30,2025-08-01\n"
)


@dataclass
class Release:
    """A release being assembled: its descriptor and its files by relative path."""

    descriptor: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)

    def resource(self, name: str) -> dict[str, Any]:
        """The resource called `name`."""
        found: dict[str, Any] = next(r for r in self.descriptor["resources"] if r["name"] == name)
        return found

    def schema(self, name: str) -> dict[str, Any]:
        """The schema of the resource called `name`."""
        schema: dict[str, Any] = self.resource(name)["schema"]
        return schema

    def text(self, path: str) -> str:
        """A data file as text."""
        return self.files[path].decode("utf-8")

    def replace(self, path: str, old: str, new: str) -> None:
        """Replace one occurrence of `old` in a data file."""
        text = self.text(path)
        assert old in text, (path, old)
        self.files[path] = text.replace(old, new, 1).encode("utf-8")

    def seal(self) -> None:
        """Record `bytes` and a `sha256:` `hash` for every resource file."""
        for resource in self.descriptor["resources"]:
            content = self.files.get(resource["path"])
            if content is not None:
                resource["bytes"] = len(content)
                resource["hash"] = "sha256:" + hashlib.sha256(content).hexdigest()

    def write(self, folder: Path, descriptor_text: str | None = None) -> None:
        """Write the release into `folder`."""
        folder.mkdir(parents=True)
        if descriptor_text is None:
            descriptor_text = json.dumps(self.descriptor, indent=2, ensure_ascii=False) + "\n"
        if descriptor_text:
            (folder / "datapackage.json").write_text(descriptor_text, encoding="utf-8")
        for path, content in sorted(self.files.items()):
            (folder / path).parent.mkdir(parents=True, exist_ok=True)
            (folder / path).write_bytes(content)


def sample(version: str = "1.0.0", figures: str = FIGURES) -> Release:
    """The valid `sample` package: places, and figures that refer to them."""
    places_schema = {
        "fields": [
            {
                "name": "code",
                "type": "string",
                "title": "ISO 3166-2 code",
                "constraints": {"required": True, "pattern": "^KH-[0-9]{1,2}$"},
            },
            {"name": "name", "type": "string", "constraints": {"required": True}},
        ],
        "primaryKey": ["code"],
    }
    figures_schema = {
        "fields": [
            {"name": "id", "type": "integer", "constraints": {"required": True, "minimum": 1}},
            {"name": "place_code", "type": "string"},
            {
                "name": "metric",
                "type": "string",
                "constraints": {"required": True, "enum": ["detained", "deported"]},
            },
            {"name": "value", "type": "integer", "constraints": {"required": True, "minimum": 0}},
            {"name": "as_of", "type": "date"},
        ],
        "primaryKey": ["id"],
        "foreignKeys": [
            {"fields": ["place_code"], "reference": {"resource": "places", "fields": ["code"]}}
        ],
    }
    descriptor = {
        "name": "sample",
        "title": "Sample figures",
        "description": "A small package used by the test suite.",
        "version": version,
        "licenses": [LICENSE],
        "resources": [
            {
                "name": "places",
                "path": "data/places.csv",
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                "schema": places_schema,
            },
            {
                "name": "figures",
                "path": "data/figures.csv",
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                "schema": figures_schema,
            },
        ],
    }
    return Release(
        descriptor,
        {"data/places.csv": PLACES.encode(), "data/figures.csv": figures.encode()},
    )


def other() -> Release:
    """The valid `other` package: a Data Package v2 descriptor with one resource."""
    descriptor = {
        "$schema": "https://datapackage.org/profiles/2.0/datapackage.json",
        "name": "other",
        "title": "Other figures",
        "version": "0.1.0",
        "licenses": [
            {"name": "ODC-PDDL-1.0", "path": "https://opendatacommons.org/licenses/pddl/"}
        ],
        "resources": [
            {
                "name": "figures",
                "path": "data/figures.csv",
                "type": "table",
                "format": "csv",
                "mediatype": "text/csv",
                "schema": {
                    "fields": [
                        {"name": "year", "type": "integer"},
                        {
                            "name": "count",
                            "type": "integer",
                            "constraints": {"exclusiveMinimum": 0},
                        },
                    ],
                    "primaryKey": ["year"],
                },
            }
        ],
    }
    return Release(descriptor, {"data/figures.csv": b"year,count\n2024,3\n2025,7\n"})


# Broken cases ----------------------------------------------------------------------------------

Edit = Callable[[Release], None]


def _nothing(release: Release) -> None:
    pass


def _rename_field(old: str, new: str) -> Edit:
    def edit(release: Release) -> None:
        for item in release.schema("figures")["fields"]:
            if item["name"] == old:
                item["name"] = new
        release.replace("data/figures.csv", old, new)

    return edit


def _set(key: str, value: Any) -> Edit:
    def edit(release: Release) -> None:
        if value is None:
            del release.descriptor[key]
        else:
            release.descriptor[key] = value

    return edit


def _latin1_places(declared: bool) -> Edit:
    def edit(release: Release) -> None:
        release.files["data/places.csv"] = (PLACES + "KH-17,Siem Réap\n").encode("latin-1")
        if not declared:
            del release.resource("places")["encoding"]

    return edit


def _drop_primary_key(release: Release) -> None:
    del release.schema("places")["primaryKey"]


def _drop_integrity(release: Release) -> None:
    for key in ("bytes", "hash"):
        del release.resource("figures")[key]


def _rename_resource(release: Release) -> None:
    release.resource("places")["name"] = "places.v1"
    release.schema("figures")["foreignKeys"][0]["reference"]["resource"] = "places.v1"


def _unknown_type(release: Release) -> None:
    release.schema("figures")["fields"][4]["type"] = "calendar-date"


def _delete(path: str) -> Edit:
    def edit(release: Release) -> None:
        del release.files[path]

    return edit


def _replace(path: str, old: str, new: str) -> Edit:
    def edit(release: Release) -> None:
        release.replace(path, old, new)

    return edit


FIG = "data/figures.csv"
PLA = "data/places.csv"

# case name -> (edit before the hash is recorded, edit after it)
CASES: dict[str, tuple[Edit, Edit]] = {
    "type-error": (_replace(FIG, ",45,", ",many,"), _nothing),
    "missing-data-file": (_nothing, _delete(FIG)),
    "duplicate-primary-key": (_replace(FIG, "3,KH-3,", "2,KH-3,"), _nothing),
    "dangling-foreign-key": (_replace(FIG, "KH-18,", "KH-99,"), _nothing),
    "bad-enum-value": (_replace(FIG, "deported", "arrested"), _nothing),
    "stale-hash": (_nothing, _replace(FIG, ",120,", ",121,")),
    "edited-file-size": (_nothing, _replace(FIG, ",120,", ",1200,")),
    "field-name-double-underscore": (_rename_field("as_of", "as__of"), _nothing),
    "field-name-leading-underscore": (_rename_field("as_of", "_as_of"), _nothing),
    "missing-version": (_set("version", None), _nothing),
    "non-semver-version": (_set("version", "1.0"), _nothing),
    "malformed-json": (_nothing, _nothing),
    "missing-descriptor": (_nothing, _nothing),
    "non-utf8-declared": (_latin1_places(declared=True), _nothing),
    "non-utf8-undeclared": (_latin1_places(declared=False), _nothing),
    "missing-primary-key": (_drop_primary_key, _nothing),
    "required-value-missing": (_replace(FIG, ",30,", ",,"), _nothing),
    "minimum-violated": (_replace(FIG, ",30,", ",-5,"), _nothing),
    "pattern-violated": (_replace(PLA, "Cham\n", "Cham\nKH-123,Nowhere\n"), _nothing),
    "version-folder-mismatch": (_set("version", "1.0.1"), _nothing),
    "package-name-mismatch": (_set("name", "sample-data"), _nothing),
    "missing-bytes-and-hash": (_nothing, _drop_integrity),
    "resource-name-with-dot": (_rename_resource, _nothing),
    "unknown-field-type": (_unknown_type, _nothing),
}

DESCRIPTOR_TEXT: dict[str, str] = {
    "malformed-json": '{\n  "name": "sample",\n  "version": "1.0.0",\n  "resources": [\n',
    "missing-descriptor": "",
}


def build_case(name: str, base: Path = HERE) -> None:
    """Write `<base>/<name>/sample/1.0.0/`."""
    before, after = CASES[name]
    release = sample()
    before(release)
    release.seal()
    after(release)
    release.write(base / name / "sample" / "1.0.0", DESCRIPTOR_TEXT.get(name))


def build_fixtures(base: Path = FIXTURES) -> None:
    """Write the valid fixture datasets folder: two packages, three releases, one stray folder."""
    first = sample("1.0.0")
    second = sample("1.1.0", FIGURES + "4,KH-12,deported,80,2025-09-01\n")
    for release in (first, second, other()):
        release.seal()
        name, version = release.descriptor["name"], release.descriptor["version"]
        release.write(base / name / version)
    (base / "sample" / "CHANGELOG.md").write_text(
        "# Changelog\n\n## 1.1.0\n\n- One figure added.\n\n## 1.0.0\n\n- First release.\n",
        encoding="utf-8",
    )
    stray = base / "sample" / "build"
    stray.mkdir()
    (stray / "datapackage.json").write_text("not a release\n", encoding="utf-8")


def main() -> None:
    """Remove and rewrite every generated folder."""
    for child in HERE.iterdir():
        if child.is_dir() and child.name != "__pycache__":
            shutil.rmtree(child)
    if FIXTURES.exists():
        shutil.rmtree(FIXTURES)
    for name in CASES:
        build_case(name)
    build_fixtures()
    print(f"wrote {len(CASES)} broken releases and the fixtures under {FIXTURES}")


if __name__ == "__main__":
    main()
