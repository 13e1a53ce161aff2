"""Read the research fact sheet into the full, uncut tables of the package."""

from __future__ import annotations

import calendar
import csv
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
FIGURE_KEYS = (
    "report_id",
    "metric",
    "value",
    "qualifier",
    "period_start",
    "as_of",
    "scope",
    "nationality",
    "sex",
)

REPORT_FIELDS = (
    "report_id",
    "published_date",
    "published_by",
    "publisher",
    "title",
    "url",
    "language",
    "issuing_authority",
    "notes",
)

Row = dict[str, str]
Tables = dict[str, list[Row]]


class BuildError(Exception):
    """The research input or the output breaks a rule of the package."""


def read_csv(path: Path) -> list[Row]:
    """Read a UTF-8 CSV file with a header row into a list of dicts."""
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def version_key(version: str) -> tuple[int, ...]:
    """Return a plain SemVer version ('1.3.0') as a tuple for comparison; '' sorts first."""
    return tuple(int(part) for part in version.split(".")) if version else ()


def period_start(value: str) -> date:
    """Return the first day a partial ISO date (YYYY, YYYY-MM or YYYY-MM-DD) can stand for."""
    parts = [int(part) for part in value.split("-")] + [1, 1]
    return date(parts[0], parts[1], parts[2])


def precision(value: str) -> str:
    """Return 'day', 'month' or 'year': how much of a partial ISO date the source gave."""
    return ("year", "month", "day")[value.count("-")]


def period_end(value: str) -> date:
    """Return the last day a partial ISO date (YYYY, YYYY-MM or YYYY-MM-DD) can stand for."""
    parts = [int(part) for part in value.split("-")]
    if len(parts) == 3:
        return date(parts[0], parts[1], parts[2])
    if len(parts) == 2:
        return date(parts[0], parts[1], calendar.monthrange(parts[0], parts[1])[1])
    return date(parts[0], 12, 31)


def split_spellings(text: str, name: str) -> tuple[list[str], list[str]]:
    """Split the research 'alt_spellings' cell into spellings and the places in parentheses."""
    segments: list[str] = []
    depth, current = 0, ""
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == ";" and depth == 0:
            segments.append(current.strip())
            current = ""
        else:
            current += char
    segments.append(current.strip())
    spellings: list[str] = []
    places: list[str] = []
    for segment in filter(None, segments):
        spelling, _, inner = segment.partition("(")
        spelling = spelling.strip()
        if spelling and spelling != name:
            spellings.append(spelling)
        for place in inner.rstrip(")").replace(";", ",").split(","):
            if place.strip():
                places.append(place.strip())
    return spellings, places


def with_caveat(notes: str, caveat: str) -> str:
    """Append a caveat sentence to a notes cell."""
    if not notes:
        return caveat
    return f"{notes} {caveat}" if notes.endswith((".", "!", "?")) else f"{notes}. {caveat}"


def apply_caveats(figures: list[Row], caveats: list[Row]) -> None:
    """Add the caveats of build/caveats.csv to the notes of the figures they match."""
    for caveat in caveats:
        filters = {key: caveat[key] for key in ("report_id", "metric", "as_of", "scope")}
        matched = [
            row
            for row in figures
            if all(not want or row[key] == want for key, want in filters.items())
        ]
        if not matched:
            raise BuildError(f"caveat matches no figure: {filters}")
        for row in matched:
            unless = caveat["unless"].lower()
            if not unless or unless not in row["notes"].lower():
                row["notes"] = with_caveat(row["notes"], caveat["caveat"])


def build_tables(research: Path) -> Tables:
    """Return every resource of the package, uncut, from the research fact sheet."""
    reports = read_csv(research / "reports.csv")
    figures_in = read_csv(research / "figures.csv")
    events_in = read_csv(research / "deportation_events.csv")
    nationalities_in = read_csv(research / "nationalities.csv")
    provinces_in = read_csv(research / "provinces.csv")
    metrics = read_csv(HERE / "metrics.csv")
    countries = read_csv(HERE / "countries.csv")

    for report in reports:
        report["published_by"] = period_end(report["published_date"]).isoformat()
        report.setdefault("added_in", "")
    province_codes = {row["name_en"]: row["iso_3166_2"] for row in provinces_in}

    figures: list[Row] = []
    figure_provinces: list[Row] = []
    numbers: dict[str, int] = {}
    for source in figures_in:
        number = numbers[source["report_id"]] = numbers.get(source["report_id"], 0) + 1
        if number > 99:
            raise BuildError(f"{source['report_id']}: more figures than a two-digit number allows")
        figure_id = f"{source['report_id']}-{number:02d}"
        if str(int(source["value"])) != source["value"]:
            raise BuildError(f"{figure_id}: value {source['value']!r} is not a plain integer")
        figures.append(
            {
                "figure_id": figure_id,
                **{key: source[key] for key in FIGURE_KEYS},
                "provinces": source["province"],
                "notes": source["notes"],
                "added_in": source.get("added_in", ""),
            }
        )
        for name in filter(None, source["province"].split("|")):
            if name not in province_codes:
                raise BuildError(f"{figure_id}: unknown province {name!r}")
            figure_provinces.append({"figure_id": figure_id, "province_code": province_codes[name]})
    apply_caveats(figures, read_csv(HERE / "caveats.csv"))

    events: list[Row] = []
    event_reports: list[Row] = []
    for source in events_in:
        events.append(
            {
                "event_id": source["event_id"],
                "event_date": source["event_date"],
                "nationality": source["nationality"],
                "nationalities_listed": source["nationalities_listed"],
                "persons_deported": source["count"],
                "qualifier": source["count_qualifier"],
                "women_deported": source["women_count"],
                "via": source["via"],
                "destination": source["destination"],
                "report_id": source["report_id"],
                "notes": source["notes"],
                "added_in": source.get("added_in", ""),
            }
        )
        event_reports.append(
            {"event_id": source["event_id"], "report_id": source["report_id"], "role": "primary"}
        )
        for other in filter(None, source["other_report_ids"].split("|")):
            event_reports.append(
                {"event_id": source["event_id"], "report_id": other, "role": "also_reported"}
            )

    provinces: list[Row] = []
    mentions: list[Row] = []
    for source in provinces_in:
        spellings, places = split_spellings(source["alt_spellings"], source["name_en"])
        provinces.append(
            {
                "code": source["iso_3166_2"],
                "name_en": source["name_en"],
                "type": source["type"],
                "alt_spellings": "|".join(spellings),
                "places": "|".join(places),
            }
        )
        for context, flag, ids in (
            ("operations", "named_in_operations", "operation_report_ids"),
            ("criminal_cases", "named_in_criminal_cases", "criminal_case_report_ids"),
        ):
            listed = [report_id for report_id in source[ids].split("|") if report_id]
            if (source[flag] == "yes") != bool(listed):
                raise BuildError(f"{source['iso_3166_2']}: {flag} disagrees with {ids}")
            mentions.extend(
                {
                    "province_code": source["iso_3166_2"],
                    "report_id": report_id,
                    "context": context,
                    "added_in": "",
                }
                for report_id in listed
            )
    added = research / "province_mentions_added.csv"
    for source in read_csv(added) if added.is_file() else []:
        if source["name_en"] not in province_codes:
            raise BuildError(f"province_mentions_added.csv: unknown province {source['name_en']!r}")
        mentions.append(
            {
                "province_code": province_codes[source["name_en"]],
                "report_id": source["report_id"],
                "context": source["context"],
                "added_in": source["added_in"],
            }
        )

    report_nationalities = [
        {
            "report_id": source["report_id"],
            "nationality": source["nationality_iso2"],
            "nationality_as_reported": source["country_as_reported"],
            "notes": source["notes"],
            "added_in": source.get("added_in", ""),
        }
        for source in nationalities_in
    ]

    old_figures = [row for row in figures if not row["added_in"]]
    used_metrics = {row["metric"] for row in old_figures}
    if used_metrics != {row["code"] for row in metrics}:
        raise BuildError(f"metrics.csv differs from the metrics used: {sorted(used_metrics)}")
    referenced = {row["nationality"] for row in figures + events + report_nationalities}
    referenced |= {code for row in events for code in row["nationalities_listed"].split("|")}
    referenced.discard("")
    if referenced != {row["code"] for row in countries}:
        raise BuildError(f"countries.csv differs from the countries referenced: {referenced}")

    return {
        "reports": [{name: row[name] for name in (*REPORT_FIELDS, "added_in")} for row in reports],
        "figures": figures,
        "figure_provinces": figure_provinces,
        "deportation_events": events,
        "deportation_event_reports": event_reports,
        "report_nationalities": report_nationalities,
        "province_mentions": mentions,
        "metrics": metrics,
        "provinces": provinces,
        "countries": sorted(countries, key=lambda row: row["code"]),
    }
