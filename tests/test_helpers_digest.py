"""A file's size and sha256, read chunk by chunk, as sealing, loading and re-checking need it."""

from __future__ import annotations

import hashlib
from pathlib import Path

from api.ingest.digest import CHUNK_BYTES, file_digest


def test_size_and_digest_of_a_file_larger_than_a_chunk(tmp_path: Path) -> None:
    data = bytes(range(256)) * (CHUNK_BYTES // 256) + b"tail"
    path = tmp_path / "data.csv"
    path.write_bytes(data)
    assert file_digest(path) == (len(data), hashlib.sha256(data).hexdigest())


def test_each_chunk_is_seen_once_in_order(tmp_path: Path) -> None:
    data = b"x" * CHUNK_BYTES + b"y" * 10
    path = tmp_path / "data.csv"
    path.write_bytes(data)
    seen: list[tuple[int, bytes]] = []
    file_digest(path, lambda seq, chunk: seen.append((seq, chunk)))
    assert [seq for seq, _ in seen] == [0, 1]
    assert b"".join(chunk for _, chunk in seen) == data


def test_an_empty_file_has_no_chunk(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    seen: list[int] = []
    assert file_digest(path, lambda seq, _chunk: seen.append(seq)) == (
        0,
        hashlib.sha256(b"").hexdigest(),
    )
    assert seen == []
