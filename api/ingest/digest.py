"""A release file's size and sha256, read once, chunk by chunk (never the whole file at once)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

CHUNK_BYTES = 1 << 20


def file_digest(
    path: Path, each_chunk: Callable[[int, bytes], None] | None = None
) -> tuple[int, str]:
    """The size and sha256 hex digest of a file; `each_chunk(seq, chunk)` sees every chunk read."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        seq = 0
        while chunk := handle.read(CHUNK_BYTES):
            digest.update(chunk)
            size += len(chunk)
            if each_chunk is not None:
                each_chunk(seq, chunk)
            seq += 1
    return size, digest.hexdigest()
