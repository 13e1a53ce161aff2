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
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from api.render.archive import FIXED_TIMESTAMP

MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PINNED_TIME = datetime(2000, 1, 1)
MODIFIED = re.compile(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)")
PINNED_MODIFIED = rb"\g<1>2000-01-01T00:00:00Z\g<2>"
COPY_CHUNK = 1 << 20
# Text a sheet cannot hold as is (ST_Xstring): what XML 1.0 forbids (control characters, lone
# surrogates, U+FFFE and U+FFFF), and text that reads as one of the `_xHHHH_` escapes for them.
UNWRITABLE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]|_(?=x[0-9A-Fa-f]{4}_)"
)


def _escaped(text: str) -> str:
    """Text with each character a sheet cannot hold written as the `_xHHHH_` Excel reads back."""
    return UNWRITABLE.sub(lambda match: f"_x{ord(match[0]):04X}_", text)


def _cell(sheet: WriteOnlyWorksheet, value: Any) -> Any:
    """One value as a cell: text always a text cell, never a formula or an error value."""
    if isinstance(value, dict | list):
        value = orjson.dumps(value).decode()
    if isinstance(value, str):
        if UNWRITABLE.search(value):
            value = _escaped(value)
        # openpyxl makes `=...` a formula and `#N/A` an error value; typed text stays text.
        if value.startswith("=") or value in ERROR_CODES:
            cell = WriteOnlyCell(sheet, value)
            cell.data_type = "s"
            return cell
        return value
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.replace(tzinfo=None)
    return value


def _row(sheet: WriteOnlyWorksheet, values: Iterable[Any]) -> list[Any]:
    return [_cell(sheet, value) for value in values]


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
    data.append(_row(data, header))
    for row in rows:
        data.append(_row(data, row))
    info = workbook.create_sheet("about")
    for pair in about:
        info.append(_row(info, pair))
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
