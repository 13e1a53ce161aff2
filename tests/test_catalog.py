"""Release discovery, SemVer order, and the root `datapackage.json` built by `opendata catalog`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from frictionless import Package
from typer.testing import CliRunner

from api.cli import app
from api.errors import PackageInvalid
from api.ingest.catalog import build_catalog, catalog_path, render_catalog
from api.ingest.discover import (
    ReleaseRef,
    find_releases,
    is_semver,
    latest_of,
    latest_releases,
    parse_semver,
)
from api.metadata.datapackage import catalog_resource_name
from tests.helpers import DATASETS, ROOT

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "datasets"
runner = CliRunner()


def write_catalog(datasets_dir: Path, root: Path) -> Path:
    """Write the root descriptor as `opendata catalog` does."""
    path = catalog_path(root)
    path.write_text(render_catalog(build_catalog(datasets_dir, root)), encoding="utf-8")
    return path


# SemVer and discovery --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.2.0", True),
        ("0.0.1", True),
        ("10.20.30", True),
        ("1.0.0-rc.1", True),
        ("1.0.0-alpha.beta+build.7", True),
        ("1.0", False),
        ("v1.0.0", False),
        ("01.0.0", False),
        ("1.0.0-", False),
        ("1.0.0-01", False),
        ("build", False),
        ("", False),
    ],
)
def test_is_semver(text: str, expected: bool) -> None:
    assert is_semver(text) is expected


def test_semver_precedence_follows_the_spec() -> None:
    # The ordering example of semver.org section 11, plus minor/major steps.
    ordered = [
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.beta",
        "1.0.0-beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
        "1.2.0",
        "1.10.0",
        "2.0.0",
    ]
    parsed = [parse_semver(text) for text in reversed(ordered)]
    assert [str(v) for v in sorted(v for v in parsed if v is not None)] == ordered


@pytest.mark.parametrize(
    ("versions", "expected"),
    [
        (["1.0.0", "1.10.0", "1.9.0"], "1.10.0"),
        (["1.0.0", "1.1.0-rc.1"], "1.0.0"),
        (["0.1.0-rc.1", "0.1.0-rc.2"], "0.1.0-rc.2"),
        (["build", "1.0.0"], "1.0.0"),
        ([], None),
    ],
)
def test_latest_of(versions: list[str], expected: str | None) -> None:
    assert latest_of(versions) == expected


def refs(*items: tuple[str, str]) -> list[ReleaseRef]:
    return [ReleaseRef(package=p, version=v, path=FIXTURES / p / v) for p, v in items]


def test_find_releases_scans_semver_folders_only() -> None:
    # `sample/build/` holds a datapackage.json but is not a release.
    assert find_releases(FIXTURES) == refs(
        ("other", "0.1.0"), ("sample", "1.0.0"), ("sample", "1.1.0")
    )


@pytest.mark.parametrize(
    ("named", "expected"),
    [
        (["sample"], [("sample", "1.0.0"), ("sample", "1.1.0")]),
        (["sample/1.1.0"], [("sample", "1.1.0")]),
        (["other/0.1.0/datapackage.json"], [("other", "0.1.0")]),
        (["sample/1.1.0", "other", "sample/1.1.0"], [("other", "0.1.0"), ("sample", "1.1.0")]),
    ],
)
def test_find_releases_named(named: list[str], expected: list[tuple[str, str]]) -> None:
    paths = [FIXTURES / name for name in named]
    assert find_releases(Path("/unused"), paths) == refs(*expected)


def test_find_releases_unknown_path() -> None:
    with pytest.raises(FileNotFoundError):
        find_releases(FIXTURES, [FIXTURES / "nothing-here"])


def test_find_releases_missing_datasets_dir(tmp_path: Path) -> None:
    assert find_releases(tmp_path / "absent") == []


def test_latest_releases() -> None:
    assert latest_releases(FIXTURES) == refs(("other", "0.1.0"), ("sample", "1.1.0"))


# The root descriptor ---------------------------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project root whose `datasets/` is a copy of the fixtures."""
    shutil.copytree(FIXTURES, tmp_path / "datasets")
    return tmp_path


def source_resource(package: str, version: str, name: str) -> dict[str, Any]:
    descriptor = json.loads((FIXTURES / package / version / "datapackage.json").read_text())
    found: dict[str, Any] = next(r for r in descriptor["resources"] if r["name"] == name)
    return found


def test_build_catalog(project: Path) -> None:
    catalog = build_catalog(project / "datasets", project)
    resources = catalog.pop("resources")
    assert catalog == {
        "$schema": "https://datapackage.org/profiles/2.0/datapackage.json",
        "name": "opendata-catalog",
        "title": "Open data catalog",
        "description": (
            "The latest release of every data package in this repository, one resource per "
            "table. Resource names are `<package>.<resource>`; each path points into the "
            "release folder `datasets/<package>/<version>/`. Generated by `opendata catalog`; "
            "do not edit by hand."
        ),
        "licenses": [
            {"name": "ODC-PDDL-1.0", "path": "https://opendatacommons.org/licenses/pddl/"},
            {
                "name": "CC-BY-4.0",
                "path": "https://creativecommons.org/licenses/by/4.0/",
                "title": "Creative Commons Attribution 4.0",
            },
        ],
    }
    assert [(r["name"], r["path"]) for r in resources] == [
        ("other.figures", "datasets/other/0.1.0/data/figures.csv"),
        ("sample.places", "datasets/sample/1.1.0/data/places.csv"),
        ("sample.figures", "datasets/sample/1.1.0/data/figures.csv"),
    ]
    figures = source_resource("sample", "1.1.0", "figures")
    assert resources[2] == {
        **figures,
        "name": "sample.figures",
        "path": "datasets/sample/1.1.0/data/figures.csv",
        "schema": {
            **figures["schema"],
            "foreignKeys": [
                {
                    "fields": ["place_code"],
                    "reference": {"resource": "sample.places", "fields": ["code"]},
                }
            ],
        },
        "licenses": [catalog["licenses"][1]],
    }
    other = source_resource("other", "0.1.0", "figures")
    assert resources[0] == {
        **other,
        "name": "other.figures",
        "path": "datasets/other/0.1.0/data/figures.csv",
        "encoding": "utf-8",
        "licenses": [catalog["licenses"][0]],
    }


@pytest.mark.parametrize(("package", "resource"), [("sample", "places"), ("my.package", "figures")])
def test_catalog_names_split_back(package: str, resource: str) -> None:
    name = catalog_resource_name(package, resource)
    assert name.rpartition(".") == (package, ".", resource)


def test_catalog_is_deterministic(project: Path) -> None:
    first = write_catalog(project / "datasets", project).read_bytes()
    second = write_catalog(project / "datasets", project).read_bytes()
    assert first == second
    assert first.endswith(b"}\n")
    assert (
        first.decode().splitlines()[1]
        == '  "$schema": "https://datapackage.org/profiles/2.0/datapackage.json",'
    )


def test_written_catalog_validates_with_frictionless(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_catalog(project / "datasets", project)
    monkeypatch.chdir(project)
    report = Package("datapackage.json").validate()
    assert report.flatten(["taskName", "rowNumber", "fieldName", "type"]) == []
    assert [task.name for task in report.tasks] == [
        "other.figures",
        "sample.places",
        "sample.figures",
    ]
    assert report.valid


def test_catalog_of_v1_packages_declares_no_profile(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.rmtree(project / "datasets" / "other")
    catalog = build_catalog(project / "datasets", project)
    assert "$schema" not in catalog
    write_catalog(project / "datasets", project)
    monkeypatch.chdir(project)
    assert Package("datapackage.json").validate().valid


def test_catalog_carries_hashes(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_catalog(project / "datasets", project)
    data = project / "datasets" / "sample" / "1.1.0" / "data" / "places.csv"
    data.write_bytes(data.read_bytes().replace(b"Phnom Penh", b"Phnom Penn"))
    monkeypatch.chdir(project)
    report = Package("datapackage.json").validate()
    assert report.flatten(["taskName", "rowNumber", "fieldName", "type"]) == [
        [None, None, None, "hash-count"]
    ]


@pytest.mark.slow
def test_frictionless_command_validates_the_catalog(project: Path) -> None:
    write_catalog(project / "datasets", project)
    command = [str(Path(sys.executable).parent / "frictionless"), "validate", "datapackage.json"]
    result = subprocess.run(command, cwd=project, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def add_release(datasets: Path, version: str) -> None:
    """Copy `sample` 1.1.0 as a new release."""
    target = datasets / "sample" / version
    shutil.copytree(datasets / "sample" / "1.1.0", target)
    descriptor = json.loads((target / "datapackage.json").read_text())
    descriptor["version"] = version
    (target / "datapackage.json").write_text(json.dumps(descriptor, indent=2) + "\n")


def test_build_catalog_refuses_an_invalid_latest_descriptor(project: Path) -> None:
    add_release(project / "datasets", "1.2.0")
    descriptor_path = project / "datasets" / "sample" / "1.2.0" / "datapackage.json"
    descriptor = json.loads(descriptor_path.read_text())
    descriptor["version"] = "1.2"
    descriptor_path.write_text(json.dumps(descriptor))
    with pytest.raises(PackageInvalid) as caught:
        build_catalog(project / "datasets", project)
    assert caught.value.message == "sample 1.2.0 has an invalid descriptor"
    errors = caught.value.details["report"]["errors"]
    assert [e["type"] for e in errors] == ["version-error"]


def test_build_catalog_outside_the_root(
    project: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    with pytest.raises(ValueError, match="outside the project root"):
        build_catalog(project / "datasets", tmp_path_factory.mktemp("elsewhere"))


# The command line ------------------------------------------------------------------------------


def test_cli_catalog_write_and_check(project: Path) -> None:
    datasets = str(project / "datasets")
    target = project / "datapackage.json"

    result = runner.invoke(app, ["catalog", "--check", "--datasets", datasets])
    assert result.exit_code == 1
    assert result.output == f"{target} is missing; run `opendata catalog` to write it\n"

    result = runner.invoke(app, ["catalog", "--datasets", datasets])
    assert result.exit_code == 0
    assert result.output == f"wrote {target}\n"
    assert (
        target.read_text()
        == json.dumps(build_catalog(project / "datasets", project), indent=2, ensure_ascii=False)
        + "\n"
    )

    result = runner.invoke(app, ["catalog", "--check", "--datasets", datasets])
    assert result.exit_code == 0
    assert result.output == f"{target} is up to date\n"

    add_release(project / "datasets", "1.2.0")
    result = runner.invoke(app, ["catalog", "--check", "--datasets", datasets])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0] == f"{target} is stale; run `opendata catalog` to rewrite it"
    assert '-      "path": "datasets/sample/1.1.0/data/places.csv",' in lines
    assert '+      "path": "datasets/sample/1.2.0/data/places.csv",' in lines


def test_cli_catalog_invalid_release(project: Path) -> None:
    add_release(project / "datasets", "1.2.0")
    (project / "datasets" / "sample" / "1.2.0" / "datapackage.json").write_text("{")
    result = runner.invoke(app, ["catalog", "--datasets", str(project / "datasets")])
    assert result.exit_code == 1
    assert result.output == (
        "error: sample 1.2.0 has an invalid descriptor; run `opendata validate`\n"
    )
    assert not (project / "datapackage.json").exists()


def test_root_catalog_sources_resolve_from_the_root() -> None:
    """Relative source paths point at files from where the root descriptor stands."""
    catalog = build_catalog(DATASETS, ROOT)
    relative = [
        source["path"]
        for resource in catalog["resources"]
        for source in resource.get("sources", [])
        if "://" not in source.get("path", "://")
    ]
    assert relative
    assert all((ROOT / path).is_file() for path in relative), relative


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["load", "/nonexistent/place"], "is neither a package folder nor a release folder"),
        (["load", "--database-url", "bogus://x"], "Can't load plugin: sqlalchemy.dialects:bogus"),
        (
            ["load", "--database-url", "postgresql+psycopg://postgres@127.0.0.1:1/none"],
            "the database did not answer",
        ),
    ],
    ids=["missing-folder", "unknown-database-kind", "database-not-answering"],
)
def test_load_reports_bad_input_without_a_traceback(args: list[str], message: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output
