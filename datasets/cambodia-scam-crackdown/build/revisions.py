"""The model of release 1.3.0 and later: typed dates, corrections, parts, restatements, series.

Releases 1.0.0-1.2.0 are rendered from the uncut tables as they are. From 1.3.0 on, the tables
gain the fields that make every figure distinct and every sum safe, the corrections of
build/corrections.csv, and the `running_totals` resource.
"""

from __future__ import annotations

import calendar
import csv
from collections import defaultdict
from datetime import date
from pathlib import Path

from research_tables import (
    BuildError,
    Row,
    Tables,
    period_end,
    period_start,
    precision,
    version_key,
)

HERE = Path(__file__).resolve().parent
MODEL_VERSION = "1.3.0"
CAMPAIGN_START = "2025-06-27"
RESTATEMENT_WINDOW_DAYS = 7
RESTATED_SCOPES = ("cumulative_campaign", "period")
SERIES_METRICS = (
    "suspects_detained",
    "foreigners_deported",
    "locations_inspected",
    "provinces_covered",
    "nationalities_detained",
    "criminal_cases_filed",
    "suspects_referred_to_court",
)
KEYS = {
    "reports": ("report_id",),
    "figures": ("figure_id",),
    "deportation_events": ("event_id",),
    "report_nationalities": ("report_id", "nationality"),
}
# Structured fields of a figure: two figures may not agree on all of them (value aside).
DISTINCT_FIELDS = (
    "report_id",
    "metric",
    "qualifier",
    "period_start",
    "as_of",
    "scope",
    "nationality",
    "sex",
    "provinces",
    "part_of",
    "breakdown",
)


def has_model(version: str) -> bool:
    """Return whether a release uses the 1.3.0 model."""
    return version_key(version) >= version_key(MODEL_VERSION)


def read_rows(path: Path) -> list[Row]:
    """Read a UTF-8 CSV file of the build folder."""
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def month_end(day: date) -> date:
    """Return the last day of the month of a date."""
    return date(day.year, day.month, calendar.monthrange(day.year, day.month)[1])


def apply_corrections(tables: Tables, version: str) -> None:
    """Set the values of build/corrections.csv that apply to a release."""
    index = {
        name: {tuple(row[k] for k in key): row for row in tables[name]}
        for name, key in KEYS.items()
    }
    for fix in read_rows(HERE / "corrections.csv"):
        if version_key(fix["since"]) > version_key(version):
            continue
        row = index[fix["resource"]].get(tuple(fix["key"].split(",")))
        if row is None or fix["field"] not in row:
            raise BuildError(f"correction matches nothing: {fix['resource']} {fix['key']}")
        row[fix["field"]] = fix["value"]


def date_fields(row: Row) -> None:
    """Add the typed date columns of a figure and the precision the source gave."""
    row["as_of_date"] = period_end(row["as_of"]).isoformat()
    row["as_of_precision"] = precision(row["as_of"])
    start = row["period_start"]
    row["period_start_date"] = period_start(start).isoformat() if start else ""
    row["period_start_precision"] = precision(start) if start else ""


def mark_restatements(figures: list[Row], published: dict[str, str]) -> None:
    """Point each figure that repeats an earlier report's tally at the figure it repeats.

    Two figures state one tally when they agree on metric, value, scope, nationality, sex,
    provinces and breakdown (and on the start of a `period`), come from different reports and
    end within a week of each other. The tally is kept under the figure of the first report
    that counts it from the campaign's start (else the first report); the others restate it.
    A figure marked in build/corrections.csv or listed in build/restatement_exceptions.csv
    (a new tally that happens to repeat a number) is left as it is.
    """
    exceptions = {row["figure_id"] for row in read_rows(HERE / "restatement_exceptions.csv")}
    heads: dict[tuple[str, ...], list[Row]] = defaultdict(list)
    order = sorted(
        enumerate(figures),
        key=lambda item: (
            item[1]["scope"] == "cumulative_campaign" and item[1]["period_start"] != CAMPAIGN_START,
            published[item[1]["report_id"]],
            item[0],
        ),
    )
    for _, row in order:
        if row["scope"] not in RESTATED_SCOPES or row["value_status"] != "as_reported":
            continue
        if row["figure_id"] in exceptions:
            continue
        key = (
            row["metric"],
            row["value"],
            row["scope"],
            row["nationality"],
            row["sex"],
            row["provinces"],
            row["breakdown"],
            row["period_start"] if row["scope"] == "period" else "",
        )
        end = date.fromisoformat(row["as_of_date"])
        for head in heads[key]:
            near = abs((date.fromisoformat(head["as_of_date"]) - end).days)
            if near <= RESTATEMENT_WINDOW_DAYS and head["report_id"] != row["report_id"]:
                if not row["restates"]:
                    row["restates"] = head["figure_id"]
                break
        else:
            if not row["restates"]:
                heads[key].append(row)


def evolve(tables: Tables, version: str) -> Tables:
    """Return the uncut tables in the model of a release (unchanged before 1.3.0)."""
    if not has_model(version):
        return tables
    out: Tables = {name: [dict(row) for row in rows] for name, rows in tables.items()}
    out["metrics"] = read_rows(HERE / "metrics_1.3.0.csv")
    for report in out["reports"]:
        report["published_date_precision"] = precision(report["published_date"])
    for row in out["figures"]:
        date_fields(row)
        row.update(part_of="", breakdown="", restates="", value_status="as_reported")
        row["corrected_by"] = ""
    for event in out["deportation_events"]:
        event["part_of_event_id"] = ""
    apply_corrections(out, version)
    for report in out["reports"]:
        if report["published_date_precision"] == "day_approximate":
            day = date.fromisoformat(report["published_date"])
            report["published_by"] = month_end(day).isoformat()
    published = {row["report_id"]: row["published_by"] for row in out["reports"]}
    mark_restatements(out["figures"], published)
    return out


def running_totals(tables: Tables) -> list[Row]:
    """Return the points of the campaign's running totals, each one figure of one report.

    A point is a national (no nationality, sex, site or part, and not given for one province
    alone), campaign-long figure counted from 27 June 2025 of one of SERIES_METRICS, that
    restates no other figure, is not flagged as a source error and is not excluded in
    build/series_exclusions.csv. A national figure whose units are named (the four units of
    the major cases) is kept: it is given for the units combined.
    """
    excluded = {row["figure_id"] for row in read_rows(HERE / "series_exclusions.csv")}
    reports = {row["report_id"]: row for row in tables["reports"]}
    points = [
        {
            "figure_id": row["figure_id"],
            "metric": row["metric"],
            "as_of_date": row["as_of_date"],
            "as_of_precision": row["as_of_precision"],
            "value": row["value"],
            "qualifier": row["qualifier"],
            "report_id": row["report_id"],
            "published_date": reports[row["report_id"]]["published_date"],
        }
        for row in tables["figures"]
        if row["metric"] in SERIES_METRICS
        and row["scope"] == "cumulative_campaign"
        and row["period_start"] == CAMPAIGN_START
        and not any(row[k] for k in ("nationality", "sex", "breakdown", "part_of"))
        and (not row["provinces"] or "|" in row["provinces"])
        and not row["restates"]
        and row["value_status"] == "as_reported"
        and row["figure_id"] not in excluded
    ]
    return sorted(points, key=lambda p: (p["metric"], p["as_of_date"], p["figure_id"]))


def check_model(tables: Tables) -> None:
    """Refuse a release whose figures cannot be told apart or point at missing rows."""
    figures = {row["figure_id"]: row for row in tables["figures"]}
    seen: dict[tuple[str, ...], str] = {}
    for row in tables["figures"]:
        for field in ("part_of", "restates", "corrected_by"):
            if row[field] and row[field] not in figures:
                raise BuildError(f"{row['figure_id']}: {field} {row[field]} is not a figure")
        if row["restates"] and figures[row["restates"]]["restates"]:
            raise BuildError(f"{row['figure_id']}: restates a figure that itself restates")
        key = tuple(row[k] for k in DISTINCT_FIELDS)
        if key in seen:
            raise BuildError(f"{row['figure_id']} and {seen[key]} differ only in value or notes")
        seen[key] = row["figure_id"]
    events = {row["event_id"] for row in tables["deportation_events"]}
    for event in tables["deportation_events"]:
        if event["part_of_event_id"] and event["part_of_event_id"] not in events:
            raise BuildError(f"{event['event_id']}: part_of_event_id is not an event")
