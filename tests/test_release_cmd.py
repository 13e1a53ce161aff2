"""`opendata diff` and `opendata release` on a copy of the diffpkg fixture."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from typer.testing import CliRunner

from api.cli import app
from api.db.engine import writer_engine
from api.ingest.discover import find_releases
from api.ingest.load import ReleaseLoader
from api.ingest.release import SEALING_NAME
from api.ingest.validate import validate_release
from tests.builders import field, write_release

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "diffpkg"
RUNNER = CliRunner()


@pytest.fixture
def datasets(tmp_path: Path) -> Path:
    """A datasets folder holding a copy of the diffpkg releases and changelog."""
    target = tmp_path / "datasets"
    shutil.copytree(
        FIXTURE, target / "diffpkg", ignore=shutil.ignore_patterns("*.py", "__pycache__")
    )
    return target


def run(datasets: Path, *args: str) -> Result:
    return RUNNER.invoke(app, [*args, "--datasets", str(datasets)], env={"COLUMNS": "100"})


def lines(result: Result) -> list[str]:
    return [line.rstrip() for line in result.output.splitlines()]


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def sha256(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


# diff ------------------------------------------------------------------------------------------


def test_diff_prints_counts_changes_and_the_bump(datasets: Path) -> None:
    result = run(datasets, "diff", "diffpkg", "1.1.0", "1.1.1")
    assert result.exit_code == 0
    assert lines(result) == [
        "diffpkg 1.1.0 -> 1.1.1",
        "no schema or metadata changes",
        " resource  status    added  removed  changed  unchanged",
        " figures   compared  0      1        1        5",
        " regions   compared  0      0        0        3",
        " events    compared  0      0        0        3",
        " sources   compared  0      0        0        2",
        "required bump: patch   declared: patch (1.1.0 -> 1.1.1)   ok",
    ]


def test_diff_of_one_resource_up_to_latest(datasets: Path) -> None:
    result = run(datasets, "diff", "diffpkg", "1.1.1", "latest", "--resource", "sources")
    assert result.exit_code == 0
    assert lines(result) == [
        "diffpkg 1.1.1 -> 2.0.0  (resource sources)",
        " bump   schema or metadata change",
        " major  primary key of resource 'sources' changed from [\"source_id\"] to"
        ' ["source_id", "lang"]',
        " minor  field 'lang' added to resource 'sources'",
        " resource  status          added  removed  changed  unchanged",
        " sources   not comparable",
        '  sources: rows not compared, its primary key changed from ["source_id"] to'
        ' ["source_id", "lang"]',
        "required bump: major   declared: major (1.1.1 -> 2.0.0)   ok",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("diffpkg", "1.0.0", "9.9.9"),
            "refused: diffpkg has no release '9.9.9' (releases: 1.0.0, 1.1.0, 1.1.1, 2.0.0)",
        ),
        (
            ("diffpkg", "1.0.0", "1.1.0", "--resource", "nope"),
            "refused: no resource 'nope' (resources: figures, regions, events, sources)",
        ),
    ],
)
def test_diff_refuses_unknown_names(datasets: Path, args: tuple[str, ...], message: str) -> None:
    result = run(datasets, "diff", *args)
    assert (result.exit_code, lines(result)) == (1, [message])


def test_diff_refuses_an_unknown_package(datasets: Path) -> None:
    result = run(datasets, "diff", "nopkg", "1.0.0", "1.1.0")
    assert (result.exit_code, lines(result)) == (
        1,
        [f"refused: no package folder {datasets / 'nopkg'}"],
    )


# release: scaffold -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "version", "bump"),
    [
        ((), "2.1.0", "minor"),
        (("--bump", "major"), "3.0.0", "major"),
        (("--bump", "patch"), "2.0.1", "patch"),
    ],
)
def test_scaffold_copies_the_latest_release(
    datasets: Path, args: tuple[str, ...], version: str, bump: str
) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    result = run(datasets, "release", "diffpkg", *args)
    assert result.exit_code == 0
    folder = datasets / "diffpkg" / version
    assert lines(result) == [
        f"created {folder} from 2.0.0 ({bump} release)",
        "next:",
        "  1. edit the data files: data/figures.csv, data/regions.csv, data/sources.csv",
        "  2. edit datapackage.json: description, schemas, sources (version and created",
        "     are set; bytes and hash are left out until the release is sealed)",
        "  3. opendata release diffpkg --seal",
    ]
    source = datasets / "diffpkg" / "2.0.0"
    copied = read_json(folder / "datapackage.json")
    original = read_json(source / "datapackage.json")
    created = datetime.fromisoformat(copied.pop("created").replace("Z", "+00:00"))
    assert before <= created <= before + timedelta(minutes=1)
    assert copied.pop("version") == version
    del original["created"], original["version"]
    for resource in original["resources"]:
        del resource["bytes"], resource["hash"]
    assert copied == original
    for name in ("figures", "regions", "sources"):
        path = f"data/{name}.csv"
        assert (folder / path).read_bytes() == (source / path).read_bytes()
    assert not validate_release(folder).valid


def test_scaffold_refuses_while_the_newest_folder_is_unsealed(datasets: Path) -> None:
    assert run(datasets, "release", "diffpkg").exit_code == 0
    result = run(datasets, "release", "diffpkg", "--bump", "major")
    assert (result.exit_code, lines(result)) == (
        1,
        [
            "refused: diffpkg 2.1.0 is not sealed yet: edit it and run `opendata release diffpkg"
            f" --seal`, or delete {datasets / 'diffpkg' / '2.1.0'}"
        ],
    )
    assert not (datasets / "diffpkg" / "3.0.0").exists()


# release --seal --------------------------------------------------------------------------------


def edit(folder: Path, resource: str, change: Any) -> None:
    """Rewrite a resource's CSV text with `change(text)`."""
    path = folder / "data" / f"{resource}.csv"
    path.write_text(change(path.read_text(encoding="utf-8")), encoding="utf-8")


def edit_descriptor(folder: Path, change: Any) -> None:
    path = folder / "datapackage.json"
    descriptor = read_json(path)
    change(descriptor)
    path.write_text(json.dumps(descriptor, indent=2) + "\n", encoding="utf-8")


def test_seal_writes_hashes_validates_and_adds_a_changelog_entry(
    datasets: Path, tmp_path: Path
) -> None:
    assert run(datasets, "release", "diffpkg").exit_code == 0
    folder = datasets / "diffpkg" / "2.1.0"
    edit(folder, "figures", lambda text: text + "d-4,north,5,2025-09-02,,s1\n")
    edit_descriptor(folder, lambda d: d.update(description="Figures by region, September."))
    changelog = (datasets / "diffpkg" / "CHANGELOG.md").read_text(encoding="utf-8")
    result = run(datasets, "release", "diffpkg", "--seal")
    assert result.exit_code == 0, result.output
    assert lines(result) == [
        "diffpkg 2.0.0 -> 2.1.0",
        " bump   schema or metadata change",
        " patch  'description' of the package edited",
        " resource  status    added  removed  changed  unchanged",
        " figures   compared  1      0        0        6",
        " regions   compared  0      0        0        3",
        " sources   compared  0      0        0        2",
        "required bump: minor   declared: minor (2.0.0 -> 2.1.0)   ok",
        "sealed diffpkg 2.1.0: bytes and hash written for figures, regions, sources",
        f"changelog entry added to {datasets / 'diffpkg' / 'CHANGELOG.md'}",
    ]
    descriptor = read_json(folder / "datapackage.json")
    for resource in descriptor["resources"]:
        path = folder / resource["path"]
        assert (resource["bytes"], resource["hash"]) == (path.stat().st_size, sha256(path))
    assert list(descriptor["resources"][0])[:9] == [
        "name",
        "title",
        "path",
        "format",
        "mediatype",
        "encoding",
        "bytes",
        "hash",
        "schema",
    ]
    assert validate_release(folder).valid
    assert not (folder / SEALING_NAME).exists()
    day = descriptor["created"][:10]
    header, rest = changelog.split("\n\n", 1)
    assert (datasets / "diffpkg" / "CHANGELOG.md").read_text(encoding="utf-8") == (
        f"{header}\n\n## 2.1.0 — {day}\n\n1 row added to resource 'figures'; 1 metadata edit.\n\n"
        + rest
    )
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    engine = writer_engine(url)
    summary = ReleaseLoader(engine, quiet=True).load_all(find_releases(datasets))
    engine.dispose()
    assert summary.ok and ("diffpkg", "2.1.0", 12) in summary.loaded

    again = run(datasets, "release", "diffpkg", "--seal")
    assert again.exit_code == 0
    assert lines(again)[-1] == "diffpkg 2.1.0 is already sealed; nothing to write"
    edit(folder, "regions", lambda text: text.replace("West", "Western"))
    resealed = run(datasets, "release", "diffpkg", "--seal")
    assert resealed.exit_code == 0
    assert lines(resealed)[-2:] == [
        "warning: this release was sealed before with other files; never re-seal a published"
        " release: cut a new version instead",
        "sealed diffpkg 2.1.0: bytes and hash written for regions",
    ]


def drop_value(descriptor: dict[str, Any]) -> None:
    schema = descriptor["resources"][0]["schema"]
    schema["fields"] = [f for f in schema["fields"] if f["name"] != "value"]


def without_value_column(text: str) -> str:
    rows = [line.split(",") for line in text.splitlines()]
    return "".join(",".join(row[:2] + row[3:]) + "\n" for row in rows)


REFUSALS = [
    pytest.param(
        lambda folder: (
            edit_descriptor(folder, drop_value),
            edit(folder, "figures", without_value_column),
        ),
        [
            "diffpkg 2.0.0 -> 2.1.0",
            " bump   schema or metadata change",
            " major  field 'value' removed from resource 'figures'",
            " resource  status    added  removed  changed  unchanged",
            " figures   compared  0      0        0        6",
            " regions   compared  0      0        0        3",
            " sources   compared  0      0        0        2",
            "required bump: major   declared: minor (2.0.0 -> 2.1.0)   too small",
            "refused: field 'value' removed from resource 'figures' requires a major release; 2.1.0"
            " declares minor; cut it as 3.0.0 instead (folder name and version)",
        ],
        id="field-removed-under-minor",
    ),
    pytest.param(
        lambda folder: edit(folder, "figures", lambda t: t.replace("A-1,north,10", "A-1,north,-5")),
        [
            " resource  row  field  type              message",
            ' figures   2    value  constraint-error  The cell "-5" in row at position "2" and'
            ' field "value" at',
            '                                         position "3" does not conform to a'
            " constraint: constraint",
            '                                         "minimum" is "1"',
            "refused: diffpkg 2.1.0 is invalid",
        ],
        id="invalid-data",
    ),
    pytest.param(
        lambda folder: edit_descriptor(folder, lambda d: d.update(version="2.2.0")),
        [
            "refused: {folder}/datapackage.json declares version '2.2.0' in a folder named"
            " '2.1.0'; they must match"
        ],
        id="version-mismatch",
    ),
]


@pytest.mark.parametrize(("change", "expected"), REFUSALS)
def test_seal_refuses_and_leaves_the_descriptor_untouched(
    datasets: Path, change: Any, expected: list[str]
) -> None:
    assert run(datasets, "release", "diffpkg").exit_code == 0
    folder = datasets / "diffpkg" / "2.1.0"
    change(folder)
    descriptor = (folder / "datapackage.json").read_bytes()
    changelog = (datasets / "diffpkg" / "CHANGELOG.md").read_bytes()
    result = run(datasets, "release", "diffpkg", "--seal")
    assert result.exit_code == 1
    assert lines(result) == [line.replace("{folder}", str(folder)) for line in expected]
    assert (folder / "datapackage.json").read_bytes() == descriptor
    assert (datasets / "diffpkg" / "CHANGELOG.md").read_bytes() == changelog
    assert not (folder / SEALING_NAME).exists()


def test_seal_takes_no_bump(datasets: Path) -> None:
    result = run(datasets, "release", "diffpkg", "--seal", "--bump", "patch")
    assert (result.exit_code, lines(result)) == (
        2,
        ["error: --seal takes the version from the folder; drop --bump"],
    )


def test_seal_a_first_release_starts_the_changelog(datasets: Path) -> None:
    schema = {"fields": [field("id", "integer"), field("name")], "primaryKey": ["id"]}
    folder = write_release(datasets, "solo", "1.0.0", {"items": (schema, "id,name\n1,one\n")})
    edit_descriptor(folder, lambda d: [r.pop("hash") for r in d["resources"]])
    result = run(datasets, "release", "solo", "--seal")
    assert result.exit_code == 0, result.output
    assert lines(result) == [
        "sealed solo 1.0.0: bytes and hash written for items",
        f"changelog entry added to {datasets / 'solo' / 'CHANGELOG.md'}",
    ]
    assert (datasets / "solo" / "CHANGELOG.md").read_text(encoding="utf-8") == (
        "# Changelog: solo\n\n## 1.0.0 — 2025-01-01\n\nFirst release.\n"
    )
    assert validate_release(folder).valid


def test_seal_of_a_sealed_release_writes_nothing(datasets: Path) -> None:
    before = {p: p.read_bytes() for p in sorted((datasets / "diffpkg").rglob("*")) if p.is_file()}
    result = run(datasets, "release", "diffpkg", "--seal")
    assert result.exit_code == 0
    assert lines(result)[-2:] == [
        "required bump: major   declared: major (1.1.1 -> 2.0.0)   ok",
        "diffpkg 2.0.0 is already sealed; nothing to write",
    ]
    after = {p: p.read_bytes() for p in sorted((datasets / "diffpkg").rglob("*")) if p.is_file()}
    assert after == before


# The fixture -----------------------------------------------------------------------------------


def test_fixture_matches_its_generator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = importlib.util.spec_from_file_location("make_diffpkg", FIXTURE / "make.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    module.build(tmp_path)

    def tree(base: Path) -> dict[str, bytes]:
        return {
            str(p.relative_to(base)): p.read_bytes()
            for p in sorted(base.rglob("*"))
            if p.is_file() and p.suffix != ".py" and "__pycache__" not in p.parts
        }

    assert tree(tmp_path) == tree(FIXTURE)
    assert all(validate_release(ref.path).valid for ref in find_releases(FIXTURE.parent, [FIXTURE]))
