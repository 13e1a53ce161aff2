"""Validation of releases: the broken corpus, the report shape, the `opendata validate` command."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from api.cli import app
from api.config import PROJECT_ROOT
from api.ingest.discover import find_releases
from api.ingest.validate import (
    ValidationOutcome,
    flatten,
    validate_descriptor,
    validate_release,
)

TESTS = Path(__file__).resolve().parent
BROKEN = TESTS / "broken"
FIXTURES = TESTS / "fixtures" / "datasets"
VALID_RELEASES = ["sample/1.0.0", "sample/1.1.0", "other/0.1.0"]

TOP = None  # a top-level (package) error names no resource, row or field

# case -> (flattened errors of the full validation, of the descriptor-only validation)
CASES: dict[str, tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]] = {
    "type-error": ([("figures", 3, "value", "type-error")], []),
    "missing-data-file": (
        [("figures", None, None, "scheme-error")],
        [(TOP, None, None, "scheme-error")],
    ),
    "duplicate-primary-key": ([("figures", 4, None, "primary-key")], []),
    "dangling-foreign-key": ([("figures", 3, "place_code", "foreign-key")], []),
    "bad-enum-value": ([("figures", 3, "metric", "constraint-error")], []),
    "stale-hash": ([("figures", None, None, "hash-count")], []),
    "edited-file-size": (
        [("figures", None, None, "hash-count"), ("figures", None, None, "byte-count")],
        [(TOP, None, None, "byte-count")],
    ),
    "field-name-double-underscore": (
        [(TOP, None, None, "field-name-error")],
        [(TOP, None, None, "field-name-error")],
    ),
    "field-name-leading-underscore": (
        [(TOP, None, None, "field-name-error")],
        [(TOP, None, None, "field-name-error")],
    ),
    "missing-version": (
        [(TOP, None, None, "version-error")],
        [(TOP, None, None, "version-error")],
    ),
    "non-semver-version": (
        [(TOP, None, None, "version-error")],
        [(TOP, None, None, "version-error")],
    ),
    "malformed-json": (
        [(TOP, None, None, "package-error")],
        [(TOP, None, None, "package-error")],
    ),
    "missing-descriptor": (
        [(TOP, None, None, "package-error")],
        [(TOP, None, None, "package-error")],
    ),
    # `figures` reads `places` to check its foreign key, so it meets the same bytes.
    "non-utf8-declared": (
        [("places", None, None, "encoding-error"), ("figures", None, None, "encoding-error")],
        [],
    ),
    "non-utf8-undeclared": (
        [("places", None, None, "encoding-error"), ("figures", None, None, "encoding-error")],
        [],
    ),
    "missing-primary-key": (
        [(TOP, None, None, "primary-key-missing")],
        [(TOP, None, None, "primary-key-missing")],
    ),
    "required-value-missing": ([("figures", 4, "value", "constraint-error")], []),
    "minimum-violated": ([("figures", 4, "value", "constraint-error")], []),
    "pattern-violated": ([("places", 5, "code", "constraint-error")], []),
    "version-folder-mismatch": (
        [(TOP, None, None, "release-path-error")],
        [(TOP, None, None, "release-path-error")],
    ),
    "package-name-mismatch": (
        [(TOP, None, None, "release-path-error")],
        [(TOP, None, None, "release-path-error")],
    ),
    "missing-bytes-and-hash": (
        [(TOP, None, None, "integrity-error"), (TOP, None, None, "integrity-error")],
        [(TOP, None, None, "integrity-error"), (TOP, None, None, "integrity-error")],
    ),
    "resource-name-with-dot": (
        [(TOP, None, None, "resource-name-error")],
        [(TOP, None, None, "resource-name-error")],
    ),
    "unknown-field-type": (
        [(TOP, None, None, "field-error")],
        [(TOP, None, None, "field-error")],
    ),
}


def release_of(case: str) -> Path:
    return BROKEN / case / "sample" / "1.0.0"


def assert_consistent(outcome: ValidationOutcome) -> None:
    """The verdict, the report's `valid` and its error count agree."""
    report = outcome.report
    assert report["valid"] is outcome.valid
    assert report["stats"]["errors"] == len(flatten(outcome))
    assert outcome.valid is (report["stats"]["errors"] == 0)


@pytest.mark.parametrize("case", sorted(CASES))
def test_broken_release_fails_full_validation(case: str) -> None:
    outcome = validate_release(release_of(case))
    assert not outcome.valid
    assert flatten(outcome) == CASES[case][0]
    assert_consistent(outcome)


@pytest.mark.parametrize("case", sorted(CASES))
def test_descriptor_validation_reads_no_rows(case: str) -> None:
    outcome = validate_descriptor(release_of(case))
    assert flatten(outcome) == CASES[case][1]
    assert outcome.report["tasks"] == []
    assert_consistent(outcome)


def test_corpus_is_large_enough_and_covered() -> None:
    on_disk = {child.name for child in BROKEN.iterdir() if child.is_dir()} - {"__pycache__"}
    assert on_disk == set(CASES)
    assert len(CASES) >= 14


def test_corpus_matches_its_generator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = importlib.util.spec_from_file_location("make_corpus", BROKEN / "make_corpus.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    for case in module.CASES:
        module.build_case(case, tmp_path / "broken")
    module.build_fixtures(tmp_path / "fixtures")

    def tree(base: Path) -> dict[str, bytes]:
        return {
            str(p.relative_to(base)): p.read_bytes()
            for p in sorted(base.rglob("*"))
            if p.is_file() and p.suffix != ".py" and "__pycache__" not in p.parts
        }

    assert tree(tmp_path / "broken") == tree(BROKEN)
    assert tree(tmp_path / "fixtures") == tree(FIXTURES)


@pytest.mark.parametrize("release", VALID_RELEASES)
def test_valid_fixture_passes(release: str) -> None:
    for check in (validate_release, validate_descriptor):
        outcome = check(FIXTURES / release)
        assert flatten(outcome) == []
        assert outcome.valid
        assert_consistent(outcome)


def test_descriptor_path_is_accepted_as_well_as_the_folder() -> None:
    outcome = validate_release(FIXTURES / "sample" / "1.0.0" / "datapackage.json")
    assert outcome.valid


def test_edited_file_with_stale_hash_fails(tmp_path: Path) -> None:
    release = tmp_path / "sample" / "1.0.0"
    shutil.copytree(FIXTURES / "sample" / "1.0.0", release)
    assert validate_release(release).valid
    data = release / "data" / "places.csv"
    # Same size, one letter changed: only the hash can tell.
    data.write_bytes(data.read_bytes().replace(b"Phnom Penh", b"Phnom Penn"))
    outcome = validate_release(release)
    assert flatten(outcome) == [("places", None, None, "hash-count")]
    error = outcome.report["tasks"][0]["errors"][0]
    assert error["note"].startswith('expected is "')
    assert validate_descriptor(release).valid  # sizes agree; only reading the file finds it


def test_project_rule_error_has_frictionless_shape() -> None:
    outcome = validate_release(release_of("version-folder-mismatch"))
    report = outcome.report
    assert report["errors"] == [
        {
            "type": "release-path-error",
            "title": "Release Path Error",
            "description": "A release lives in `<datasets>/<package name>/<version>/`.",
            "message": "The release folder does not match the descriptor: "
            'version "1.0.1" is in a folder named "1.0.0"',
            "tags": [],
            "note": 'version "1.0.1" is in a folder named "1.0.0"',
        }
    ]
    assert report["valid"] is False
    assert {k: v for k, v in report["stats"].items() if k != "seconds"} == {
        "tasks": 2,
        "errors": 1,
        "warnings": 0,
    }
    assert [(task["name"], task["valid"], task["errors"]) for task in report["tasks"]] == [
        ("places", True, []),
        ("figures", True, []),
    ]


def test_frictionless_row_error_keeps_its_own_fields() -> None:
    outcome = validate_release(release_of("type-error"))
    (error,) = outcome.report["tasks"][1]["errors"]
    assert error == {
        "type": "type-error",
        "title": "Type Error",
        "description": "The value does not match the schema type and format for this field.",
        "message": 'Type error in the cell "many" in row "3" and field "value" at position "4":'
        ' type is "integer/default"',
        "tags": ["#table", "#row", "#cell"],
        "note": 'type is "integer/default"',
        "cells": ["2", "KH-18", "deported", "many", "2025-07-15"],
        "rowNumber": 3,
        "cell": "many",
        "fieldName": "value",
        "fieldNumber": 4,
    }


def test_missing_folder_is_an_invalid_outcome(tmp_path: Path) -> None:
    outcome = validate_release(tmp_path / "nowhere" / "1.0.0")
    assert flatten(outcome) == [(TOP, None, None, "package-error")]


def test_every_release_in_datasets_validates() -> None:
    releases = find_releases(PROJECT_ROOT / "datasets")
    if not releases:
        pytest.skip("datasets/ holds no release yet")
    problems = {
        f"{ref.package} {ref.version}": flatten(outcome)
        for ref in releases
        if not (outcome := validate_release(ref.path)).valid
    }
    assert problems == {}


# The command line ------------------------------------------------------------------------------

runner = CliRunner()


def test_cli_validate_all_valid() -> None:
    result = runner.invoke(app, ["validate", "--datasets", str(FIXTURES)])
    assert result.exit_code == 0, result.output
    lines = [line.split("  ")[:3] for line in result.output.splitlines()]
    assert lines == [
        ["other 0.1.0", "VALID", "0 error(s)"],
        ["sample 1.0.0", "VALID", "0 error(s)"],
        ["sample 1.1.0", "VALID", "0 error(s)"],
    ]


def test_cli_validate_invalid_prints_errors_and_exits_1() -> None:
    result = runner.invoke(app, ["validate", str(release_of("type-error"))])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0].split("  ")[:3] == ["sample 1.0.0", "INVALID", "1 error(s)"]
    assert lines[1].split() == ["resource", "row", "field", "type", "message"]
    assert lines[2].split()[:5] == ["figures", "3", "value", "type-error", "Type"]


def test_cli_validate_mixed_paths_exit_1() -> None:
    paths = [str(FIXTURES / "sample"), str(release_of("stale-hash") / "datapackage.json")]
    result = runner.invoke(app, ["validate", *paths])
    assert result.exit_code == 1
    verdicts = [line.split("  ")[1] for line in result.output.splitlines() if "error(s)" in line]
    # Same package and version: ordered by path, tests/broken before tests/fixtures.
    assert verdicts == ["INVALID", "VALID", "VALID"]


def test_cli_validate_json() -> None:
    paths = [str(release_of("dangling-foreign-key")), str(FIXTURES / "other" / "0.1.0")]
    result = runner.invoke(app, ["validate", "--json", *paths])
    assert result.exit_code == 1
    listing = json.loads(result.output)
    assert [
        (item["package"], item["version"], Path(item["path"]), item["valid"]) for item in listing
    ] == [
        ("other", "0.1.0", FIXTURES / "other" / "0.1.0", True),
        ("sample", "1.0.0", release_of("dangling-foreign-key"), False),
    ]
    expected = validate_release(release_of("dangling-foreign-key")).report
    report = listing[1]["report"]
    for body in (report, expected):
        body["stats"].pop("seconds")
        for task in body["tasks"]:
            task["stats"].pop("seconds")
    assert report == expected


def test_cli_validate_json_all_valid_exits_0() -> None:
    result = runner.invoke(app, ["validate", "--json", "--datasets", str(FIXTURES)])
    assert result.exit_code == 0
    assert [item["valid"] for item in json.loads(result.output)] == [True, True, True]


def test_cli_validate_unknown_path_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", str(tmp_path / "no-such-package")])
    assert result.exit_code == 2


def test_cli_validate_empty_datasets_dir(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", "--datasets", str(tmp_path)])
    assert result.exit_code == 0
    assert result.output.startswith("no releases found under ")
