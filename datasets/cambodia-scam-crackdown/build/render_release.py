"""Cut the full tables into releases and render their files and the changelog."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from release_metadata import Release, description, long_date, package_head
from research_tables import BuildError, Row, Tables, period_end

HERE = Path(__file__).resolve().parent
REFERENCE_TABLES = ("metrics", "provinces", "countries")

# Title, description and Table Schema of every resource, in descriptor order.
RESOURCES: dict[str, dict[str, Any]] = json.loads((HERE / "resources.json").read_text("utf-8"))


def field_names(resource: str) -> list[str]:
    """Return the field names of a resource in schema order."""
    return [f["name"] for f in RESOURCES[resource]["schema"]["fields"]]


def cut(tables: Tables, release: Release) -> Tables:
    """Return the rows of one release: its reports and only the rows that refer to them."""
    reports = [
        row for row in tables["reports"] if date.fromisoformat(row["published_by"]) <= release.cut
    ]
    report_ids = {row["report_id"] for row in reports}
    figures = [row for row in tables["figures"] if row["report_id"] in report_ids]
    figure_ids = {row["figure_id"] for row in figures}
    events = [row for row in tables["deportation_events"] if row["report_id"] in report_ids]
    event_ids = {row["event_id"] for row in events}
    released: Tables = {
        "reports": reports,
        "figures": figures,
        "figure_provinces": [
            row for row in tables["figure_provinces"] if row["figure_id"] in figure_ids
        ],
        "deportation_events": events,
        "deportation_event_reports": [
            row
            for row in tables["deportation_event_reports"]
            if row["event_id"] in event_ids and row["report_id"] in report_ids
        ],
    }
    for name in ("report_nationalities", "province_mentions"):
        released[name] = [row for row in tables[name] if row["report_id"] in report_ids]
    for name in REFERENCE_TABLES:
        released[name] = tables[name]
    return released


def csv_bytes(rows: list[Row], fields: list[str]) -> bytes:
    """Serialise rows as UTF-8 CSV with a header, '\\n' line ends and minimal quoting."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(fields)
    for row in rows:
        if set(row) != set(fields):
            raise BuildError(f"row keys {sorted(row)} differ from fields {fields}")
        writer.writerow([row[name] for name in fields])
    return buffer.getvalue().encode("utf-8")


def render_release(tables: Tables, release: Release) -> dict[str, bytes]:
    """Return the files of one release folder, keyed by their path inside it."""
    files: dict[str, bytes] = {}
    resources: list[dict[str, Any]] = []
    for name, spec in RESOURCES.items():
        content = csv_bytes(tables[name], field_names(name))
        path = f"data/{name}.csv"
        files[path] = content
        schema = {"fields": spec["schema"]["fields"], "missingValues": [""]}
        schema.update({k: v for k, v in spec["schema"].items() if k != "fields"})
        resources.append(
            {
                "name": name,
                "type": "table",
                "title": spec["title"],
                "description": spec["description"],
                "path": path,
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                "bytes": len(content),
                "hash": f"sha256:{hashlib.sha256(content).hexdigest()}",
                "schema": schema,
            }
        )
    reports = {row["report_id"]: row for row in tables["reports"]}
    languages = {row["language"].split("-")[0] for row in tables["reports"]}
    text = description(
        release=release,
        reports=len(reports),
        figures=len(tables["figures"]),
        languages=len(languages),
    )
    temporal_end = max(period_end(row["as_of"]) for row in tables["figures"]).isoformat()
    descriptor = package_head(
        release=release, description_text=text, reports=reports, temporal_end=temporal_end
    )
    descriptor["resources"] = resources
    files["datapackage.json"] = (
        json.dumps(descriptor, indent=2, ensure_ascii=False) + "\n"
    ).encode()
    return files


def render_changelog(released: list[tuple[Release, Tables]]) -> bytes:
    """Return CHANGELOG.md: what each release added, newest first."""
    lines = [
        "# Changelog: cambodia-scam-crackdown",
        "",
        "Releases are immutable: each `datapackage.json` carries the size and SHA-256 hash of "
        "every data file. A release holds the reports published up to its cut date, as they "
        "would have been published, and only the rows that refer to those reports (figures, "
        "figure provinces, deportation events and their reports, nationalities and provinces "
        "named). A report with a partial publication date (`2025-07`, `2026-02`) counts as "
        "published on the last day of its month; `reports.published_by` holds that date. The "
        "reference tables `metrics`, `provinces` and `countries` are complete in every release.",
    ]
    previous: Tables | None = None
    previous_cut: date | None = None
    sections: list[list[str]] = []
    for release, tables in released:
        before = {row["report_id"] for row in previous["reports"]} if previous else set()
        new = [row for row in tables["reports"] if row["report_id"] not in before]
        figures = sum(1 for row in tables["figures"] if row["report_id"] not in before)
        if previous is None:
            summary = (
                f"First release: {len(new)} reports published up to "
                f"{long_date(release.cut)}, with {figures} figures."
            )
        else:
            start = long_date(previous_cut + timedelta(days=1)) if previous_cut else ""
            summary = (
                f"Adds {len(new)} reports published from {start} to "
                f"{long_date(release.cut)}, with {figures} figures."
            )
        section = [
            f"## {release.version} - {release.cut.isoformat()}",
            "",
            f"{summary} {release.highlights}",
            "",
            "| resource | rows | added |",
            "|---|---:|---:|",
        ]
        for name in RESOURCES:
            rows = len(tables[name])
            added = rows - (len(previous[name]) if previous else 0)
            section.append(f"| {name} | {rows} | +{added} |")
        partial = [row for row in new if row["published_date"] != row["published_by"]]
        if partial:
            listed = ", ".join(
                f"`{row['report_id']}` ({row['published_date']} -> {row['published_by']})"
                for row in partial
            )
            section += [
                "",
                f"Reports with a partial publication date, counted as published on "
                f"the last day of the period: {listed}.",
            ]
        sections.append(section)
        previous, previous_cut = tables, release.cut
    for section in reversed(sections):
        lines += [""] + section
    return ("\n".join(lines) + "\n").encode()
