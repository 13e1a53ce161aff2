"""Releases the metadata tests build documents from.

- `flagship()`: every release of the flagship package found under ``datasets/`` (read as the
  loader stores them), or a small inline stand-in when the folder is absent.
- `demo()`: an inline package with three releases and a full ``x-catalog``, for whole-body tests.
- `minimal()`: a package with no ``x-catalog``, contributors, licence, keywords or description.
"""

from __future__ import annotations

import csv
import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

from packaging.version import Version

from api.metadata.urls import Links
from api.model import ReleaseInfo, ResourceInfo

ROOT = Path(__file__).resolve().parent.parent
FLAGSHIP = "cambodia-scam-crackdown"
FLAGSHIP_DIR = ROOT / "datasets" / FLAGSHIP
CONFORMANCE = Path(__file__).resolve().parents[2] / "shared" / "conformance"
BASE = "https://data.example.org"
LINKS = Links(BASE)

EU = "http://publications.europa.eu/resource/authority/"
HASH_A = "a" * 64
HASH_B = "b" * 64


def _rows(path: Path) -> int:
    with path.open(newline="", encoding="utf-8") as handle:
        return max(sum(1 for _ in csv.reader(handle)) - 1, 0)


def release(
    descriptor: dict[str, Any],
    *,
    loaded_at: datetime,
    published: date | None = None,
    rows: dict[str, int] | None = None,
    changelog: str | None = None,
) -> ReleaseInfo:
    """A `ReleaseInfo` as the registry would hold it for `descriptor`."""
    resources = tuple(
        ResourceInfo(
            name=r["name"], row_count=(rows or {}).get(r["name"], 0), bytes=r.get("bytes"),
            hash=r.get("hash"), title=r.get("title"), description=r.get("description"),
        )
        for r in descriptor.get("resources", [])
    )
    return ReleaseInfo(
        package=descriptor["name"], version=descriptor["version"], published=published,
        loaded_at=loaded_at, descriptor=descriptor, resources=resources, changelog=changelog,
    )


def flagship() -> list[ReleaseInfo]:
    """The flagship releases from ``datasets/`` (oldest first), else an inline stand-in."""
    folders = sorted(
        (p for p in FLAGSHIP_DIR.glob("*/datapackage.json")), key=lambda p: Version(p.parent.name)
    ) if FLAGSHIP_DIR.is_dir() else []
    if not folders:
        return [_inline_flagship("1.0.0", "2025-10-18"), _inline_flagship("1.1.0", "2025-12-31")]
    releases = []
    for path in folders:
        descriptor = json.loads(path.read_text(encoding="utf-8"))
        created = datetime.fromisoformat(descriptor["created"].replace("Z", "+00:00"))
        rows = {
            r["name"]: _rows(path.parent / r["path"])
            for r in descriptor["resources"] if (path.parent / r["path"]).is_file()
        }
        releases.append(release(descriptor, loaded_at=created.replace(tzinfo=None, hour=6),
                                published=created.date(), rows=rows))
    return releases


def _inline_flagship(version: str, created: str) -> ReleaseInfo:
    descriptor = {
        "name": FLAGSHIP,
        "title": "Cambodia's crackdown on online-scam compounds: public figures",
        "description": "Public figures of the Cambodian government's crackdown on online-scam"
                       " compounds since June 2025.",
        "version": version,
        "created": f"{created}T00:00:00Z",
        "licenses": [{"name": "CC-BY-4.0", "path": "https://creativecommons.org/licenses/by/4.0/",
                      "title": "Creative Commons Attribution 4.0"}],
        "keywords": ["Cambodia", "online scams"],
        "contributors": [{"title": "Maintainers", "email": "data@example.org",
                          "roles": ["author"]}],
        "x-catalog": _x_catalog("2025-06-27", "2025-12-30"),
        "resources": [{
            "name": "figures", "path": "data/figures.csv", "format": "csv",
            "mediatype": "text/csv", "bytes": 1234, "hash": f"sha256:{HASH_A}",
            "schema": {"fields": [{"name": "figure_id", "type": "string"},
                                  {"name": "value", "type": "integer",
                                   "description": "The number as stated."}]},
        }],
    }
    stamp = datetime.fromisoformat(created)
    return release(descriptor, loaded_at=stamp.replace(hour=6), published=stamp.date(),
                   rows={"figures": 10})


def _x_catalog(start: str, end: str) -> dict[str, Any]:
    return {
        "publisher": {"name": "Example Data Desk", "url": "https://desk.example.org/",
                      "email": "desk@example.org"},
        "contactPoint": {"name": "Data desk", "email": "contact@example.org"},
        "themes": [f"{EU}data-theme/JUST", f"{EU}data-theme/GOVE"],
        "spatial": [f"{EU}country/KHM"],
        "temporal": {"start": start, "end": end},
        "language": [f"{EU}language/ENG"],
        "accrualPeriodicity": f"{EU}frequency/IRREG",
        "issued": "2025-10-18",
    }


def _demo_descriptor(version: str, *, rows: int) -> dict[str, Any]:
    return {
        "name": "demo-series",
        "title": "Demo series & friends",
        "description": "Monthly counts used to test metadata.",
        "version": version,
        "created": "2025-11-01T00:00:00Z",
        "licenses": [{"name": "CC-BY-4.0", "path": "https://creativecommons.org/licenses/by/4.0/",
                      "title": "Creative Commons Attribution 4.0"}],
        "keywords": ["demo", "counts"],
        "contributors": [
            {"title": "Ana María López", "givenName": "Ana María", "familyName": "López",
             "email": "ana@example.org", "organization": "Example University",
             "roles": ["author"]},
            {"title": "Example Data Desk", "roles": ["author", "publisher"]},
        ],
        "sources": [{"title": "Ministry bulletin", "path": "https://gov.example.org/bulletin"},
                    {"title": "Reports table", "path": "data/reports.csv"}],
        "x-catalog": _x_catalog("2025-06-27", "2025-10-31"),
        "resources": [
            {"name": "counts", "title": "Monthly counts", "path": "data/counts.csv",
             "format": "csv", "mediatype": "text/csv", "bytes": 100 + rows,
             "hash": f"sha256:{HASH_A}" if rows % 2 else HASH_B,
             "description": "One row per month.",
             "schema": {"fields": [
                 {"name": "month", "type": "yearmonth", "title": "Month"},
                 {"name": "count", "type": "integer", "description": "People counted.",
                  "unit": "person"},
             ]}},
        ],
    }


def demo() -> list[ReleaseInfo]:
    """Three releases of ``demo-series`` (1.0.0, 1.1.0, 2.0.0), loaded on fixed dates."""
    stamps = [("1.0.0", 3, date(2025, 10, 18)), ("1.1.0", 5, date(2025, 11, 1)),
              ("2.0.0", 8, date(2025, 12, 1))]
    return [
        release(_demo_descriptor(version, rows=rows),
                loaded_at=datetime(day.year, day.month, day.day, 9, 30),
                published=day, rows={"counts": rows},
                changelog=f"Release {version}." if version != "1.0.0" else None)
        for version, rows, day in stamps
    ]


def minimal() -> list[ReleaseInfo]:
    """One release of a package that declares only what the Data Package spec requires."""
    descriptor = {
        "name": "minimal-package",
        "version": "0.1.0",
        "resources": [{"name": "things", "path": "data/things.csv",
                       "schema": {"fields": [{"name": "id", "type": "integer"}]}}],
    }
    return [release(descriptor, loaded_at=datetime(2025, 9, 1, 12, 0), rows={"things": 2})]
