"""Excel workbooks: the rows on one sheet, version, licence, source and citation on another."""

from __future__ import annotations

import io
import re
import shutil
import zipfile
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import orjson
from openpyxl import Workbook

from api.render.archive import FIXED_TIMESTAMP

MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Excel's sheet holds 1,048,576 rows, one of which is the header.
MAX_ROWS = 1_048_575
PINNED_TIME = datetime(2000, 1, 1)
MODIFIED = re.compile(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)")
PINNED_MODIFIED = rb"\g<1>2000-01-01T00:00:00Z\g<2>"
COPY_CHUNK = 1 << 20


def _cell(value: Any) -> Any:
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.replace(tzinfo=None)
    return value


def xlsx_bytes(
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    sheet: str,
    about: Sequence[tuple[str, str]],
) -> bytes:
    """Write a workbook in write-only mode (constant memory per row) and return its bytes."""
    workbook = Workbook(write_only=True)
    data = workbook.create_sheet(sheet[:31] or "data")
    data.append(list(header))
    for row in rows:
        data.append([_cell(v) for v in row])
    info = workbook.create_sheet("about")
    for key, value in about:
        info.append([key, value])
    workbook.properties.created = PINNED_TIME
    workbook.properties.modified = PINNED_TIME
    buffer = io.BytesIO()
    workbook.save(buffer)
    return _pinned_zip(buffer.getvalue())


def _pinned_zip(data: bytes) -> bytes:
    """Rewrite the workbook's zip with fixed member times: a pinned URL gives the same bytes.

    Members are copied as streams: a sheet of a million rows is never inflated in memory whole.
    """
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            member = zipfile.ZipInfo(item.filename, date_time=FIXED_TIMESTAMP)
            member.compress_type = zipfile.ZIP_DEFLATED
            if item.filename == "docProps/core.xml":
                # openpyxl stamps the save time into `modified` whatever the properties say.
                target.writestr(member, MODIFIED.sub(PINNED_MODIFIED, source.read(item)))
                continue
            large = item.file_size >= zipfile.ZIP64_LIMIT  # zip64 only where it must be
            with source.open(item) as reader, target.open(member, "w", force_zip64=large) as writer:
                shutil.copyfileobj(reader, writer, COPY_CHUNK)
    return out.getvalue()
