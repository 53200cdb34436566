"""Register files: CSV in UTF-8 (with or without BOM), GB18030/GBK and UTF-16, and .xlsx; refusals."""

from __future__ import annotations

import codecs
import io
from datetime import date

import openpyxl
import pytest

from handlers.register.files import RegisterFileError, cell_text, read_table

TEXT = "编号,姓名,住址\nE001,张桂英,苏州市姑苏区平江街道钮家巷3号\nE002,王建国,姑苏区双塔街道定慧寺巷12号\n"
EXPECTED = [
    (1, ("编号", "姓名", "住址")),
    (2, ("E001", "张桂英", "苏州市姑苏区平江街道钮家巷3号")),
    (3, ("E002", "王建国", "姑苏区双塔街道定慧寺巷12号")),
]


def rows(table):
    return [(r.line, r.cells) for r in table.rows]


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (TEXT.encode("utf-8"), "utf-8"),
        (codecs.BOM_UTF8 + TEXT.encode("utf-8"), "utf-8-sig"),
        (TEXT.encode("gbk"), "gb18030"),
        (TEXT.encode("gb18030"), "gb18030"),
        (TEXT.replace("\n", "\r\n").encode("gbk"), "gb18030"),  # as Excel on Windows saves it
        (codecs.BOM_UTF16_LE + TEXT.replace(",", "\t").encode("utf-16-le"), "utf-16"),  # Excel "Unicode text"
    ],
)
def test_the_same_register_reads_the_same_in_every_encoding_excel_saves(data, encoding):
    table = read_table(data, "elders.csv")
    assert table.encoding == encoding
    assert rows(table) == EXPECTED


def test_a_character_outside_gbk_reads_from_gb18030():
    data = "编号,姓名\nE1,王𠀾\n".encode("gb18030")
    assert read_table(data, "e.csv").rows[1].cells == ("E1", "王𠀾")


@pytest.mark.parametrize(
    ("data", "looks"),
    [
        ("id,name,city\n1,Ångström Øre,København\n".encode("latin-1"), "it looks like"),  # decodes as GB18030
        ("編號,姓名,性別\nE001,張桂英,女\nE002,陳建國,男\n".encode("big5"), "it looks like"),
        ("ID,名前\n1,山田太郎\n2,佐藤花子\n".encode("shift_jis"), "it looks like"),
    ],
)
def test_bytes_that_would_decode_into_wrong_chinese_are_refused_naming_the_file(data, looks):
    with pytest.raises(RegisterFileError) as err:
        read_table(data, "elders.csv")
    message = str(err.value)
    assert message.startswith("elders.csv: not UTF-8, and its bytes do not read as Chinese GB18030/GBK")
    assert looks in message and "CSV UTF-8" in message


def test_bytes_that_are_neither_utf8_nor_gb18030_are_refused():
    with pytest.raises(RegisterFileError, match=r"^x.csv: neither UTF-8 \(bad byte at offset 3\) nor GB18030"):
        read_table(b"id,\xff\xfe\xff\n", "x.csv")


def test_an_empty_file_and_an_old_xls_workbook_are_refused():
    with pytest.raises(RegisterFileError, match="x.csv: the file is empty"):
        read_table(b" \n", "x.csv")
    with pytest.raises(RegisterFileError, match=r"old binary Excel workbook \(.xls\)"):
        read_table(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "elders.xls")
    with pytest.raises(RegisterFileError, match="not a readable .xlsx workbook"):
        read_table(b"PK\x03\x04 broken", "elders.xlsx")


def test_blank_lines_are_skipped_and_line_numbers_are_what_an_editor_shows():
    data = b'id,notes\n\nE1,"two\nlines"\n,\nE2,x\n'
    assert rows(read_table(data, "e.csv")) == [(1, ("id", "notes")), (3, ("E1", "two\nlines")), (6, ("E2", "x"))]


def test_a_semicolon_or_tab_separated_file_is_read_by_its_header_line():
    assert read_table(b"id;name\nE1;A\n", "e.csv").rows[1].cells == ("E1", "A")
    assert read_table(b"id\tname\nE1\tA\n", "e.csv").rows[1].cells == ("E1", "A")


def xlsx(rows_: list[list[object]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows_:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_an_xlsx_workbook_gives_its_rows_with_excel_row_numbers_and_typed_cells_as_text():
    data = xlsx(
        [
            ["老人信息登记表"],
            [],
            ["编号", "电话", "出生年份", "纬度", "登记日期"],
            ["E001", 13800138000, 1938.0, 31.3357, date(2026, 12, 1)],
        ]
    )
    table = read_table(data, "elders.xlsx")
    assert table.encoding == "xlsx"
    assert rows(table) == [
        (1, ("老人信息登记表", "", "", "", "")),
        (3, ("编号", "电话", "出生年份", "纬度", "登记日期")),
        (4, ("E001", "13800138000", "1938", "31.3357", "2026-12-01")),
    ]


def test_cell_text_writes_values_as_a_person_typed_them():
    assert [cell_text(v) for v in (None, True, 3, 2.0, 120.61, "  x ")] == ["", "true", "3", "2", "120.61", "x"]
