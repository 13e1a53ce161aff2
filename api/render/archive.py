"""A release as a Frictionless zip, streamed: descriptor, published CSV files and a README."""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any

import orjson

from api.model import ReleaseInfo


class _Sink:
    """A write-only file object whose written bytes are collected for a generator to yield."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.position = 0

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        self.position += len(data)
        return len(data)

    def tell(self) -> int:
        return self.position

    def flush(self) -> None:
        return None

    def drain(self) -> bytes:
        data = b"".join(self.parts)
        self.parts.clear()
        return data


# A pinned zip must be the same bytes on every download: no clock in the member headers.
FIXED_TIMESTAMP = (1980, 1, 1, 0, 0, 0)


def _member(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=FIXED_TIMESTAMP)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info


def readme_text(release: ReleaseInfo, *, citation: str, url: str) -> str:
    """The README placed in a release zip: title, version, licence and how to cite it."""
    licences = ", ".join(label for label, _url in release.licences)
    lines = [
        f"# {release.title}",
        "",
        f"Version: {release.version}",
        f"Published: {release.published.isoformat() if release.published else 'unknown'}",
        f"Licence: {licences or 'see datapackage.json'}",
        f"Source: {url}",
        "",
        str(release.descriptor.get("description") or "").strip(),
        "",
        "## Files",
        "",
        "- `datapackage.json`: the Frictionless descriptor (schemas, licence, sources, hashes)",
    ]
    lines += [
        f"- `data/{r.name}.csv`: {r.title or r.name} ({r.row_count:,} rows)"
        for r in release.resources
    ]
    lines += ["", "## How to cite", "", citation.strip(), ""]
    return "\n".join(lines)


def iter_release_zip(
    release: ReleaseInfo,
    *,
    files: Iterable[tuple[str, Callable[[], Iterable[bytes]]]],
    readme: str,
) -> Iterator[bytes]:
    """Yield a zip of the release: the descriptor as published, its files and a README."""
    sink = _Sink()
    archive = zipfile.ZipFile(sink, mode="w", compression=zipfile.ZIP_DEFLATED)  # type: ignore[call-overload]
    descriptor: dict[str, Any] = dict(release.descriptor)
    archive.writestr(
        _member("datapackage.json"), orjson.dumps(descriptor, option=orjson.OPT_INDENT_2)
    )
    yield sink.drain()
    archive.writestr(_member("README.md"), readme.encode("utf-8"))
    yield sink.drain()
    for path, chunks in files:
        with archive.open(_member(path), mode="w", force_zip64=True) as member:
            target: IO[bytes] = member
            for chunk in chunks():
                target.write(chunk)
                data = sink.drain()
                if data:
                    yield data
        yield sink.drain()
    archive.close()
    yield sink.drain()
