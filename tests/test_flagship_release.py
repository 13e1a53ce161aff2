"""Release 1.3.0 of the flagship package, checked from its released files and over HTTP."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from collections import Counter
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook

from tests.helpers import DATASETS, FLAGSHIP, ROOT

PACKAGE = DATASETS / FLAGSHIP
VERSION = "1.3.0"
LATEST = "1.3.1"  # adds the chart declaration; its data files are those of 1.3.0
PREVIOUS = "1.2.0"
BUILD = PACKAGE / "build"
SEED = "freshnews_20251018"
ERROR = "ajp_zum_20260122-03"
# Structured fields of a figure besides its value: two figures may not agree on all of them.
STRUCTURED = (
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


@cache
def rows(resource: str, version: str = VERSION) -> tuple[dict[str, str], ...]:
    """The rows of a released CSV file, as text."""
    path = PACKAGE / version / "data" / f"{resource}.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        return tuple(csv.DictReader(handle))


def figures_by_id(version: str = VERSION) -> dict[str, dict[str, str]]:
    """The figures of a release by figure_id."""
    return {row["figure_id"]: row for row in rows("figures", version)}


def descriptor(version: str = VERSION) -> dict[str, Any]:
    """A release's datapackage.json."""
    return dict(json.loads((PACKAGE / version / "datapackage.json").read_text("utf-8")))


# --- the seed report, read in full -----------------------------------------------------------

SEED_NUMBERS = {
    ("foreigners_deported", "64", "", "KR"),
    ("foreigners_deported", "5", "female", "KR"),
    ("foreigners_deported", "180", "", "KR"),
    ("locations_inspected", "92", "", ""),
    ("provinces_covered", "18", "", ""),
    ("suspects_detained", "3455", "", ""),
    ("nationalities_detained", "20", "", ""),
    ("criminal_cases_filed", "10", "", ""),
    ("suspects_referred_to_court", "75", "", ""),
    ("suspects_referred_to_court", "5", "female", ""),
    ("foreigners_deported", "2825", "", ""),
    ("foreigners_deported", "476", "female", ""),
}


def test_the_seed_report_holds_its_twelve_numbers() -> None:
    found = {
        (row["metric"], row["value"], row["sex"], row["nationality"])
        for row in rows("figures")
        if row["report_id"] == SEED
    }
    assert found == SEED_NUMBERS
    cases = next(
        r
        for r in rows("figures")
        if r["report_id"] == SEED and r["metric"] == ("criminal_cases_filed")
    )
    assert cases["provinces"] == "Phnom Penh|Kandal|Preah Sihanouk|Kampot"
    named = {r["nationality"] for r in rows("report_nationalities") if r["report_id"] == SEED}
    assert len(named) == 21 and {"SL", "MN", "RU"} <= named  # 20 nationalities, TW apart


def test_the_seed_report_was_short_before() -> None:
    """1.2.0 stays as published: 7 of the 12 numbers."""
    assert sum(1 for r in rows("figures", PREVIOUS) if r["report_id"] == SEED) == 7


# --- the source error, flagged and corrected -----------------------------------------------------


def test_the_source_error_is_kept_flagged_and_corrected() -> None:
    figures = figures_by_id()
    wrong = figures[ERROR]
    assert (wrong["value"], wrong["value_status"]) == ("486700000000", "source_error")
    right = figures[wrong["corrected_by"]]
    assert right["report_id"] != wrong["report_id"]
    assert (right["metric"], right["value"], right["qualifier"]) == (
        "alleged_fraud_amount_krw",
        "48600000000",
        "approximately",
    )
    flagged = [f for f in figures.values() if f["value_status"] != "as_reported"]
    assert [f["figure_id"] for f in flagged] == [ERROR]
    assert all(not f["corrected_by"] for f in figures.values() if f["figure_id"] != ERROR)


def test_every_report_of_the_correct_loss_gives_the_same_value() -> None:
    losses = [
        r
        for r in rows("figures")
        if r["metric"] == "alleged_fraud_amount_krw" and r["value_status"] == "as_reported"
    ]
    assert len(losses) >= 2
    assert {r["value"] for r in losses} == {"48600000000"}


# --- distinct rows, safe sums ------------------------------------------------------------------


def test_no_two_figures_agree_on_every_structured_field() -> None:
    keys = Counter(tuple(row[k] for k in STRUCTURED) for row in rows("figures"))
    assert [key for key, n in keys.items() if n > 1] == []


def test_the_previous_release_had_figures_told_apart_only_by_notes() -> None:
    fields = [k for k in STRUCTURED if k not in ("part_of", "breakdown")]
    keys = Counter(tuple(row[k] for k in fields) for row in rows("figures", PREVIOUS))
    assert sum(1 for n in keys.values() if n > 1) == 8


def test_references_between_figures_resolve() -> None:
    figures = figures_by_id()
    for row in figures.values():
        for field in ("part_of", "restates", "corrected_by"):
            if row[field]:
                assert row[field] in figures, (row["figure_id"], field)
        if row["part_of"]:
            assert figures[row["part_of"]]["report_id"] == row["report_id"]
        if row["restates"]:
            assert figures[row["restates"]]["restates"] == ""
            assert figures[row["restates"]]["report_id"] != row["report_id"]
            assert figures[row["restates"]]["value"] == row["value"]


def test_deportation_events_sum_without_double_counting() -> None:
    events = rows("deportation_events")
    ids = {e["event_id"] for e in events}
    parts = [e for e in events if e["part_of_event_id"]]
    assert all(e["part_of_event_id"] in ids for e in parts)
    naive = sum(int(e["persons_deported"]) for e in events)
    safe = sum(int(e["persons_deported"]) for e in events if not e["part_of_event_id"])
    assert naive - safe == 789


# --- one code, one meaning ---------------------------------------------------------------------


def test_major_criminal_cases_are_one_series() -> None:
    cases = [r for r in rows("figures") if r["metric"] == "criminal_cases_filed"]
    assert {r["value"] for r in cases} == {"10", "35", "37", "79"}
    investigated = [r for r in rows("figures") if r["metric"] == "scam_cases_investigated"]
    assert {r["value"] for r in investigated} == {"200"}


def test_people_involved_in_a_riot_are_not_counted_as_detained() -> None:
    riot = figures_by_id()["cnbcid_20251022-02"]
    assert riot["metric"] == "persons_involved_in_incident"
    codes = {r["code"] for r in rows("metrics")}
    assert {"persons_involved_in_incident", "scam_cases_investigated"} <= codes


def test_the_tally_of_14_october_is_kept_once() -> None:
    tallies = [
        r
        for r in rows("figures")
        if r["metric"] == "suspects_detained" and r["value"] == "3455" and not r["restates"]
    ]
    assert [r["figure_id"] for r in tallies] == ["ettoday_20251016-03"]
    repeated = {r["as_of"] for r in rows("figures") if r["restates"] == "ettoday_20251016-03"}
    assert len(repeated) >= 4


# --- typed dates -------------------------------------------------------------------------------


def test_dates_are_typed_with_their_precision() -> None:
    fields = {
        f["name"]: f
        for r in descriptor()["resources"]
        if r["name"] == "figures"
        for f in r["schema"]["fields"]
    }
    assert (fields["as_of_date"]["type"], fields["period_start_date"]["type"]) == ("date", "date")
    assert (fields["as_of"]["type"], fields["period_start"]["type"]) == ("string", "string")
    for row in rows("figures"):
        day = date.fromisoformat(row["as_of_date"])
        precision = row["as_of_precision"]
        assert precision == ("year", "month", "day")[row["as_of"].count("-")]
        assert day.isoformat().startswith(row["as_of"])
        if precision != "day":
            assert date.fromordinal(day.toordinal() + 1).day == 1  # the last day of its period
        if row["period_start"]:
            start = date.fromisoformat(row["period_start_date"])
            assert start.isoformat().startswith(row["period_start"])
            if row["period_start_precision"] != "day":
                assert start.day == 1
        else:
            assert row["period_start_date"] == row["period_start_precision"] == ""


def test_approximate_publication_dates_count_as_month_end() -> None:
    for row in rows("reports"):
        if row["published_date_precision"] in ("day_approximate", "month", "year"):
            end = date.fromisoformat(row["published_by"])
            assert date.fromordinal(end.toordinal() + 1).day == 1, row["report_id"]
        else:
            assert row["published_by"] == row["published_date"]


# --- the running totals ------------------------------------------------------------------------


def test_running_totals_hold_no_restated_tally_and_trace_to_their_report() -> None:
    figures = figures_by_id()
    points = rows("running_totals")
    assert points
    for point in points:
        figure = figures[point["figure_id"]]
        assert figure["restates"] == "" and figure["value_status"] == "as_reported"
        assert (figure["metric"], figure["value"], figure["qualifier"], figure["report_id"]) == (
            point["metric"],
            point["value"],
            point["qualifier"],
            point["report_id"],
        )
        assert figure["as_of_date"] == point["as_of_date"]
        assert (figure["scope"], figure["period_start"]) == ("cumulative_campaign", "2025-06-27")


def test_running_total_of_detentions_never_dips() -> None:
    series = sorted(
        (p["as_of_date"], int(p["value"]))
        for p in rows("running_totals")
        if p["metric"] == "suspects_detained"
    )
    latest_by_day: dict[str, int] = {}
    for day, value in series:
        latest_by_day[day] = max(value, latest_by_day.get(day, 0))
    values = list(latest_by_day.values())
    assert values == sorted(values)
    assert "vnexpress_20250930-02" not in {p["figure_id"] for p in rows("running_totals")}


# --- new reports and metadata ------------------------------------------------------------------


def test_every_new_report_has_a_url_and_a_publication_date() -> None:
    before = {r["report_id"] for r in rows("reports", PREVIOUS)}
    new = [r for r in rows("reports") if r["report_id"] not in before]
    assert len(new) == 9
    for report in new:
        assert report["url"].startswith(("https://", "http://")), report["report_id"]
        date.fromisoformat(report["published_date"])
        assert report["published_date_precision"] == "day"
    assert max(r["published_date"] for r in new) == "2026-03-18"


def test_reports_after_12_march_2026_are_in() -> None:
    late = {r["report_id"] for r in rows("reports") if r["published_by"] > "2026-03-12"}
    assert {"ap_wsoctv_20260313", "dnyxxg_20260318"} <= late
    assert "No report published after 12 March 2026" not in descriptor()["description"]


def test_no_placeholder_in_the_descriptor() -> None:
    text = (PACKAGE / VERSION / "datapackage.json").read_text("utf-8")
    assert "example.org" not in text and "example.com" not in text
    assert "CCOS" in descriptor()["description"] and "one body" in descriptor()["description"]


def test_created_is_when_the_release_was_cut() -> None:
    created = descriptor()["created"]
    assert created == (BUILD / "created-1.3.0.txt").read_text("utf-8").strip()
    assert not created.endswith("T00:00:00Z")


def test_the_builder_rebuilds_every_release_byte_for_byte() -> None:
    result = subprocess.run(
        [sys.executable, str(BUILD / "build_releases.py"), "--check"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    for version in ("1.0.0", "1.1.0", "1.2.0", VERSION, LATEST):
        assert f"{version}: unchanged" in result.stdout


def test_the_chart_release_is_the_data_of_1_3_0_with_views() -> None:
    """1.3.1 is a patch: the same data files and schemas, plus the chart the package declares."""
    before, after = descriptor(), descriptor(LATEST)
    for name in (PACKAGE / VERSION / "data").iterdir():
        assert (PACKAGE / LATEST / "data" / name.name).read_bytes() == name.read_bytes()
    assert sorted(p.name for p in (PACKAGE / LATEST / "data").iterdir()) == sorted(
        p.name for p in (PACKAGE / VERSION / "data").iterdir()
    )
    assert after["resources"] == before["resources"]
    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    assert changed == {"version", "created", "description", "views"}
    assert after["created"] == (BUILD / "created-1.3.1.txt").read_text("utf-8").strip()
    (view,) = after["views"]
    assert view["resources"] == ["figures"]
    assert "scope=cumulative_campaign" in view["spec"]["filter"]
    assert "**Changed in 1.3.1.**" in after["description"]


def test_the_builder_reads_its_own_copy_of_the_research() -> None:
    research = BUILD / "research"
    assert (research / "figures.csv").is_file()
    assert (research / "sources" / f"{SEED}.txt").is_file()
    assert Path(BUILD / "build_releases.py").read_text("utf-8").count('HERE / "research"') == 1


# --- over HTTP ---------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_the_diff_shows_the_corrections(client: httpx.AsyncClient) -> None:
    response = await client.get(
        f"/v1/datasets/{FLAGSHIP}/diff",
        params={"from": PREVIOUS, "to": VERSION, "resource": "figures", "_size": "1000"},
    )
    assert response.status_code == 200
    body = response.json()
    changed = {r["key"]["figure_id"]: r for r in body["rows"] if r["diff_type"] == "changed"}
    assert set(changed) == {
        ERROR,
        "cnbcid_20251022-02",
        "freshnews_20260219-01",
        "asianspeech_20260218-01",
        "thestar_20260301-03",
    }
    assert "source_error" not in changed[ERROR]["from_notes"]
    assert "value_status" in changed[ERROR]["to_notes"]
    assert changed["cnbcid_20251022-02"]["to_metric"] == "persons_involved_in_incident"
    added = {r["key"]["figure_id"] for r in body["rows"] if r["diff_type"] == "added"}
    assert {f"{SEED}-{n:02d}" for n in range(8, 13)} <= added
    fields = {c["field"] for c in body["schema_changes"] if c["change"] == "field_added"}
    assert {"value_status", "corrected_by", "as_of_date", "part_of", "restates"} <= fields
    assert (body["required_bump"], body["declared_bump"], body["bump_ok"]) == (
        "minor",
        "minor",
        True,
    )


@pytest.mark.anyio
async def test_latest_serves_the_running_totals(client: httpx.AsyncClient) -> None:
    response = await client.get(
        f"/v1/datasets/{FLAGSHIP}/latest/running_totals?metric=suspects_detained&_sort=as_of_date"
    )
    assert response.status_code == 200
    assert response.headers["x-dataset-version"] == LATEST
    served = [(r["figure_id"], r["value"]) for r in response.json()["rows"]]
    expected = sorted(
        (p for p in rows("running_totals") if p["metric"] == "suspects_detained"),
        key=lambda p: (p["as_of_date"], p["figure_id"]),
    )
    assert served == [(p["figure_id"], int(p["value"])) for p in expected]


@pytest.mark.anyio
async def test_a_date_filter_compares_dates(client: httpx.AsyncClient) -> None:
    response = await client.get(
        f"/v1/datasets/{FLAGSHIP}/{VERSION}/figures",
        params={"as_of_date__gte": "2026-03-12", "_size": "1000", "_col": "figure_id"},
    )
    assert response.status_code == 200
    expected = {r["figure_id"] for r in rows("figures") if r["as_of_date"] >= "2026-03-12"}
    assert {r["figure_id"] for r in response.json()["rows"]} == expected


@pytest.mark.anyio
async def test_a_bad_date_is_a_400_naming_the_parameter(client: httpx.AsyncClient) -> None:
    response = await client.get(
        f"/v1/datasets/{FLAGSHIP}/{VERSION}/figures", params={"as_of_date__gte": "2026-13"}
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["param"] for e in response.json()["errors"]] == ["as_of_date__gte"]


@pytest.mark.anyio
async def test_a_workbook_holds_the_dates_as_dates(client: httpx.AsyncClient) -> None:
    response = await client.get(
        f"/v1/datasets/{FLAGSHIP}/{VERSION}/figures.xlsx",
        params={"figure_id": f"{SEED}-08", "_col": ["figure_id", "as_of", "as_of_date"]},
    )
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content))["figures"]
    header, row = list(sheet.iter_rows(values_only=True))[:2]
    assert header == ("figure_id", "as_of", "as_of_date")
    assert row[1] == "2025-10-14"
    assert isinstance(row[2], datetime | date) and row[2].isoformat()[:10] == "2025-10-14"
