"""`opendata serve` as a real child process on a free port, for multi-process tests."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

HOST = "127.0.0.1"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 60.0
ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class ServeProcess:
    """A running `opendata serve`: its base URL, port and process."""

    url: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path  # what the server wrote to stdout and stderr


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def opendata_command() -> list[str]:
    """The `opendata` console script of the running interpreter's environment."""
    script = Path(sys.executable).parent / "opendata"
    if script.exists():
        return [str(script)]
    found = shutil.which("opendata")
    assert found, "the opendata command is not installed"
    return [found]


def wait_until_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Poll `/healthz` until it answers 200; fail when the process exits or never answers."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"opendata serve exited with {process.returncode}:\n{tail}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"opendata serve did not answer on {url} within {START_TIMEOUT} s")


@contextmanager
def opendata_serve(
    database_url: str,
    *,
    datasets_dir: Path,
    workers: int = 1,
    env: Mapping[str, str] | None = None,
) -> Iterator[ServeProcess]:
    """Run `opendata serve --workers N` against `database_url` until the block ends.

    No ``OPENDATA_BASE_URL`` unless `env` gives one: links follow the host each request names.
    """
    port = free_port()
    url = f"http://{HOST}:{port}"
    child_env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("OPENDATA_") and key != "PROMETHEUS_MULTIPROC_DIR"
    }
    child_env |= {
        "OPENDATA_DATABASE_URL": database_url,
        "OPENDATA_DATASETS_DIR": str(datasets_dir),
        **(env or {}),
    }
    command = [*opendata_command(), "serve", "--host", HOST, "--port", str(port)]
    command += ["--workers", str(workers)]
    log_dir = Path(tempfile.mkdtemp(prefix="opendata-serve-"))
    log = log_dir / "serve.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, cwd=ROOT, env=child_env, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        wait_until_healthy(url, process, log)
        yield ServeProcess(url=url, port=port, process=process, log=log)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(log_dir, ignore_errors=True)
