"""CKAN read API bodies: package_show dicts, package_search semantics, envelopes and errors."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from api.metadata.ckan import (
    CkanNotFound,
    CkanValidationError,
    ckan_name,
    ckan_time,
    envelope,
    error_envelope,
    find_package,
    package_dict,
    package_list,
)
from api.metadata.ckan_search import _solr_date, search_packages
from api.metadata.vocab import resolve_licence
from tests.metadata_fixtures import BASE, LINKS, demo, flagship, minimal

NOW = datetime(2025, 12, 2, 8, 0)
ALL = ["cambodia-scam-crackdown", "demo-series", "minimal-package"]


def _uuid(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join(parts)))


@pytest.fixture(scope="module")
def dicts() -> list[dict]:
    return [package_dict(r, links=LINKS) for r in (flagship(), demo(), minimal())]


def test_minimal_package_whole_body() -> None:
    package_id = _uuid(f"{BASE}/v1/datasets/minimal-package")
    release = f"{BASE}/v1/datasets/minimal-package/0.1.0"
    loaded = "2025-09-01T12:00:00.000000"
    resource = {
        "package_id": package_id, "mimetype_inner": None, "created": loaded,
        "last_modified": loaded, "metadata_modified": loaded, "state": "active",
        "datastore_active": False, "url_type": None, "resource_type": None, "cache_url": None,
        "cache_last_updated": None,
    }
    assert package_dict(minimal(), links=LINKS) == {
        "id": package_id,
        "name": "minimal-package",
        "title": "minimal-package",
        "notes": "Data package minimal-package, version 0.1.0, with 1 resource: things.",
        "version": "0.1.0",
        "url": f"{BASE}/datasets/minimal-package",
        "license_id": "notspecified",
        "license_title": "License not specified",
        "license_url": None,
        "isopen": False,
        "author": None,
        "author_email": None,
        "maintainer": None,
        "maintainer_email": None,
        "state": "active",
        "type": "dataset",
        "private": False,
        "creator_user_id": None,
        "metadata_created": loaded,
        "metadata_modified": loaded,
        "owner_org": None,
        "organization": None,
        "tags": [],
        "num_tags": 0,
        "resources": [
            {**resource, "id": _uuid(f"{release}/things.csv"), "name": "things",
             "description": "", "format": "CSV", "mimetype": "text/csv",
             "url": f"{release}/things.csv", "size": None, "hash": "", "position": 0},
            {**resource, "id": _uuid(f"{release}.zip"),
             "name": "minimal-package, version 0.1.0 (ZIP)",
             "description": "Every resource of the release with its datapackage.json.",
             "format": "ZIP", "mimetype": "application/zip", "url": f"{release}.zip",
             "size": None, "hash": "", "position": 1},
        ],
        "num_resources": 2,
        "extras": [
            {"key": "datapackage_url", "value": f"{release}/datapackage.json"},
            {"key": "identifier", "value": f"{BASE}/v1/datasets/minimal-package"},
            {"key": "issued", "value": "2025-09-01"},
            {"key": "modified", "value": "2025-09-01T12:00:00Z"},
            {"key": "uri", "value": f"{BASE}/v1/datasets/minimal-package"},
            {"key": "versions", "value": json.dumps([
                {"version": "0.1.0", "published": None,
                 "datapackage_url": f"{release}/datapackage.json"}])},
        ],
        "groups": [],
        "relationships_as_object": [],
        "relationships_as_subject": [],
    }


def test_demo_package_catalog_fields(dicts: list[dict]) -> None:
    body = dicts[1]
    assert {k: body[k] for k in (
        "name", "title", "version", "license_id", "license_title", "license_url", "isopen",
        "author", "author_email", "maintainer", "maintainer_email", "metadata_created",
        "metadata_modified", "owner_org", "num_tags", "num_resources")} == {
        "name": "demo-series", "title": "Demo series & friends", "version": "2.0.0",
        "license_id": "cc-by", "license_title": "Creative Commons Attribution",
        "license_url": "https://creativecommons.org/licenses/by/4.0/", "isopen": True,
        "author": "Ana María López, Example Data Desk", "author_email": "ana@example.org",
        "maintainer": "Data desk", "maintainer_email": "contact@example.org",
        "metadata_created": "2025-10-18T09:30:00.000000",
        "metadata_modified": "2025-12-01T09:30:00.000000",
        "owner_org": _uuid(BASE, "organization", "example-data-desk"),
        "num_tags": 2, "num_resources": 2,
    }
    assert body["organization"] == {
        "id": _uuid(BASE, "organization", "example-data-desk"), "name": "example-data-desk",
        "title": "Example Data Desk", "type": "organization", "description": "",
        "image_url": "", "created": "2025-10-18T09:30:00.000000", "is_organization": True,
        "approval_status": "approved", "state": "active",
    }
    assert body["tags"] == [
        {"id": _uuid(BASE, "tag", name), "name": name, "display_name": name, "state": "active",
         "vocabulary_id": None} for name in ("demo", "counts")
    ]
    csv = body["resources"][0]
    assert (csv["name"], csv["size"], csv["hash"], csv["url"]) == (
        "Monthly counts", 108, "sha256:" + "b" * 64,
        f"{BASE}/v1/datasets/demo-series/2.0.0/counts.csv")
    extras = {e["key"]: e["value"] for e in body["extras"]}
    assert extras == {
        "contact_email": "contact@example.org", "contact_name": "Data desk",
        "datapackage_url": f"{BASE}/v1/datasets/demo-series/2.0.0/datapackage.json",
        "frequency": "http://publications.europa.eu/resource/authority/frequency/IRREG",
        "identifier": f"{BASE}/v1/datasets/demo-series", "issued": "2025-10-18",
        "language": '["http://publications.europa.eu/resource/authority/language/ENG"]',
        "modified": "2025-12-01T09:30:00Z", "publisher_email": "desk@example.org",
        "publisher_name": "Example Data Desk", "publisher_url": "https://desk.example.org/",
        "spatial_text": "Cambodia",
        "spatial_uri": "http://publications.europa.eu/resource/authority/country/KHM",
        "temporal_end": "2025-10-31", "temporal_start": "2025-06-27",
        "theme": json.dumps(["http://publications.europa.eu/resource/authority/data-theme/JUST",
                             "http://publications.europa.eu/resource/authority/data-theme/GOVE"]),
        "uri": f"{BASE}/v1/datasets/demo-series", "version_notes": "Release 2.0.0.",
        "versions": extras["versions"],
    }
    assert [v["version"] for v in json.loads(extras["versions"])] == ["1.0.0", "1.1.0", "2.0.0"]


@pytest.mark.parametrize(("value", "expected"), [
    ("demo-series", "demo-series"), ("Demo.Series/2", "demo-series-2"), ("a", "a-"),
    ("__x__", "__x__"), ("x" * 120, "x" * 100), ("...", "package"),
])
def test_ckan_name(value: str, expected: str) -> None:
    assert ckan_name(value) == expected


def test_ckan_time_is_utc_without_zone() -> None:
    assert ckan_time(datetime.fromisoformat("2025-10-18T09:30:00+07:00")) == (
        "2025-10-18T02:30:00.000000")


SEARCHES = [
    ({}, ALL),
    ({"q": "*:*"}, ALL),
    ({"q": "DEMO"}, ["demo-series"]),
    ({"q": "Cambodia"}, ["cambodia-scam-crackdown"]),
    ({"q": '"online scams"'}, ["cambodia-scam-crackdown"]),
    ({"q": "monthly test"}, ["demo-series"]),
    ({"q": "name:minimal-package"}, ["minimal-package"]),
    ({"q": "nothing-matches-this"}, []),
    ({"fq": "name:demo-series"}, ["demo-series"]),
    ({"fq": "name:demo*"}, ["demo-series"]),
    ({"fq": "title:DEM*"}, ["demo-series"]),
    ({"fq": "title:*zzz*"}, []),
    ({"fq": "tags:demo"}, ["demo-series"]),
    ({"fq": 'tags:"online scams"'}, ["cambodia-scam-crackdown"]),
    ({"fq": "license_id:cc-by"}, ["cambodia-scam-crackdown", "demo-series"]),
    ({"fq": "-license_id:cc-by"}, ["minimal-package"]),
    ({"fq": "organization:example-data-desk"}, ["demo-series"]),
    ({"fq": "organization:*"}, ["cambodia-scam-crackdown", "demo-series"]),
    ({"fq": "res_format:CSV +dataset_type:dataset"}, ALL),
    ({"fq": "tags:demo license_id:cc-by"}, ["demo-series"]),
    ({"fq": "tags:demo+license_id:cc-zero"}, []),
    ({"fq": "tags:demo AND license_id:cc-by"}, ["demo-series"]),
    ({"fq": "metadata_modified:[2025-11-01T00:00:00Z TO *]"},
     ["cambodia-scam-crackdown", "demo-series"]),
    ({"fq": "metadata_modified:[* TO 2025-12-01T09:30:00Z]"}, ["demo-series", "minimal-package"]),
    ({"fq": "metadata_modified:[* TO 2025-12-01T09:30:00Z}"}, ["minimal-package"]),
    ({"fq": "metadata_modified:[NOW-1DAY TO NOW]"}, ["demo-series"]),
    ({"fq": "metadata_modified:[NOW/DAY-1DAY TO NOW/DAY]"}, ["demo-series"]),
    ({"fq": "metadata_modified:[NOW-3MONTHS TO *]"}, ["cambodia-scam-crackdown", "demo-series"]),
    ({"fq": "metadata_created:[NOW-1YEAR TO NOW]"}, ALL),
    ({"fq": "metadata_created:[* TO 2025-10-01T00:00:00Z]"}, ["minimal-package"]),
]


@pytest.mark.parametrize(("params", "names"), SEARCHES, ids=[repr(p) for p, _ in SEARCHES])
def test_search_filters(dicts: list[dict], params: dict, names: list[str]) -> None:
    result = search_packages(dicts, sort="name asc", now=NOW, **params)
    assert [p["name"] for p in result["results"]] == names
    assert result["count"] == len(names)


@pytest.mark.parametrize(("sort", "names"), [
    (None, ["cambodia-scam-crackdown", "demo-series", "minimal-package"]),
    ("name desc", ["minimal-package", "demo-series", "cambodia-scam-crackdown"]),
    ("title_string asc", ["cambodia-scam-crackdown", "demo-series", "minimal-package"]),
    ("metadata_modified asc", ["minimal-package", "demo-series", "cambodia-scam-crackdown"]),
    ("id asc", sorted(ALL, key=lambda n: _uuid(f"{BASE}/v1/datasets/{n}"))),
    ("num_tags desc, name asc", ["cambodia-scam-crackdown", "demo-series", "minimal-package"]),
])
def test_search_sort(dicts: list[dict], sort: str | None, names: list[str]) -> None:
    result = search_packages(dicts, sort=sort, now=NOW)
    assert [p["name"] for p in result["results"]] == names
    assert result["sort"] == (sort or "score desc, metadata_modified desc")


def test_search_ranks_title_hits_first(dicts: list[dict]) -> None:
    result = search_packages(dicts, q="counts", now=NOW)
    assert [p["name"] for p in result["results"]][0] == "demo-series"


@pytest.mark.parametrize(("rows", "start", "names"), [
    (1, 0, ["cambodia-scam-crackdown"]), (2, 1, ["demo-series", "minimal-package"]),
    (10, 3, []), (0, 0, []), (5000, 0, ALL),
])
def test_search_paging(dicts: list[dict], rows: int, start: int, names: list[str]) -> None:
    result = search_packages(dicts, rows=rows, start=start, sort="name asc", now=NOW)
    assert [p["name"] for p in result["results"]] == names
    assert result["count"] == 3


def test_search_whole_body(dicts: list[dict]) -> None:
    assert search_packages(dicts, fq="tags:demo", now=NOW) == {
        "count": 1, "facets": {}, "results": [dicts[1]],
        "sort": "score desc, metadata_modified desc", "search_facets": {},
    }


@pytest.mark.parametrize(("params", "error"), [
    ({"fq": "colour:red"}, {"fq": ["Unknown field: colour; supported: id, name, title, notes, "
                                   "version, state, tags, license_id, organization, groups, "
                                   "res_format, dataset_type, metadata_modified, "
                                   "metadata_created"]}),
    ({"fq": "red"}, {"fq": ["Cannot parse filter: red"]}),
    ({"fq": "name:[a TO b]"},
     {"fq": ["Ranges work on metadata_modified and metadata_created only"]}),
    ({"fq": "metadata_modified:[NOW-1FORTNIGHT TO *]"},
     {"fq": ["Invalid date math: NOW-1FORTNIGHT"]}),
    ({"fq": "metadata_modified:[yesterday TO *]"}, {"fq": ["Invalid date: yesterday"]}),
    ({"sort": "colour asc"}, {"sort": [
        "Invalid sort: 'colour asc'; use '<field> asc|desc' with field one of id, name, "
        "title_string, metadata_created, metadata_modified, score, num_resources, num_tags"]}),
    ({"sort": "name"}, {"sort": [
        "Invalid sort: 'name'; use '<field> asc|desc' with field one of id, name, "
        "title_string, metadata_created, metadata_modified, score, num_resources, num_tags"]}),
    ({"fq": 'name:"a\\q"'}, {"fq": ['Cannot parse quoted value: "a\\q"']}),
    ({"fq": "metadata_modified:[NOW+10000YEARS TO *]"},
     {"fq": ["Date out of range: NOW+10000YEARS"]}),
    ({"fq": "metadata_modified:[NOW-99999999999DAYS TO *]"},
     {"fq": ["Date out of range: NOW-99999999999DAYS"]}),
    ({"q": "scam OR zzz"}, {"q": ["OR is not supported: every term must match"]}),
    ({"rows": -1}, {"rows": ["Must be a natural number"]}),
    ({"start": -1}, {"start": ["Must be a natural number"]}),
])
def test_search_errors(dicts: list[dict], params: dict, error: dict) -> None:
    with pytest.raises(CkanValidationError) as caught:
        search_packages(dicts, now=NOW, **params)
    assert caught.value.status == 409
    assert caught.value.error == {"__type": "Validation Error", **error}


def test_package_list_and_lookup(dicts: list[dict]) -> None:
    assert package_list(dicts) == ALL
    assert find_package(dicts, "demo-series") is dicts[1]
    assert find_package(dicts, dicts[1]["id"]) is dicts[1]
    with pytest.raises(CkanNotFound) as caught:
        find_package(dicts, "nope")
    assert caught.value.status == 404
    assert caught.value.error == {"__type": "Not Found Error", "message": "Not found"}


def test_envelopes() -> None:
    assert envelope("package_list", ["a"], links=LINKS) == {
        "help": f"{BASE}/api/3/action/help_show?name=package_list", "success": True,
        "result": ["a"],
    }
    assert error_envelope("package_show", CkanNotFound().error, links=LINKS) == {
        "help": f"{BASE}/api/3/action/help_show?name=package_show", "success": False,
        "error": {"__type": "Not Found Error", "message": "Not found"},
    }


@pytest.mark.parametrize(("now", "math", "expected"), [
    (datetime(2025, 3, 31, 12, tzinfo=UTC), "NOW-1MONTH", datetime(2025, 2, 28, 12, tzinfo=UTC)),
    (datetime(2024, 2, 29, tzinfo=UTC), "NOW-1YEAR", datetime(2023, 2, 28, tzinfo=UTC)),
    (datetime(2025, 12, 31, tzinfo=UTC), "NOW-1YEAR", datetime(2024, 12, 31, tzinfo=UTC)),
    (datetime(2025, 1, 30, tzinfo=UTC), "NOW+1MONTH", datetime(2025, 2, 28, tzinfo=UTC)),
])
def test_month_math_keeps_the_day_where_the_month_has_it(
    now: datetime, math: str, expected: datetime
) -> None:
    assert _solr_date(math, now) == expected


@pytest.mark.parametrize(("raw", "ckan_id", "title", "is_open"), [
    ({"name": "CC-BY-4.0"}, "cc-by", "Creative Commons Attribution 4.0 International", True),
    ({"path": "https://creativecommons.org/licenses/by/4.0"}, "cc-by",
     "Creative Commons Attribution 4.0 International", True),
    ({"name": "proprietary", "title": "All rights reserved"}, "proprietary",
     "All rights reserved", False),
    ({"path": "https://example.org/terms"}, "other", "https://example.org/terms", False),
    (None, "notspecified", "License not specified", False),
])
def test_only_known_open_licences_are_called_open(
    raw: dict | None, ckan_id: str, title: str, is_open: bool
) -> None:
    licence = resolve_licence(raw)
    assert (licence.ckan_id, licence.title, licence.is_open) == (ckan_id, title, is_open)
