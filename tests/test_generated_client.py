"""A client generated from /openapi.json by openapi-python-client, used against a live server.

The generator is installed from PyPI into its own virtual environment (its pins would otherwise
move this project's httpx and typer); the client it writes is imported here and called over real
HTTP. Its typed answers are checked against the released CSV of the flagship package.
"""

from __future__ import annotations

import csv
import importlib
import io
import os
import shutil
import subprocess
import sys
import venv
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from tests.helpers import DATASETS, FLAGSHIP, load_releases
from tests.live import LiveServer, live_server

GENERATOR = "openapi-python-client>=0.29,<0.30"
PACKAGE = "flagship_client"
# Media types the generator has no reader for, read as the kind of body they are.
CONFIG = """content_type_overrides:
  application/x-ndjson: text/plain
  application/zip: application/octet-stream
  application/vnd.openxmlformats-officedocument.spreadsheetml.sheet: application/octet-stream
"""
ROWS = f"{PACKAGE}.api.{FLAGSHIP.replace('-', '_')}"


def _released(version: str, resource: str) -> list[dict[str, str]]:
    path = DATASETS / FLAGSHIP / version / "data" / f"{resource}.csv"
    with path.open(encoding="utf-8", newline="") as file:
        return list(csv.DictReader(file))


def _latest_version() -> str:
    releases = [p.name for p in (DATASETS / FLAGSHIP).iterdir() if p.name[:1].isdigit()]
    return max(releases, key=lambda v: tuple(int(part) for part in v.split(".")))


@pytest.fixture(scope="session")
def generator(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The `openapi-python-client` command, installed from PyPI into a venv of its own."""
    where = tmp_path_factory.mktemp("generator")
    venv.create(where, with_pip=True)
    pip = [str(where / "bin" / "python"), "-m", "pip", "install", "--quiet", GENERATOR]
    done = subprocess.run(pip, capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        pytest.fail(f"could not install {GENERATOR} from the package index: {done.stderr[-2000:]}")
    return where / "bin" / "openapi-python-client"


def _generate(command: Path, document: bytes, into: Path) -> ModuleType:
    """Write the client of `document` under `into` and import it."""
    spec = into / "openapi.json"
    spec.write_bytes(document)
    config = into / "config.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    target = into / PACKAGE
    generate = [str(command), "generate", "--path", str(spec), "--output-path", str(target)]
    generate += ["--config", str(config), "--meta", "none", "--overwrite", "--fail-on-warning"]
    env = {**os.environ, "PATH": f"{command.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run(generate, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    sys.path.insert(0, str(into))
    for name in [m for m in sys.modules if m == PACKAGE or m.startswith(f"{PACKAGE}.")]:
        del sys.modules[name]
    return importlib.import_module(PACKAGE)


@pytest.fixture(scope="module")
def live(flagship_url: str) -> Iterator[LiveServer]:
    with live_server(flagship_url) as server:
        yield server


@pytest.fixture(scope="module")
def client_package(
    generator: Path, live: LiveServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ModuleType]:
    into = tmp_path_factory.mktemp("client")
    document = httpx.get(f"{live.url}/openapi.json").raise_for_status().content
    yield _generate(generator, document, into)
    sys.path.remove(str(into))


def _module(name: str) -> Any:
    return importlib.import_module(f"{ROWS}.{name}")


def test_a_filtered_page_is_a_typed_page_of_the_released_rows(
    client_package: ModuleType, live: LiveServer
) -> None:
    latest = _latest_version()
    client = client_package.Client(base_url=live.url, raise_on_unexpected_status=True)
    figures = _module("rows_cambodia_scam_crackdown_figures")
    qualifier = client_package.models.RowsCambodiaScamCrackdownFiguresQualifier("more_than")
    page = figures.sync(version="latest", client=client, qualifier=qualifier, field_size=1000)
    assert type(page).__name__ == "CambodiaScamCrackdownFiguresPage"
    assert page.version == latest
    expected = [r for r in _released(latest, "figures") if r["qualifier"] == "more_than"]
    assert page.total == len(expected) > 0
    assert page.total_is_exact is True
    by_id = {row.figure_id: row for row in page.rows}
    assert sorted(by_id) == sorted(r["figure_id"] for r in expected)
    for released in expected:
        row = by_id[released["figure_id"]]
        assert type(row).__name__ == "ReportedFigures"
        assert row.value == int(released["value"])  # typed: an int, not text
        assert row.as_of_date.isoformat() == released["as_of_date"]  # a date
        assert row.qualifier.value == "more_than"  # an enum member
        assert (row.nationality or "") == released["nationality"]
    # This client sends a list as repeated keys (whatever `explode` says); repeated `__in`
    # lists join, so it gets the rows of either value, as openapi-generator's joined list does.
    at_least = client_package.models.RowsCambodiaScamCrackdownFiguresQualifier("at_least")
    either = [qualifier, at_least]
    both = figures.sync(version="latest", client=client, qualifier_in=either, field_size=0)
    wanted = {"more_than", "at_least"}
    assert both.total == sum(r["qualifier"] in wanted for r in _released(latest, "figures")) > 0


def test_one_row_by_key_is_the_released_row(client_package: ModuleType, live: LiveServer) -> None:
    latest = _latest_version()
    released = _released(latest, "metrics")[0]
    client = client_package.Client(base_url=live.url, raise_on_unexpected_status=True)
    one = _module("row_cambodia_scam_crackdown_metrics")
    found = one.sync(version=latest, key=released["code"], client=client)
    assert (found.package, found.version, found.resource) == (FLAGSHIP, latest, "metrics")
    assert found.row.code == released["code"]
    assert found.row.label == released["label"]
    assert found.row.unit.value == released["unit"]
    missing = one.sync_detailed(version=latest, key="no_such_metric", client=client)
    assert missing.status_code == 404
    assert type(missing.parsed).__name__ == "Problem"
    assert missing.parsed.status == 404


def test_a_csv_export_is_the_released_file(client_package: ModuleType, live: LiveServer) -> None:
    latest = _latest_version()
    client = client_package.Client(base_url=live.url, raise_on_unexpected_status=True)
    export = _module("rows_cambodia_scam_crackdown_provinces_csv")
    province = client_package.models.RowsCambodiaScamCrackdownProvincesCsvType("province")
    answer = export.sync_detailed(version=latest, client=client, type_=province)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.content.decode("utf-8"))))
    expected = [r for r in _released(latest, "provinces") if r["type"] == "province"]
    assert sorted(rows, key=lambda r: r["code"]) == sorted(expected, key=lambda r: r["code"])
    with pytest.raises(TypeError):  # `_size` is for JSON pages: the CSV operation has none
        export.sync_detailed(version=latest, client=client, field_size=5)


def test_a_client_reaches_a_release_added_after_it_was_generated(
    generator: Path,
    make_database: Any,
    backend: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    # A client is generated while 1.0.0 alone is loaded; 1.1.0 is loaded afterwards. Versions
    # are a pattern, not an enum, so the same client asks for the new release by its number.
    datasets = tmp_path_factory.mktemp("datasets")
    (datasets / FLAGSHIP).mkdir()
    for version in ("1.0.0", "1.1.0"):
        shutil.copytree(DATASETS / FLAGSHIP / version, datasets / FLAGSHIP / version)
    later = datasets / FLAGSHIP / "1.1.0"
    hidden = datasets.parent / f"{datasets.name}-later"
    later.rename(hidden)
    url = make_database(backend)
    load_releases(url, datasets)
    with live_server(url, datasets_dir=datasets) as server:
        document = httpx.get(f"{server.url}/openapi.json").raise_for_status().content
        into = tmp_path_factory.mktemp("old-client")
        package = _generate(generator, document, into)
        try:
            hidden.rename(later)
            load_releases(url, datasets)
            client = package.Client(base_url=server.url, raise_on_unexpected_status=True)
            reports = _module("rows_cambodia_scam_crackdown_reports")
            page = reports.sync(version="1.1.0", client=client, field_size=1)
            assert page.version == "1.1.0"
            assert page.total == len(_released("1.1.0", "reports"))
            newest = reports.sync(version="latest", client=client, field_size=1)
            assert newest.version == "1.1.0"
        finally:
            sys.path.remove(str(into))


# openapi-generator's own Python client: its PyPI package carries the generator's jar, which
# runs on the machine's Java.
OPENAPI_GENERATOR = "openapi-generator-cli>=7.14,<8"
OG_PACKAGE = "flagship_og"


@pytest.fixture(scope="module")
def og_package(live: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    if shutil.which("java") is None:
        pytest.skip("openapi-generator needs Java on PATH")
    where = tmp_path_factory.mktemp("openapi-generator")
    venv.create(where / "venv", with_pip=True)
    pip = [str(where / "venv" / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    done = subprocess.run([*pip, OPENAPI_GENERATOR], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.fail(f"could not install {OPENAPI_GENERATOR}: {done.stderr[-2000:]}")
    spec = where / "openapi.json"
    spec.write_bytes(httpx.get(f"{live.url}/openapi.json").raise_for_status().content)
    command = [str(where / "venv" / "bin" / "openapi-generator-cli"), "generate", "-g", "python"]
    command += ["-i", str(spec), "-o", str(where / "out"), "--package-name", OG_PACKAGE]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    sys.path.insert(0, str(where / "out"))
    yield importlib.import_module(OG_PACKAGE)
    sys.path.remove(str(where / "out"))


def test_openapi_generator_client_reads_typed_pages_and_rows(
    og_package: ModuleType, live: LiveServer
) -> None:
    latest = _latest_version()
    configuration = og_package.Configuration(host=live.url)
    with og_package.ApiClient(configuration) as api_client:
        api = og_package.CambodiaScamCrackdownApi(api_client)
        page = api.rows_cambodia_scam_crackdown_figures(
            version="latest", qualifier="more_than", size=1000
        )
        assert type(page).__name__ == "CambodiaScamCrackdownFiguresPage"
        expected = {r["figure_id"]: r for r in _released(latest, "figures")}
        assert page.total == sum(r["qualifier"] == "more_than" for r in expected.values())
        for row in page.rows:
            assert row.value == int(expected[row.figure_id]["value"])
            assert row.as_of_date.isoformat() == expected[row.figure_id]["as_of_date"]
        either = api.rows_cambodia_scam_crackdown_figures(
            version="latest", qualifier__in=["more_than", "at_least"], size=0
        )  # a typed list, sent comma-joined as `style: form, explode: false` says
        wanted = {"more_than", "at_least"}
        assert either.total == sum(r["qualifier"] in wanted for r in expected.values())
        released = _released(latest, "metrics")[0]
        one = api.row_cambodia_scam_crackdown_metrics(version=latest, key=released["code"])
        assert type(one).__name__ == "CambodiaScamCrackdownMetricsRecord"
        assert (one.row.code, one.row.label) == (released["code"], released["label"])
