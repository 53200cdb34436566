"""The columns of register files, in English and in Chinese, and how a header row is found.

Header cells are matched after Unicode NFKC, lower-casing and removing spaces, ``_`` and ``-``
(``Elder ID``, ``elder_id``, ``ELDERID`` are one name); a bilingual header such as
``elder_id/编号`` or ``姓名(name)`` matches by either part. The header row is the first of the
first ``HEADER_SEARCH_ROWS`` rows in which at least two cells name known columns, so a title
row above the headers (``XX社区老人信息登记表``) is skipped.

| key | English | Chinese |
| --- | --- | --- |
see ``ELDER_COLUMNS``, ``CAREGIVER_COLUMNS``, ``PROVIDER_COLUMNS``, ``DEVICE_COLUMNS``: each maps a
key to its accepted names, the first English name being the one ``export`` writes.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Mapping

from handlers.register.files import RawRow, RegisterFileError, Table

HEADER_SEARCH_ROWS = 10

_COMMON = {
    "name": ("name", "姓名"),
    "gender": ("gender", "sex", "性别"),
    "phone": ("phone", "mobile", "联系电话", "手机", "手机号", "电话"),
    "address": ("address", "住址", "地址", "家庭住址"),
    "latitude": ("latitude", "lat", "纬度"),
    "longitude": ("longitude", "lon", "lng", "经度"),
    "region_path": ("region_path", "region", "所属区域", "区域"),
    "service_area": ("service_area", "服务区域", "服务片区"),
    "location_provenance": ("location_provenance", "位置来源"),
}

ELDER_COLUMNS: Mapping[str, tuple[str, ...]] = {
    "elder_id": ("elder_id", "id", "编号", "老人编号"),
    **{k: _COMMON[k] for k in ("name", "gender")},
    "birth_year": ("birth_year", "出生年份", "出生年"),
    "phone": _COMMON["phone"],
    "landline": ("landline", "座机", "固定电话", "家庭电话"),
    "family_contacts": ("family_contacts", "家属联系人", "紧急联系人", "家属"),
    **{
        k: _COMMON[k]
        for k in ("address", "latitude", "longitude", "location_provenance", "region_path", "service_area")
    },
    "language": ("language", "语言", "方言"),
    "notes": ("notes", "健康状况", "备注"),
    "access_notes": ("access_notes", "入户说明", "门禁说明"),
    "preferred_caregiver_gender": ("preferred_caregiver_gender", "护理员性别偏好"),
    "preferred_caregivers": ("preferred_caregivers", "指定护理员"),
    "excluded_caregivers": ("excluded_caregivers", "排除护理员"),
    "status": ("status", "状态"),
}
CAREGIVER_COLUMNS: Mapping[str, tuple[str, ...]] = {
    "caregiver_id": ("caregiver_id", "id", "工号", "护理员编号", "编号"),
    "provider_id": ("provider_id", "服务商编号"),
    **{k: _COMMON[k] for k in ("name", "gender", "phone")},
    "skills": ("skills", "技能", "服务技能"),
    "languages": ("languages", "language", "语言"),
    "rota": ("rota", "排班", "班次"),
    "travel_mode": ("travel_mode", "出行方式", "交通方式"),
    "max_visits_per_day": ("max_visits_per_day", "每日最多服务次数", "每日上限"),
    "active": ("active", "在职"),
    "address": ("home_address", "address", "住址", "地址", "常驻地址"),
    **{k: _COMMON[k] for k in ("latitude", "longitude", "location_provenance", "region_path", "service_area")},
}
PROVIDER_COLUMNS: Mapping[str, tuple[str, ...]] = {
    "provider_id": ("provider_id", "id", "服务商编号", "编号"),
    "name": ("name", "名称", "服务商名称"),
    "address": ("address", "地址"),
    **{k: _COMMON[k] for k in ("latitude", "longitude", "location_provenance")},
    "service_types": ("service_types", "服务项目", "服务类型"),
    **{k: _COMMON[k] for k in ("region_path", "phone", "service_area")},
}
DEVICE_COLUMNS: Mapping[str, tuple[str, ...]] = {
    "device_id": ("device_id", "设备编号", "设备号"),
    "elder_id": ("elder_id", "老人编号", "编号"),
    "kind": ("kind", "device_kind", "设备类型", "类型"),
    "phone": ("phone", "sim", "设备号码", "sim卡号"),
}


@dataclass(frozen=True)
class Header:
    """Where each known column is (``index``), its name as written (``written``), the data
    rows after the header, and the header cells that name no known column (``ignored``)."""

    index: Mapping[str, int]
    written: Mapping[str, str]
    rows: tuple[RawRow, ...]
    ignored: tuple[str, ...]
    line: int

    def position(self, written: str) -> int:
        """The 0-based position of the column written ``written`` (absent columns last)."""
        key = next((k for k, name in self.written.items() if name == written), None)
        return self.index[key] if key is not None else len(self.index) + 1


def find_header(table: Table, columns: Mapping[str, tuple[str, ...]], required: tuple[str, ...]) -> Header:
    """The header of ``table`` for a file with ``columns``. Raises ``RegisterFileError`` when
    no header row is found, a column appears twice, or a ``required`` column is missing."""
    names = {_key(n): key for key, aliases in columns.items() for n in aliases}
    for position, row in enumerate(table.rows[:HEADER_SEARCH_ROWS]):
        matched = [(i, _match(cell, names)) for i, cell in enumerate(row.cells)]
        if sum(1 for _, key in matched if key) >= 2:
            return _header(table, position, row, matched, columns, required)
    raise RegisterFileError(
        f"{table.filename}: no header row naming the columns "
        f"({', '.join(_both(columns, k) for k in required)}) in the first "
        f"{HEADER_SEARCH_ROWS} rows"
    )


def _header(
    table: Table,
    position: int,
    row: RawRow,
    matched: list[tuple[int, str | None]],
    columns: Mapping[str, tuple[str, ...]],
    required: tuple[str, ...],
) -> Header:
    index: dict[str, int] = {}
    for i, key in matched:
        if key is None:
            continue
        if key in index:
            raise RegisterFileError(
                f"{table.filename}, line {row.line}: columns {row.cells[index[key]]!r} and "
                f"{row.cells[i]!r} both mean {key}"
            )
        index[key] = i
    missing = [k for k in required if k not in index]
    if missing:
        raise RegisterFileError(
            f"{table.filename}, line {row.line}: missing column(s) {', '.join(_both(columns, k) for k in missing)}"
        )
    written = {key: row.cells[i] for key, i in index.items()}
    ignored = tuple(row.cells[i] for i, key in matched if key is None and row.cells[i])
    return Header(index, written, table.rows[position + 1 :], ignored, row.line)


def _match(cell: str, names: Mapping[str, str]) -> str | None:
    if _key(cell) in names:
        return names[_key(cell)]
    for part in re.split(r"[/()|]", unicodedata.normalize("NFKC", cell)):
        if part.strip() and _key(part) in names:
            return names[_key(part)]
    return None


def _key(text: str) -> str:
    return re.sub(r"[\s_\-]", "", unicodedata.normalize("NFKC", text).lower())


def _both(columns: Mapping[str, tuple[str, ...]], key: str) -> str:
    english = columns[key][0]
    chinese = next((n for n in columns[key] if not n.isascii()), "")
    return f"{english}/{chinese}" if chinese else english
