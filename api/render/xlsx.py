"""Excel workbooks: the rows on one sheet, version, licence, source and citation on another."""

from __future__ import annotations

import io
import itertools
import re
import shutil
import zipfile
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any
from urllib.parse import urlsplit

import orjson
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES
from openpyxl.styles import Color, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from api.model import FieldSpec
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
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
EXCEL_FIRST_DAY = date(1900, 1, 1)
# Links: Excel opens at most 65,530 per sheet and a target of at most 2,079 characters. openpyxl
# keeps each link of a sheet until it is saved (about 1 kB each), so the number is capped lower.
MAX_LINKS = 10_000
MAX_URL_LENGTH = 2079
WEB_SCHEMES = frozenset({"http", "https"})
NOT_IN_URL = re.compile(r"[\x00-\x20\x7f]")  # whitespace and control characters
LINK_FONT = Font(color=Color(theme=10), underline="single")  # the theme's hyperlink colour
# Column widths, in characters: sized to the header and the first rows, within bounds.
WIDTH_SAMPLE_ROWS = 200
MIN_WIDTH, MAX_WIDTH = 6, 60
FILTER_BUTTON = 2  # the autofilter's drop-down takes about two characters of the header
ABOUT_KEY_WIDTH = 12
TYPE_WIDTHS = {"date": len(DATE_FORMAT), "datetime": len(DATETIME_FORMAT)}


def _escaped(text: str) -> str:
    """Text with each character a sheet cannot hold written as the `_xHHHH_` Excel reads back."""
    return UNWRITABLE.sub(lambda match: f"_x{ord(match[0]):04X}_", text)


def _text(sheet: WriteOnlyWorksheet, value: str) -> Any:
    """Text always a text cell: never a formula or an error value."""
    if UNWRITABLE.search(value):
        value = _escaped(value)
    # openpyxl makes `=...` a formula and `#N/A` an error value; typed text stays text.
    if value.startswith("=") or value in ERROR_CODES:
        cell = WriteOnlyCell(sheet, value)
        cell.data_type = "s"
        return cell
    return value


def _moment(sheet: WriteOnlyWorksheet, value: date) -> Any:
    """A date or datetime as an Excel date with an ISO number format; before 1900, ISO text."""
    day = value.date() if isinstance(value, datetime) else value
    if day < EXCEL_FIRST_DAY:
        return value.isoformat()  # Excel's dates start on 1900-01-01
    if isinstance(value, datetime):
        cell = WriteOnlyCell(sheet, value.replace(tzinfo=None))  # stored in UTC, or as given
        cell.number_format = DATETIME_FORMAT
    else:
        cell = WriteOnlyCell(sheet, value)
        cell.number_format = DATE_FORMAT
    return cell


def _cell(sheet: WriteOnlyWorksheet, value: Any) -> Any:
    """One value as a cell: text a text cell, a date an Excel date, a number a number."""
    if isinstance(value, dict | list):
        value = orjson.dumps(value).decode()
    if isinstance(value, str):
        return _text(sheet, value)
    if isinstance(value, date):
        return _moment(sheet, value)
    return value


def _row(sheet: WriteOnlyWorksheet, values: Iterable[Any]) -> list[Any]:
    return [_cell(sheet, value) for value in values]


def web_address(value: Any) -> bool:
    """Whether a value is an http(s) URL a spreadsheet may link to."""
    if not isinstance(value, str) or len(value) > MAX_URL_LENGTH or NOT_IN_URL.search(value):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme.lower() in WEB_SCHEMES and bool(parts.hostname)


def _is_link_field(spec: FieldSpec | None) -> bool:
    return spec is not None and spec.type == "string" and spec.format == "uri"


class _DataSheet:
    """Writes the rows of one sheet: dates as dates, web addresses as links, text as text."""

    def __init__(self, sheet: WriteOnlyWorksheet, fields: Sequence[FieldSpec | None]) -> None:
        self.sheet = sheet
        self.link_columns = frozenset(i for i, spec in enumerate(fields) if _is_link_field(spec))
        self.links = 0
        self.links_left_out = False
        self.rows = 0

    def _link(self, value: Any) -> Any:
        if not web_address(value) or UNWRITABLE.search(value):  # linked text is shown as is
            return _cell(self.sheet, value)
        if self.links >= MAX_LINKS:
            self.links_left_out = True
            return _cell(self.sheet, value)
        self.links += 1
        cell = WriteOnlyCell(self.sheet, value)
        cell.data_type = "s"
        cell.hyperlink = value  # a relationship of the sheet, never a HYPERLINK formula
        cell.font = LINK_FONT
        return cell

    def append(self, values: Sequence[Any]) -> None:
        """Write one data row."""
        cells = [
            self._link(value) if index in self.link_columns else _cell(self.sheet, value)
            for index, value in enumerate(values)
        ]
        self.sheet.append(cells)
        self.rows += 1


def _width(value: Any) -> int:
    """How many characters a value takes on screen, in the sheet's number formats."""
    if value is None:
        return 0
    if isinstance(value, datetime):
        return len(DATETIME_FORMAT)
    if isinstance(value, date):
        return len(DATE_FORMAT)
    if isinstance(value, dict | list):
        return len(orjson.dumps(value))
    return max(len(line) for line in str(value).splitlines() or [""])


def _set_widths(
    sheet: WriteOnlyWorksheet,
    header: Sequence[str],
    fields: Sequence[FieldSpec | None],
    sample: Sequence[Sequence[Any]],
) -> None:
    """Size each column to its header (and filter button), its type and the first rows' values."""
    for index, name in enumerate(header):
        spec = fields[index]
        typed = TYPE_WIDTHS.get(spec.type, 0) if spec is not None else 0
        widest = max([len(name) + FILTER_BUTTON, typed, *(_width(row[index]) for row in sample)])
        width = min(max(widest + 1, MIN_WIDTH), MAX_WIDTH)
        sheet.column_dimensions[get_column_letter(index + 1)].width = width


def xlsx_bytes(
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    sheet: str,
    about: Sequence[tuple[str, str]],
    fields: Sequence[FieldSpec | None] = (),
) -> bytes:
    """Write a workbook in write-only mode (constant memory per row) and return its bytes.

    The data sheet keeps its header in view (frozen first row), filters on every column and sizes
    columns to the first rows; dates are Excel dates and `uri` fields link their web addresses.

    :param fields: per column of `header`, its field (None for a column no schema describes).
    """
    workbook = Workbook(write_only=True)
    data = workbook.create_sheet(sheet[:31] or "data")
    # Widths and the frozen row are written with the sheet's first row: set them before it.
    columns = fields or [None] * len(header)
    stream = iter(rows)
    sample = list(itertools.islice(stream, WIDTH_SAMPLE_ROWS))
    _set_widths(data, header, columns, sample)
    data.freeze_panes = "A2"
    data.append(_row(data, header))
    writer = _DataSheet(data, columns)
    for row in itertools.chain(sample, stream):
        writer.append(row)
    last_column = get_column_letter(max(len(header), 1))
    data.auto_filter.ref = f"A1:{last_column}{writer.rows + 1}"  # written after the rows
    info = workbook.create_sheet("about")
    info.column_dimensions["A"].width = ABOUT_KEY_WIDTH
    info.column_dimensions["B"].width = MAX_WIDTH
    notes = list(about)
    if writer.links_left_out:
        notes.append(("links", f"the first {MAX_LINKS:,} web addresses are links, later ones text"))
    for pair in notes:
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
