"""Register files as centers have them: CSV (UTF-8 with or without BOM, GB18030/GBK as
Chinese Excel saves "CSV (逗号分隔)", UTF-16 "Unicode text") and Excel ``.xlsx`` workbooks.

``read_table(data, filename)`` turns the bytes of one file into its non-blank rows, each with
the line number a person sees (the CSV line, the Excel row) and its cells as text. Which row
holds the headers and what the columns mean is decided by ``handlers.register.rows``.

Encoding of a CSV, decided in this order and never guessed silently:

1. a byte-order mark: UTF-8 (``EF BB BF``) or UTF-16 (``FF FE``/``FE FF``);
2. bytes that are valid UTF-8 are UTF-8;
3. bytes that are valid GB18030 (a superset of GBK and GB2312) are GB18030 only when the
   charset detector ``charset-normalizer`` also finds a Chinese GB encoding the best reading;
4. anything else is refused with ``RegisterFileError`` naming the file and what the bytes
   look like, e.g. a Latin-1 or Big5 file that would decode into nonsense Chinese.

Delimiter: ``,`` unless the first non-blank line has more tabs or semicolons than commas.
``.xlsx``/``.xlsm`` are read with ``openpyxl`` (first worksheet, values of formulas as last
saved); old binary ``.xls`` is refused with advice to save as ``.xlsx`` or CSV.
"""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import PurePath

import charset_normalizer
import openpyxl
from openpyxl.utils.exceptions import InvalidFileException

GB_ENCODINGS = ("gb18030", "gbk", "gb2312", "hz")
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # the container of old .xls workbooks
_ZIP = b"PK\x03\x04"
_SAVE_AS = "save it from Excel as 'CSV UTF-8 (逗号分隔)' or as .xlsx"


class RegisterFileError(ValueError):
    """A file that cannot be read at all; the message starts with the file name."""


@dataclass(frozen=True)
class RawRow:
    """One non-blank row: ``line`` 1-based as the file shows it, ``cells`` stripped text."""

    line: int
    cells: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    """The rows of one file and how it was read (``encoding`` ``utf-8``/``gb18030``/``xlsx``...)."""

    filename: str
    encoding: str
    rows: tuple[RawRow, ...]


def read_table(data: bytes, filename: str) -> Table:
    """The non-blank rows of the CSV or ``.xlsx`` file ``filename`` holding ``data``.

    Raises ``RegisterFileError`` for an empty file, an encoding that is neither UTF-8 nor
    (confidently) GB18030, an old ``.xls`` workbook or a damaged workbook."""
    suffix = PurePath(filename).suffix.lower()
    if not data.strip():
        raise RegisterFileError(f"{filename}: the file is empty")
    if data.startswith(_OLE2) or suffix == ".xls":
        raise RegisterFileError(f"{filename}: an old binary Excel workbook (.xls); {_SAVE_AS}")
    if data.startswith(_ZIP) or suffix in (".xlsx", ".xlsm"):
        return Table(filename, "xlsx", tuple(_xlsx_rows(data, filename)))
    text, encoding = decode_text(data, filename)
    return Table(filename, encoding, tuple(_csv_rows(text)))


def decode_text(data: bytes, filename: str) -> tuple[str, str]:
    """The text of a CSV file and the encoding it was read in; raises ``RegisterFileError``."""
    for bom, encoding in (
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            try:
                return data.decode(encoding), encoding
            except UnicodeDecodeError as exc:
                raise RegisterFileError(
                    f"{filename}: starts as {encoding} but byte {exc.start} is not {encoding}; {_SAVE_AS}"
                ) from None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as utf8_error:
        utf8_offset = utf8_error.start
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError:
        raise RegisterFileError(
            f"{filename}: neither UTF-8 (bad byte at offset {utf8_offset}) nor GB18030/GBK; {_SAVE_AS}"
        ) from None
    best = charset_normalizer.from_bytes(data).best()
    if best is None or best.encoding not in GB_ENCODINGS:
        looks = f"it looks like {best.encoding}" if best else "no encoding reads it cleanly"
        raise RegisterFileError(
            f"{filename}: not UTF-8, and its bytes do not read as Chinese GB18030/GBK text ({looks}); {_SAVE_AS}"
        )
    return text, "gb18030"


def _csv_rows(text: str) -> list[RawRow]:
    first = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = max((",", "\t", ";"), key=lambda d: (first.count(d), d == ","))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows, line = [], 1
    for cells in reader:
        if any(c.strip() for c in cells):
            rows.append(RawRow(line, tuple(c.strip() for c in cells)))
        line = reader.line_num + 1
    return rows


def _xlsx_rows(data: bytes, filename: str) -> list[RawRow]:
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError) as exc:
        raise RegisterFileError(
            f"{filename}: not a readable .xlsx workbook ({exc.__class__.__name__}); {_SAVE_AS}"
        ) from None
    try:
        sheet = book.worksheets[0]
        rows = []
        for line, values in enumerate(sheet.iter_rows(values_only=True), start=sheet.min_row or 1):
            cells = tuple(cell_text(v) for v in values)
            if any(cells):
                rows.append(RawRow(line, cells))
        return rows
    finally:
        book.close()


def cell_text(value: object) -> str:
    """A spreadsheet value as the text a person typed: whole floats without ``.0`` (a phone
    typed as a number), dates as ISO ``YYYY-MM-DD``, times as ``HH:MM``, blanks as ``""``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.strftime("%H:%M")
    return str(value).strip()
