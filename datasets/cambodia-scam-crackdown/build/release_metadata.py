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
    "ap_wsoctv_20260313",
    "dnyxxg_20260318",
)


LEFT_TO_LATER = "Reports published after the cut date are left to later releases."
LATEST_FOUND = (
    "The newest report found is of 18 March 2026; the outcome of the April 2026 deadline to "
    "eliminate scam centres is not yet in the stored public pages searched."
)
CHARTS_SINCE = "1.3.1"
SERIES_FILTER = (
    "scope=cumulative_campaign&nationality__isnull=1&sex__isnull=1&restates__isnull=1"
    "&value_status=as_reported&metric__in=suspects_detained,foreigners_deported,locations_inspected"
)
# The charts a release declares (the Data Package `views` draft): the spec's `filter` is a rows
# query string of the API, so a chart's points are exactly the rows that query returns.
VIEWS = [
    {
        "name": "running-totals",
        "title": "Running totals of the campaign",
        "description": (
            "People detained, foreigners deported and locations inspected against the as-of "
            "date: every figure with scope cumulative_campaign and no nationality or sex "
            "breakdown, one marker per figure of one report. Conflicting figures of one date "
            "are drawn side by side; a hollow or triangular marker is an approximate or bounded "
            "figure. A figure that only restates an earlier report's tally, or that is the "
            "source's own error, is left out (its tally is drawn once, under the first report)."
        ),
        "resources": ["figures"],
        "specType": "x-points",
        "spec": {
            "x": "as_of_date",
            "y": "value",
            "series": "metric",
            "qualifier": "qualifier",
            "filter": SERIES_FILTER,
        },
    }
]


@dataclass(frozen=True)
class Release:
    """One release: its version, its cut date and what it adds, in a sentence.

    `created` is when the release was cut (1.0.0-1.2.0 give their cut date at midnight
    instead); `later` ends the description; `changes` is the changelog's account of what
    changed and why, beyond the rows added.
    """

    version: str
    cut: date
    highlights: str
    later: str = LEFT_TO_LATER
    created: str = ""
    changes: str = ""
    changed: str = ""

    @property
    def created_at(self) -> str:
        """The descriptor's `created` timestamp."""
        return self.created or f"{self.cut.isoformat()}T00:00:00Z"

    @property
    def released_on(self) -> date:
        """The date the changelog heading shows: the cut date, or the day it was cut."""
        return date.fromisoformat(self.created[:10]) if self.created else self.cut


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
        later="No report published after 12 March 2026 was found: the outcome of the April 2026 "
        "deadline to eliminate scam centres is missing.",
    ),
    Release(
        "1.3.0",
        date(2026, 3, 18),
        "New: the Interior Ministry tally of 1 January to 14 March 2026 (5,771 held at 98 "
        "sites), the AP report of 13 March (79 cases against 697 people), the seed report of "
        "18 October 2025 read in full, and the correct loss figure of the 73 Korean suspects.",
        later=LATEST_FOUND,
        created=(HERE / "created-1.3.0.txt").read_text(encoding="utf-8").strip(),
        changes=(HERE / "changes-1.3.0.md").read_text(encoding="utf-8").strip(),
        changed="**Changed in 1.3.0.** Reports after 12 March 2026 and reports the research had "
        "missed are added, and the seed report of 18 October 2025 is read in full. A source's "
        "own error is flagged, not dropped (`value_status`); metrics that mixed meanings are "
        "re-coded; new fields make figures distinct and sums safe and give typed dates; "
        "`running_totals` is new. The package CHANGELOG says why.",
    ),
    Release(
        "1.3.1",
        date(2026, 3, 18),
        "The package declares its chart: the campaign's running totals of people detained, "
        "foreigners deported and locations inspected.",
        later=LATEST_FOUND,
        created=(HERE / "created-1.3.1.txt").read_text(encoding="utf-8").strip(),
        changes=(HERE / "changes-1.3.1.md").read_text(encoding="utf-8").strip(),
        changed="**Changed in 1.3.1.** The descriptor declares a chart under `views`: the "
        "running totals of people detained, foreigners deported and locations inspected, drawn "
        "from `figures` (scope `cumulative_campaign`, no nationality or sex breakdown, no "
        "restatement or source error), one marker per figure. The data files are those of "
        "1.3.0. The package CHANGELOG says why.",
    ),
)


def views(version: str) -> list[dict[str, Any]]:
    """Return the charts a release declares (none before 1.3.1)."""
    return VIEWS if version_at_least(version, CHARTS_SINCE) else []


def long_date(day: date) -> str:
    """Return a date as '18 October 2025'."""
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def description(*, release: Release, reports: int, figures: int, languages: int) -> str:
    """Return the package description of one release (Markdown)."""
    name = (
        "description-1.3.0.md" if version_at_least(release.version, "1.3.0") else "description.md"
    )
    template = (HERE / name).read_text(encoding="utf-8").strip()
    return template.format(
        figures=figures,
        reports=reports,
        languages=languages,
        cut=long_date(release.cut),
        campaign_start=CAMPAIGN_START,
        later=release.later,
        changed=release.changed,
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


def version_at_least(version: str, floor: str) -> bool:
    """Return whether a plain SemVer version is at least another."""
    return tuple(map(int, version.split("."))) >= tuple(map(int, floor.split(".")))


def catalog(*, temporal_end: str, version: str) -> dict[str, Any]:
    """Return the x-catalog object (DCAT facts a Data Package lacks).

    From 1.3.0 the publisher has no placeholder address: a field is real or it is left out,
    and the contact point falls back to the publisher.
    """
    agents: dict[str, Any] = (
        {"publisher": {"name": MAINTAINERS}}
        if version_at_least(version, "1.3.0")
        else {
            "publisher": {"name": MAINTAINERS, "url": PUBLISHER_URL, "email": EMAIL},
            "contactPoint": {"name": MAINTAINERS, "email": EMAIL},
        }
    )
    return {
        **agents,
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
        "created": release.created_at,
        "licenses": LICENSES,
        "sources": sources(reports),
        "contributors": [
            {"title": MAINTAINERS, "roles": ["author"]}
            if version_at_least(release.version, "1.3.0")
            else {"title": MAINTAINERS, "email": EMAIL, "roles": ["author"]}
        ],
        "keywords": KEYWORDS,
        "x-catalog": catalog(temporal_end=temporal_end, version=release.version),
    }
