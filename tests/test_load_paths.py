"""Where a release's files may come from, and which folders `opendata load PATH` accepts.

A file reference that leaves the release folder (a symlink to a file or to `data/`, an absolute
path, `..`) or that is a URL is refused in validation: the release is reported, nothing of it is
read or fetched, what was published stays served, and the other releases still load.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from typer.testing import CliRunner

from api.cli import app
from api.config import Settings
from api.ingest.validate import flatten, validate_descriptor, validate_release
from api.main import create_app
from tests.builders import field, write_release
from tests.helpers import BASE_URL, DATASETS, FLAGSHIP, MakeDatabase

runner = CliRunner()
SCHEMA: dict[str, Any] = {"fields": [field("id", "integer"), field("label")], "primaryKey": ["id"]}
GOOD_CSV = "id,label\n1,one\n2,two\n"
SECRET_CSV = "id,label\n1,secret\n"
PINNED = ("/v1/datasets/pkg/1.0.0/items", "/v1/datasets/pkg/1.0.0/items.csv")
TOP = None
Breakage = Callable[[Path, dict[str, Any], Path], None]


def _point_file_outside(release: Path, _resource: dict[str, Any], outside: Path) -> None:
    (release / "data" / "items.csv").unlink()
    (release / "data" / "items.csv").symlink_to(outside / "items.csv")


def _point_data_dir_outside(release: Path, _resource: dict[str, Any], outside: Path) -> None:
    shutil.rmtree(release / "data")
    (release / "data").symlink_to(outside, target_is_directory=True)


def _absolute_path(_release: Path, resource: dict[str, Any], outside: Path) -> None:
    resource["path"] = str(outside / "items.csv")


def _dot_dot_path(_release: Path, resource: dict[str, Any], _outside: Path) -> None:
    resource["path"] = "../../../outside/items.csv"


def _hidden_dot_dot(_release: Path, resource: dict[str, Any], _outside: Path) -> None:
    resource["path"] = "data/../../../../outside/items.csv"


def _schema_outside(_release: Path, resource: dict[str, Any], outside: Path) -> None:
    (outside / "schema.json").write_text(json.dumps(SCHEMA))
    resource["schema"] = str(outside / "schema.json")


def _url(scheme: str) -> Breakage:
    def breakage(_release: Path, resource: dict[str, Any], outside: Path) -> None:
        resource["path"] = (
            f"file://{outside}/items.csv"
            if scheme == "file"
            else f"{scheme}://127.0.0.1:9/items.csv"
        )

    return breakage


def _symlink_loop(release: Path, _resource: dict[str, Any], _outside: Path) -> None:
    (release / "data" / "items.csv").unlink()
    (release / "data" / "items.csv").symlink_to("loop.csv")
    (release / "data" / "loop.csv").symlink_to("items.csv")


OUTSIDE_CASES: dict[str, Breakage] = {
    "symlinked-file": _point_file_outside,
    "symlinked-data-dir": _point_data_dir_outside,
    "absolute-path": _absolute_path,
    "dot-dot-path": _dot_dot_path,
    "dot-dot-inside-path": _hidden_dot_dot,
    "schema-outside": _schema_outside,
    "symlink-loop": _symlink_loop,
    "http-url": _url("http"),
    "https-url": _url("https"),
    "ftp-url": _url("ftp"),
    "file-url": _url("file"),
}


def _broken_release(datasets: Path, outside: Path, breakage: Breakage) -> Path:
    """`pkg 1.1.0` whose single resource is broken by `breakage`; the secret lies outside it."""
    outside.mkdir(exist_ok=True)
    (outside / "items.csv").write_text(SECRET_CSV)
    release = write_release(datasets, "pkg", "1.1.0", {"items": (SCHEMA, SECRET_CSV)})
    descriptor = json.loads((release / "datapackage.json").read_text())
    breakage(release, descriptor["resources"][0], outside)
    (release / "datapackage.json").write_text(json.dumps(descriptor, indent=2))
    return release


@pytest.mark.parametrize("case", sorted(OUTSIDE_CASES))
def test_reference_out_of_the_release_fails_validation(tmp_path: Path, case: str) -> None:
    release = _broken_release(tmp_path / "datasets", tmp_path / "outside", OUTSIDE_CASES[case])
    for outcome in (validate_descriptor(release), validate_release(release)):
        assert flatten(outcome) == [(TOP, None, None, "resource-path-error")]
        assert not outcome.valid
        message = outcome.report["errors"][0]["message"]
        assert 'resource "items"' in message, message


def test_release_whose_descriptor_is_a_symlink_out_fails_validation(tmp_path: Path) -> None:
    elsewhere = write_release(tmp_path / "elsewhere", "pkg", "1.1.0", {"items": (SCHEMA, GOOD_CSV)})
    release = write_release(tmp_path / "datasets", "pkg", "1.1.0", {"items": (SCHEMA, GOOD_CSV)})
    (release / "datapackage.json").unlink()
    (release / "datapackage.json").symlink_to(elsewhere / "datapackage.json")
    outcome = validate_release(release)
    assert flatten(outcome) == [(TOP, None, None, "resource-path-error")]
    assert "the descriptor" in outcome.report["errors"][0]["message"]


def test_symlink_that_stays_in_the_release_is_followed(tmp_path: Path) -> None:
    release = write_release(tmp_path / "datasets", "pkg", "1.0.0", {"items": (SCHEMA, GOOD_CSV)})
    (release / "files").mkdir()
    (release / "data" / "items.csv").rename(release / "files" / "items.csv")
    (release / "data" / "items.csv").symlink_to(Path("..") / "files" / "items.csv")
    assert validate_release(release).valid
    assert validate_descriptor(release).valid


def test_release_folder_that_is_a_symlink_is_read_where_it_points(tmp_path: Path) -> None:
    elsewhere = write_release(tmp_path / "disk", "pkg", "1.0.0", {"items": (SCHEMA, GOOD_CSV)})
    (tmp_path / "datasets" / "pkg").mkdir(parents=True)
    (tmp_path / "datasets" / "pkg" / "1.0.0").symlink_to(elsewhere, target_is_directory=True)
    assert validate_release(tmp_path / "datasets" / "pkg" / "1.0.0").valid


async def _pinned_pages(url: str, datasets: Path) -> dict[str, tuple[int, bytes]]:
    app_ = create_app(Settings(database_url=url, base_url=BASE_URL, datasets_dir=datasets))
    transport = httpx.ASGITransport(app=app_)
    pages = {}
    async with (
        app_.router.lifespan_context(app_),
        httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http,
    ):
        for path in (*PINNED, "/v1/datasets/pkg/1.1.0/items", "/v1/datasets/other/1.0.0/items"):
            response = await http.get(path)
            pages[path] = (response.status_code, response.content)
    return pages


def _cli_load(url: str, datasets: Path) -> Any:
    return runner.invoke(
        app, ["load", "--quiet", "--database-url", url, "--datasets", str(datasets)]
    )


@pytest.mark.parametrize("case", ["symlinked-file", "symlinked-data-dir", "http-url", "file-url"])
def test_load_refuses_the_release_and_keeps_serving_what_was_published(
    backend: str, make_database: MakeDatabase, tmp_path: Path, case: str
) -> None:
    url = make_database(backend)
    datasets = tmp_path / "datasets"
    write_release(datasets, "pkg", "1.0.0", {"items": (SCHEMA, GOOD_CSV)})
    first = _cli_load(url, datasets)
    assert first.exit_code == 0, first.output
    before = anyio.run(_pinned_pages, url, datasets)
    _broken_release(datasets, tmp_path / "outside", OUTSIDE_CASES[case])
    write_release(datasets, "other", "1.0.0", {"items": (SCHEMA, GOOD_CSV)})
    result = _cli_load(url, datasets)
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert "loaded   other 1.0.0  2 rows" in lines
    assert "present  pkg 1.0.0  (already loaded, unchanged)" in lines
    assert "refused  pkg 1.1.0: invalid, 1 error(s)" in lines
    assert "outside the release folder" in result.output or "is a URL" in result.output
    after = anyio.run(_pinned_pages, url, datasets)
    assert after[PINNED[0]] == before[PINNED[0]]
    assert after[PINNED[1]] == before[PINNED[1]]
    assert after["/v1/datasets/pkg/1.1.0/items"][0] == 404
    assert after["/v1/datasets/other/1.0.0/items"][0] == 200
    assert b"secret" not in b"".join(body for _status, body in after.values())


# Which folders `opendata load PATH` and `opendata validate PATH` accept --------------------------


def test_load_of_a_datasets_folder_loads_every_package(
    backend: str, make_database: MakeDatabase, tmp_path: Path
) -> None:
    url = make_database(backend)
    root = tmp_path / "elsewhere"
    write_release(root, "alpha", "1.0.0", {"items": (SCHEMA, GOOD_CSV)})
    write_release(root, "alpha", "1.1.0", {"items": (SCHEMA, GOOD_CSV + "3,three\n")})
    write_release(root, "beta", "0.1.0", {"items": (SCHEMA, GOOD_CSV)})
    (root / "notes").mkdir()  # a folder with no release in it is not a package: passed over
    empty = tmp_path / "empty"
    empty.mkdir()
    result = runner.invoke(
        app, ["load", "--quiet", "--database-url", url, "--datasets", str(empty), str(root)]
    )
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[:3] == [
        "loaded   alpha 1.0.0  2 rows",
        "loaded   alpha 1.1.0  3 rows",
        "loaded   beta 0.1.0  2 rows",
    ]


def test_validate_of_a_datasets_folder_validates_every_package() -> None:
    result = runner.invoke(app, ["validate", str(DATASETS)])
    assert result.exit_code == 0, result.output
    verdicts = [line.split("  ")[:2] for line in result.output.splitlines()]
    assert verdicts == [
        [f"{FLAGSHIP} {version}", "VALID"]
        for version in ("1.0.0", "1.1.0", "1.2.0", "1.3.0", "1.3.1")
    ]


@pytest.mark.parametrize("command", ["load", "validate"])
@pytest.mark.parametrize("content", ["nothing", "files", "folders"])
def test_folder_holding_no_release_is_an_error(tmp_path: Path, command: str, content: str) -> None:
    folder = tmp_path / "somewhere"
    folder.mkdir()
    if content == "files":
        (folder / "notes.txt").write_text("hello\n")
    if content == "folders":
        (folder / "drafts" / "ideas").mkdir(parents=True)
    args = [command, str(folder)]
    if command == "load":
        args[1:1] = ["--database-url", f"sqlite:///{tmp_path / 'db.sqlite'}"]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert "holds no release" in text, text
    assert "neither a release folder (with datapackage.json), a package folder" in text
