"""The Dockerfile's build steps, run as written in a fresh virtual environment (no Docker here).

Slow (a full `pip install` at the versions of constraints.txt, then a load): it runs when
OPENDATA_TEST_IMAGE=1, which `.ci/run` sets, and is skipped otherwise.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from tests.dockerfile import Stage, env_pairs, parse_dockerfile, reroot, run_stage
from tests.serve_process import HOST, free_port, wait_until_healthy

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
BROKEN = ROOT / "tests" / "broken" / "minimum-violated"
GATE = "OPENDATA_TEST_IMAGE"
# The local pip cache stands in for the image's network downloads; nothing else is changed.
DROPPED_ENV = frozenset({"PIP_NO_CACHE_DIR"})

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        os.environ.get(GATE) != "1", reason=f"{GATE}=1 runs the image build steps (.ci/run sets it)"
    ),
]


@dataclass(frozen=True)
class Built:
    """The build stage played under `root`: its environment and every RUN's result."""

    root: Path
    env: dict[str, str]
    stages: list[Stage]


def _base_env() -> dict[str, str]:
    # `python` on PATH is this interpreter, a 3.11 like the image's; no OPENDATA_* leaks in.
    path = f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin"
    return {"PATH": path, "HOME": os.environ.get("HOME", "/root"), "LANG": "C.UTF-8"}


def _stage(stages: list[Stage], name: str) -> Stage:
    return next(stage for stage in stages if stage.name == name)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    stages = parse_dockerfile(DOCKERFILE)
    root = tmp_path_factory.mktemp("image")
    env = _base_env()
    results = run_stage(
        _stage(stages, "build"), context=ROOT, root=root, env=env, drop_env=DROPPED_ENV
    )
    for done in results:
        assert done.returncode == 0, f"RUN {done.args[-1]}\n{done.stdout}\n{done.stderr}"
    yield Built(root=root, env=env, stages=stages)
    shutil.rmtree(root, ignore_errors=True)


def test_build_stage_loads_every_release(built: Built) -> None:
    database = built.root / "src" / "var" / "opendata.sqlite"
    engine = sa.create_engine(f"sqlite:///{database}")
    with engine.connect() as connection:
        releases = connection.exec_driver_sql("SELECT count(*) FROM od_releases").scalar_one()
    engine.dispose()
    expected = sum(1 for _ in (ROOT / "datasets").glob("*/*/datapackage.json"))
    assert releases == expected > 0


def test_runtime_stage_serves_what_the_build_stage_made(built: Built) -> None:
    """Every COPY --from=build source exists, and the copied venv serves the loaded file."""
    runtime = _stage(built.stages, "runtime")
    for argument in runtime.arguments("COPY"):
        words = shlex.split(argument)
        assert "--from=build" in words, argument
        source = [w for w in words if not w.startswith("--")][0]
        assert Path(reroot(source, built.root)).exists(), source
    env = _base_env()
    for argument in runtime.arguments("ENV"):
        for key, value in env_pairs(argument):
            env[key] = value.replace("$PATH", env["PATH"])
    env |= {
        "PATH": f"{built.root / 'opt' / 'venv' / 'bin'}:{env['PATH']}",
        "OPENDATA_DATABASE_URL": f"sqlite:///{built.root / 'src' / 'var' / 'opendata.sqlite'}",
        "OPENDATA_DATASETS_DIR": str(built.root / "src" / "datasets"),
        "OPENDATA_WORKERS": "1",
    }
    port = free_port()
    command = [HOST if c == "0.0.0.0" else c for c in json.loads(runtime.arguments("CMD")[0])]
    command[command.index("8000")] = str(port)
    log = built.root / "serve.log"
    with log.open("wb") as output:
        process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        url = f"http://{HOST}:{port}"
        wait_until_healthy(url, process, log)
        ready = httpx.get(f"{url}/readyz")
        assert ready.status_code == 200
        assert ready.json()["status"] == "ready"
        assert httpx.get(f"{url}/").status_code == 200
        assert httpx.get(f"{url}/docs").status_code == 200
    finally:
        process.terminate()
        process.wait(60)


def test_an_invalid_package_fails_the_load_step(built: Built, tmp_path: Path) -> None:
    build = _stage(built.stages, "build")
    load_step = next(a for a in build.arguments("RUN") if '/opendata" load' in a)
    workdir = tmp_path / "src"
    shutil.copytree(BROKEN, workdir / "datasets")

    done = subprocess.run(
        ["sh", "-c", load_step], cwd=workdir, env=built.env, capture_output=True, text=True
    )
    assert done.returncode != 0
    assert "refused" in done.stdout + done.stderr
