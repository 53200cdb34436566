"""Write the made-up sample register of docs/sample-register/ (run: python -m tools.register_samples).

A small home-care center in Suzhou's 姑苏区: 10 elders, 6 caregivers with rotas, 2 providers
and 3 alarm devices, in the forms centers send their files:

* ``elders.csv`` — UTF-8 with a byte-order mark (Excel's "CSV UTF-8"), Chinese headers;
* ``caregivers.csv`` — GBK (Excel's "CSV (逗号分隔)" on a Chinese Windows), Chinese headers;
* ``providers.csv`` — UTF-8 without BOM, English headers;
* ``devices.xlsx`` — an Excel workbook with bilingual headers and a title row.

Every person, number and address is made up; numbers follow the formats of real ones so the
importers check them as they would real ones. Some elders have no coordinates on purpose:
they are placed at their district's centroid and marked approximate.
"""

from __future__ import annotations

import codecs
import csv
import io
import sys
from pathlib import Path

FOLDER = Path(__file__).resolve().parents[1] / "docs" / "sample-register"

ELDER_HEADER = [
    "编号",
    "姓名",
    "性别",
    "出生年份",
    "联系电话",
    "座机",
    "家属联系人",
    "住址",
    "纬度",
    "经度",
    "所属区域",
    "语言",
    "健康状况",
    "入户说明",
    "状态",
]
ELDERS = [
    [
        "E001",
        "张桂英",
        "女",
        "1938",
        "138 0013 8001",
        "0512-6512 3401",
        "张伟(儿子) 13800138101 短信",
        "江苏省苏州市姑苏区平江街道平江路社区钮家巷3号",
        "31.3204",
        "120.6291",
        "",
        "苏州话",
        "高血压，行动不便",
        "钥匙在门口密码箱",
        "",
    ],
    [
        "E002",
        "王建国",
        "男",
        "1941",
        "",
        "(0512) 6512 3402",
        "王丽(女儿) 13800138102 短信；李梅(儿媳) 13800138103",
        "苏州市姑苏区双塔街道定慧寺巷12号",
        "31.3012",
        "120.6335",
        "",
        "苏州话",
        "糖尿病",
        "",
        "",
    ],
    [
        "E003",
        "李秀兰",
        "女",
        "1935",
        "13800138003",
        "",
        "李强(儿子) +86 138 0013 8104 短信",
        "姑苏区双塔街道官太尉桥8号",
        "",
        "",
        "",
        "普通话",
        "听力差，请大声说话",
        "",
        "",
    ],
    [
        "E004",
        "陈阿毛",
        "男",
        "1944",
        "１３８００１３８００４",
        "",
        "陈小红(女儿) 13800138105 短信",
        "江苏省苏州市姑苏区平江街道大儒巷20号",
        "31.3178",
        "120.6312",
        "",
        "苏州话",
        "",
        "",
        "",
    ],
    [
        "E005",
        "赵淑珍",
        "女",
        "1939",
        "",
        "0512-65123405",
        "赵军(儿子) 13800138106 短信; 孙丽(邻居) 13800138107",
        "苏州市姑苏区沧浪街道南园新村12幢301室",
        "",
        "",
        "",
        "苏州话",
        "独居，需每日问候",
        "楼道门禁找邻居孙丽",
        "",
    ],
    [
        "E006",
        "孙德福",
        "男",
        "1936",
        "13800138006",
        "",
        "孙平(儿子) 13800138108 短信",
        "苏州市姑苏区金阊街道山塘街88号",
        "31.3168",
        "120.6035",
        "",
        "普通话",
        "心脏支架术后",
        "",
        "住院",
    ],
    [
        "E007",
        "周美华",
        "女",
        "1943",
        "0086 138 0013 8007",
        "",
        "周杰(儿子) 13800138109 短信",
        "苏州市姑苏区观前街道宫巷15号",
        "31.3105",
        "120.6228",
        "",
        "普通话 English",
        "",
        "",
        "",
    ],
    [
        "E008",
        "吴根宝",
        "男",
        "1940",
        "",
        "0512 6512 3408",
        "吴敏(女儿) 13800138110 短信",
        "苏州市姑苏区吴门桥街道盘门路50号",
        "",
        "",
        "",
        "苏州话",
        "腿脚不便，需助行",
        "",
        "",
    ],
    [
        "E009",
        "郑玉芬",
        "女",
        "1937",
        "13800138009",
        "",
        "郑涛(孙子) 13800138111 短信",
        "苏州市姑苏区虎丘街道虎丘路200号",
        "31.3302",
        "120.5978",
        "",
        "苏州话",
        "轻度认知障碍",
        "白天女儿在家",
        "",
    ],
    [
        "E010",
        "冯金海",
        "男",
        "1945",
        "+86 138-0013-8010",
        "",
        "冯雪(女儿) 13800138112 短信",
        "苏州市姑苏区城北街道北园路30号",
        "",
        "",
        "",
        "普通话",
        "",
        "",
        "",
    ],
]

CAREGIVER_HEADER = [
    "工号",
    "服务商编号",
    "姓名",
    "性别",
    "联系电话",
    "技能",
    "语言",
    "排班",
    "出行方式",
    "每日最多服务次数",
    "住址",
    "纬度",
    "经度",
]
CAREGIVERS = [
    [
        "C01",
        "P01",
        "刘芳",
        "女",
        "13900139001",
        "助餐、助洁、助浴",
        "苏州话 普通话",
        "周一至周五 08:00-16:00；周六 09:00-12:00",
        "电动车",
        "8",
        "苏州市姑苏区平江街道",
        "31.3150",
        "120.6300",
    ],
    [
        "C02",
        "P01",
        "陈静",
        "女",
        "13900139002",
        "助餐、陪伴、助行",
        "苏州话",
        "周二、周四 13:00-21:00；周六至周日 08:00-12:00",
        "步行",
        "5",
        "苏州市姑苏区双塔街道",
        "31.3050",
        "120.6300",
    ],
    [
        "C03",
        "P01",
        "王磊",
        "男",
        "13900139003",
        "维修 助急 助行",
        "普通话",
        "mon-fri 09:00-17:00; leave 2026-12-24..2026-12-31",
        "电动车",
        "6",
        "苏州市姑苏区观前街道",
        "",
        "",
    ],
    [
        "C04",
        "P02",
        "李娟",
        "女",
        "13900139004",
        "护士、助浴、助医",
        "普通话",
        "每天 08:00-12:00；请假 2027-01-15至2027-01-20",
        "汽车",
        "6",
        "苏州市姑苏区金阊街道",
        "31.3120",
        "120.6080",
    ],
    [
        "C05",
        "P02",
        "张敏",
        "女",
        "13900139005",
        "nurse, medical_escort, emergency",
        "普通话 English",
        "mon-fri 22:00-06:00; extra 2027-01-02 09:00-13:00",
        "car",
        "4",
        "苏州市姑苏区沧浪街道",
        "31.2990",
        "120.6150",
    ],
    [
        "C06",
        "P02",
        "赵强",
        "男",
        "13900139006",
        "助洁 家电维修",
        "苏州话",
        "周一至周五 08:00-12:00，14:00-18:00；病假 2026-12-08",
        "e-bike",
        "8",
        "苏州市姑苏区城北街道",
        "",
        "",
    ],
]

PROVIDER_HEADER = ["provider_id", "name", "address", "latitude", "longitude", "service_types", "region_path", "phone"]
PROVIDERS = [
    [
        "P01",
        "姑苏居家乐养老服务中心",
        "苏州市姑苏区平江街道人民路1000号",
        "31.3160",
        "120.6240",
        "meal cleaning bathing companionship mobility repair emergency",
        "江苏省/苏州市/姑苏区/平江街道",
        "0512-65120001",
    ],
    [
        "P02",
        "平江护理站",
        "苏州市姑苏区双塔街道十全街100号",
        "",
        "",
        "medical_escort bathing emergency cleaning repair",
        "",
        "0512-65120002",
    ],
]

DEVICE_TITLE = "姑苏区居家养老呼叫设备登记表"
DEVICE_HEADER = ["device_id/设备编号", "elder_id/老人编号", "kind/设备类型", "phone/设备号码"]
DEVICES = [
    ["D001", "E001", "一键通", "0512-65123401"],
    ["D002", "E005", "pendant", ""],
    ["D003", "E009", "手表", "13700137009"],
]


def csv_bytes(header: list[str], rows: list[list[str]], encoding: str) -> bytes:
    """A CSV file as Excel writes it: CRLF line ends; ``utf-8-sig`` adds the byte-order mark."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    text = out.getvalue()
    return (codecs.BOM_UTF8 + text.encode("utf-8")) if encoding == "utf-8-sig" else text.encode(encoding)


def xlsx_bytes(title: str, header: list[str], rows: list[list[str]]) -> bytes:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "devices"
    sheet.append([title])
    sheet.append(header)
    for row in rows:
        sheet.append([int(c) if c.isdigit() and len(c) == 11 else c for c in row])  # as typed into Excel
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def files() -> dict[str, bytes]:
    """The sample register: file name -> bytes."""
    return {
        "elders.csv": csv_bytes(ELDER_HEADER, ELDERS, "utf-8-sig"),
        "caregivers.csv": csv_bytes(CAREGIVER_HEADER, CAREGIVERS, "gbk"),
        "providers.csv": csv_bytes(PROVIDER_HEADER, PROVIDERS, "utf-8"),
        "devices.xlsx": xlsx_bytes(DEVICE_TITLE, DEVICE_HEADER, DEVICES),
    }


def main(folder: Path = FOLDER) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files().items():
        (folder / name).write_bytes(data)
        print(f"wrote {folder / name} ({len(data)} bytes)")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else FOLDER)
