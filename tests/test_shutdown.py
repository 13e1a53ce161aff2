"""Graceful shutdown: on SIGTERM a running export finishes, and new connections are refused."""

from __future__ import annotations

import signal
import socket
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.db.engine import writer_engine
from api.ingest.discover import find_releases
from api.ingest.load import ReleaseLoader
from tests.builders import field, write_release
from tests.serve_process import HOST, opendata_serve

# Far more than the kernel's socket buffers hold, so the export is still being written when the
# signal arrives: the client reads one chunk, then the server has to wait for it.
ROW_COUNT = 400_000
SCHEMA: dict[str, Any] = {
    "fields": [field("id", "integer"), field("label")],
    "primaryKey": ["id"],
}
EXPORT = "/v1/datasets/big/1.0.0/items.csv"
REFUSED_WITHIN = 30.0
SORTED = {"_sort": "-id"}  # sorted: streamed from a cursor, not the stored file
IDENTITY = {"Accept-Encoding": "identity"}
# uvicorn drains, then ends the process by the signal it caught, as an orchestrator expects.
STOPPED_BY_SIGTERM = (0, -signal.SIGTERM)


def _document() -> str:
    lines = [f"{n},row {n:09d} of the export that is being written" for n in range(ROW_COUNT)]
    return "\r\n".join(["id,label", *lines]) + "\r\n"


def _refuses_connections(port: int) -> bool:
    try:
        socket.create_connection((HOST, port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


@pytest.fixture(scope="module")
def loaded(
    backend: str, make_database: Any, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, Path, str]:
    """A database holding one large release: (url, datasets folder, the CSV document)."""
    document = _document()
    datasets = tmp_path_factory.mktemp("shutdown") / "datasets"
    write_release(datasets, "big", "1.0.0", {"items": (SCHEMA, document)})
    url = make_database(backend)
    engine = writer_engine(url)
    try:
        assert ReleaseLoader(engine, quiet=True).load_all(find_releases(datasets)).ok
    finally:
        engine.dispose()
    return url, datasets, document


@pytest.mark.slow
def test_export_finishes_after_sigterm(loaded: tuple[str, Path, str]) -> None:
    url, datasets, document = loaded
    env = {"OPENDATA_GRACEFUL_SHUTDOWN_SECONDS": "120"}
    with opendata_serve(url, datasets_dir=datasets, env=env) as server:
        expected = "\r\n".join(["id,label", *document.split("\r\n")[1:-1][::-1]]) + "\r\n"
        with httpx.stream(
            "GET", f"{server.url}{EXPORT}", params=SORTED, headers=IDENTITY, timeout=120
        ) as response:
            assert response.status_code == 200
            chunks = response.iter_raw(64 * 1024)
            received = [next(chunks)]
            server.process.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + REFUSED_WITHIN
            while not _refuses_connections(server.port):
                assert time.monotonic() < deadline, "the server kept accepting after SIGTERM"
                time.sleep(0.05)
            assert server.process.poll() is None, "the server exited before the export ended"
            received.extend(chunks)
        body = b"".join(received)
        assert len(body) == len(expected.encode())
        assert body == expected.encode()
        assert server.process.wait(60) in STOPPED_BY_SIGTERM
        assert _refuses_connections(server.port)


@pytest.mark.slow
def test_grace_period_ends_a_stalled_export(loaded: tuple[str, Path, str]) -> None:
    """A client that stops reading cannot hold the server past the grace period."""
    url, datasets, document = loaded
    env = {"OPENDATA_GRACEFUL_SHUTDOWN_SECONDS": "1"}
    with opendata_serve(url, datasets_dir=datasets, env=env) as server:
        with httpx.stream(
            "GET", f"{server.url}{EXPORT}", params=SORTED, headers=IDENTITY, timeout=120
        ) as response:
            assert response.status_code == 200
            chunks = response.iter_raw(64 * 1024)
            received = [next(chunks)]
            server.process.send_signal(signal.SIGTERM)
            # The client reads nothing more; the server gives up on it and exits.
            assert server.process.wait(60) in STOPPED_BY_SIGTERM
            with pytest.raises(httpx.RemoteProtocolError):
                received.extend(chunks)
        assert len(b"".join(received)) < len(document.encode())
