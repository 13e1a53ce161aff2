"""A real HTTP server for end-to-end tests: uvicorn on 127.0.0.1, in a background thread.

The listening socket is bound (to a free port chosen by the kernel) before the application is
built, so the app's ``base_url`` names the port it is really served on and no other process can
take the port in between. Use it from a fixture::

    @pytest.fixture(scope="session")
    def live(flagship_url: str) -> Iterator[LiveServer]:
        with live_server(flagship_url) as server:
            yield server
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from api.config import Settings
from api.main import create_app

HOST = "127.0.0.1"
DATASETS = Path(__file__).resolve().parent.parent / "datasets"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0


@dataclass(frozen=True)
class LiveServer:
    """A running server: its base URL (no trailing slash) and the settings it was built with."""

    url: str
    port: int
    settings: Settings

    def __str__(self) -> str:
        return self.url


def _listening_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, 0))
    return sock


@contextmanager
def live_server(
    database_url: str, *, datasets_dir: Path = DATASETS, **overrides: Any
) -> Iterator[LiveServer]:
    """Serve the database at `database_url` over real HTTP until the block ends.

    :param overrides: further settings of the served app.
    """
    with closing(_listening_socket()) as sock:
        port = int(sock.getsockname()[1])
        base_url = f"http://{HOST}:{port}"
        settings = Settings(
            database_url=database_url, base_url=base_url, datasets_dir=datasets_dir, **overrides
        )
        config = uvicorn.Config(
            create_app(settings),
            lifespan="on",
            log_config=None,
            log_level="warning",
            access_log=False,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name=f"uvicorn-{port}", daemon=True
        )
        thread.start()
        try:
            _wait_until_started(server, thread)
            yield LiveServer(url=base_url, port=port, settings=settings)
        finally:
            server.should_exit = True
            thread.join(STOP_TIMEOUT)
        if thread.is_alive():
            raise RuntimeError(f"the server on {base_url} did not stop within {STOP_TIMEOUT} s")


def _wait_until_started(server: uvicorn.Server, thread: threading.Thread) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the server stopped while starting; see the captured log")
        if time.monotonic() > deadline:
            raise TimeoutError(f"the server did not start within {START_TIMEOUT} s")
        time.sleep(0.02)
