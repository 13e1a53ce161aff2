"""Cut the full tables into releases and render their files and the changelog."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from release_metadata import Release, description, long_date, package_head, views
from research_tables import BuildError, Row, Tables, period_end, version_key
from revisions import check_model, evolve, has_model, running_totals

HERE = Path(__file__).resolve().parent
REFERENCE_TABLES = ("metrics", "provinces", "countries")

# Title, description and Table Schema of every resource, in descriptor order.
RESOURCES: dict[str, dict[str, Any]] = json.loads((HERE / "resources.json").read_text("utf-8"))


def in_release(item: dict[str, Any], version: str) -> bool:
    """Return whether a resource or field of resources.json belongs to a release."""
    return version_key(item.get("since", "")) <= version_key(version)


def pick(text: str | dict[str, str], version: str) -> str:
    """Return a text, or the newest of its versions ({"1.0.0": ..., "1.3.0": ...}) in force."""
    if isinstance(text, str):
        return text
    return text[max((v for v in text if version_key(v) <= version_key(version)), key=version_key)]


def release_resources(version: str) -> dict[str, dict[str, Any]]:
    """Return the title, description and schema of every resource of a release."""
    resources: dict[str, dict[str, Any]] = {}
    for name, spec in RESOURCES.items():
        if not in_release(spec, version):
            continue
        fields = [
            {
                key: pick(value, version) if key == "description" else value
                for key, value in field.items()
                if key != "since"
            }
            for field in spec["schema"]["fields"]
            if in_release(field, version)
        ]
        schema = {k: v for k, v in spec["schema"].items() if k != "fields"}
        resources[name] = {
            "title": spec["title"],
            "description": pick(spec["description"], version),
            "schema": {"fields": fields, **schema},
        }
    return resources


def field_names(resource: str, version: str) -> list[str]:
    """Return the field names of a resource in schema order."""
    return [f["name"] for f in release_resources(version)[resource]["schema"]["fields"]]


def cut(full: Tables, release: Release) -> Tables:
    """Return the rows of one release: its reports and only the rows that refer to them."""
    tables = {
        name: [
            row
            for row in rows
            if version_key(row.get("added_in", "")) <= version_key(release.version)
        ]
        for name, rows in evolve(full, release.version).items()
    }
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
    if has_model(release.version):
        check_model(released)
        released["running_totals"] = running_totals(released)
    return released


def csv_bytes(rows: list[Row], fields: list[str]) -> bytes:
    """Serialise rows as UTF-8 CSV with a header, '\\n' line ends and minimal quoting."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(fields)
    for row in rows:
        if set(row) - {"added_in"} != set(fields):
            raise BuildError(f"row keys {sorted(row)} differ from fields {fields}")
        writer.writerow([row[name] for name in fields])
    return buffer.getvalue().encode("utf-8")


def render_release(tables: Tables, release: Release) -> dict[str, bytes]:
    """Return the files of one release folder, keyed by their path inside it."""
    files: dict[str, bytes] = {}
    resources: list[dict[str, Any]] = []
    for name, spec in release_resources(release.version).items():
        content = csv_bytes(tables[name], field_names(name, release.version))
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
    if views(release.version):
        descriptor["views"] = views(release.version)
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
        if previous is not None and previous_cut == release.cut and not new:
            summary = "Adds no rows: the reports and data files are those of the release before."
        elif previous is None:
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
            missed = [
                row
                for row in new
                if previous_cut and date.fromisoformat(row["published_by"]) <= previous_cut
            ]
            added = len(tables["figures"]) - len(previous["figures"]) if previous else 0
            if missed:
                summary = (
                    f"Adds {len(new)} reports, {len(new) - len(missed)} of them published from "
                    f"{start} to {long_date(release.cut)} and {len(missed)} published earlier "
                    f"that the research had missed, and {added} figures ({figures} from the "
                    f"new reports, {added - figures} from reports already in the package)."
                )
        section = [
            f"## {release.version} - {release.released_on.isoformat()}",
            "",
            f"{summary} {release.highlights}",
            "",
            *([release.changes, ""] if release.changes else []),
            "| resource | rows | added |",
            "|---|---:|---:|",
        ]
        for name in release_resources(release.version):
            rows = len(tables[name])
            added = rows - (len(previous.get(name, [])) if previous else 0)
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
