"""Package-level metadata of the cambodia-scam-crackdown releases."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
NAME = "cambodia-scam-crackdown"
TITLE = "Cambodia's crackdown on online-scam compounds: public figures"
MAINTAINERS = "Open Data Cambodia Scam Crackdown maintainers"
EMAIL = "data@opendata-kh.example.org"
PUBLISHER_URL = "https://opendata-kh.example.org/"
CAMPAIGN_START = "2025-06-27"
FIRST_ISSUED = "2025-10-18"

MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)

EU = "http://publications.europa.eu/resource/authority"

KEYWORDS = [
    "Cambodia",
    "online scams",
    "scam compounds",
    "human trafficking",
    "crime statistics",
    "law enforcement",
    "deportation",
    "CCCOS",
    "Southeast Asia",
]

LICENSES = [
    {
        "name": "CC-BY-4.0",
        "path": "https://creativecommons.org/licenses/by/4.0/",
        "title": "Creative Commons Attribution 4.0",
    }
]

# Reports listed as package sources: the closest to primary statements that were found.
SOURCE_REPORTS = (
    "ppp_ann_3075",
    "freshnews_20251018",
    "dantri_20251220",
    "vietnamplus_336709",
    "freshnews_20260219",
    "hk01_20260312",
)


@dataclass(frozen=True)
class Release:
    """One release: its version, its cut date and what it adds, in a sentence."""

    version: str
    cut: date
    highlights: str


RELEASES = (
    Release(
        "1.0.0",
        date(2025, 10, 18),
        "It covers the campaign from its start on 27 June 2025 to the CCCOS tally of "
        "14 October 2025 (3,455 detained, 2,825 deported) and the deportation of 64 South "
        "Koreans on 17 October, with pre-campaign baselines and the first Vietnamese handovers.",
    ),
    Release(
        "1.1.0",
        date(2025, 12, 31),
        "New: the Bavet raids of 4 November, the CCOS tallies of 7 and 18 December (4,851 and "
        "4,983 detained, 4,039 deported) and more Vietnamese handovers.",
    ),
    Release(
        "1.2.0",
        date(2026, 3, 12),
        "New: the seven-month tally, the Bavet raid of 31 January (2,044 detained), the "
        "February deportation batches, Indonesian embassy figures and the conflicting "
        "February-March deportation totals.",
    ),
)


def long_date(day: date) -> str:
    """Return a date as '18 October 2025'."""
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def description(*, release: Release, reports: int, figures: int, languages: int) -> str:
    """Return the package description of one release (Markdown)."""
    final = release is RELEASES[-1]
    later = (
        "No report published after 12 March 2026 was found: the outcome of the April 2026 "
        "deadline to eliminate scam centres is missing."
        if final
        else "Reports published after the cut date are left to later releases."
    )
    template = (HERE / "description.md").read_text(encoding="utf-8").strip()
    return template.format(
        figures=figures,
        reports=reports,
        languages=languages,
        cut=long_date(release.cut),
        campaign_start=CAMPAIGN_START,
        later=later,
    )


def sources(reports: dict[str, dict[str, str]]) -> list[dict[str, str]]:
    """Return the package sources: the fact sheet and the key statements in this release."""
    listed = [
        {
            "title": (
                "Research fact sheet of the campaign's public figures, compiled by the "
                "maintainers from public reports; every report used is listed with its URL "
                "in the reports resource"
            ),
            "path": "data/reports.csv",
        }
    ]
    for report_id in SOURCE_REPORTS:
        report = reports.get(report_id)
        if report is not None:
            listed.append(
                {
                    "title": (
                        f"{report['publisher']}: {report['title']} ({report['published_date']})"
                    ),
                    "path": report["url"],
                }
            )
    return listed


def catalog(*, temporal_end: str) -> dict[str, Any]:
    """Return the x-catalog object (DCAT facts a Data Package lacks)."""
    return {
        "publisher": {"name": MAINTAINERS, "url": PUBLISHER_URL, "email": EMAIL},
        "contactPoint": {"name": MAINTAINERS, "email": EMAIL},
        "themes": [f"{EU}/data-theme/JUST", f"{EU}/data-theme/GOVE"],
        "spatial": [f"{EU}/country/KHM"],
        "temporal": {"start": CAMPAIGN_START, "end": temporal_end},
        "language": [f"{EU}/language/ENG"],
        "accrualPeriodicity": f"{EU}/frequency/IRREG",
        "issued": FIRST_ISSUED,
    }


def package_head(
    *,
    release: Release,
    description_text: str,
    reports: dict[str, dict[str, str]],
    temporal_end: str,
) -> dict[str, Any]:
    """Return the package-level properties of one release descriptor, in output order."""
    return {
        "name": NAME,
        "title": TITLE,
        "description": description_text,
        "version": release.version,
        "created": f"{release.cut.isoformat()}T00:00:00Z",
        "licenses": LICENSES,
        "sources": sources(reports),
        "contributors": [{"title": MAINTAINERS, "email": EMAIL, "roles": ["author"]}],
        "keywords": KEYWORDS,
        "x-catalog": catalog(temporal_end=temporal_end),
    }
