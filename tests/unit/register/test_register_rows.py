"""Register rows into records: headers in English or Chinese, every rejected row reported, ids once."""

from __future__ import annotations

import codecs

import pytest

from handlers.register.files import RegisterFileError, read_table
from handlers.register.records import Provenance
from handlers.register.rows import RegisterContext, parse_caregivers, parse_devices, parse_elders, parse_providers
from handlers.register.services import DeviceKind, ElderStatus, Gender, TravelMode


def table(text: str, name: str = "r.csv", encoding: str = "utf-8"):
    return read_table(text.encode(encoding), name)


ELDERS_ZH = """编号,姓名,性别,出生年份,联系电话,座机,家属联系人,住址,纬度,经度,所属区域,语言,健康状况,状态
E001,张桂英,女,1938,138 0013 8000,0512-65123456,张伟(儿子) 13800138001 短信,苏州市姑苏区平江街道钮家巷3号,31.3213,120.6290,,苏州话,高血压,
E002,王建国,男,1941,,(0512) 6512 0000,,江苏省苏州市姑苏区双塔街道定慧寺巷12号,,,,普通话,,住院
"""
ELDERS_EN = """Elder ID,NAME,gender,birth_year,Phone,landline,family_contacts,address,latitude,longitude,region_path,language,notes,status
E001,张桂英,F,1938,+86 138 0013 8000,0512-65123456,张伟(son) +8613800138001 sms,苏州市姑苏区平江街道钮家巷3号,31.3213,120.6290,,苏州话,高血压,active
E002,王建国,M,1941,,0512 6512 0000,,江苏省苏州市姑苏区双塔街道定慧寺巷12号,,,,普通话,,in hospital
"""


def test_elders_read_the_same_from_chinese_and_english_headers():
    zh, en = parse_elders(table(ELDERS_ZH, encoding="gbk")), parse_elders(table(ELDERS_EN))
    assert zh.errors == en.errors == ()
    assert zh.records == en.records
    first, second = zh.records
    assert (first.phone, first.landline, first.gender, first.birth_year) == (
        "+8613800138000",
        "+8651265123456",
        Gender.FEMALE,
        1938,
    )
    assert first.family_contacts[0].sms_opt_in and first.language == "苏州话" and first.notes == "高血压"
    assert first.location.provenance is Provenance.GIVEN and first.region_path == "江苏省/苏州市/姑苏区/平江街道"
    assert second.status is ElderStatus.IN_HOSPITAL


def test_an_elder_without_coordinates_is_placed_approximately_and_the_region_filled():
    (_, second), _, _, _ = parse_elders(table(ELDERS_ZH))
    assert second.location.provenance is Provenance.APPROXIMATE and second.location.precision == "district"
    assert 31.2 < second.location.latitude < 31.4 and 120.5 < second.location.longitude < 120.7
    assert second.region_path == "江苏省/苏州市/姑苏区/双塔街道"


def test_a_given_region_path_is_kept_and_a_bad_one_is_an_error():
    data = "编号,姓名,住址,所属区域\nE1,甲,苏州市姑苏区,江苏省/苏州市/姑苏区/平江街道/平江路社区\nE2,乙,苏州市姑苏区,江苏省//姑苏区\n"
    result = parse_elders(table(data))
    assert result.records[0].region_path == "江苏省/苏州市/姑苏区/平江街道/平江路社区"
    assert [str(e) for e in result.errors] == ["line 3, column 所属区域: empty or padded segment in '江苏省//姑苏区'"]


def test_every_bad_row_is_reported_by_line_and_column_and_the_good_rows_go_in():
    data = """编号,姓名,出生年份,联系电话,住址,纬度,经度
E1,甲,1940,13800138000,苏州市姑苏区,,
E2,乙,19xx,12345,平江路12号,,
E3,丙,1940,,,91,120
E4,丁,1940,,,31.3,
"""
    result = parse_elders(table(data))
    assert [r.elder_id for r in result.records] == ["E1"]
    assert [str(e) for e in result.errors] == [
        "line 3, column 出生年份: not a birth year like 1942: '19xx'",
        "line 3, column 联系电话: a mobile number has 11 digits, this one 5",
        "line 3, column 住址: no province, city or district recognised in the address; give coordinates or write "
        "the address with its district (e.g. 苏州市姑苏区…)",
        "line 4, column 纬度: 91.0 is outside -90..90 degrees",
        "line 5, column 经度: latitude and longitude go together",
    ]


def test_the_centers_own_region_resolves_an_address_without_its_city():
    data = "编号,姓名,住址\nE1,甲,平江路12号\n"
    (elder,), errors, _, _ = parse_elders(table(data), RegisterContext(region_hint="江苏省/苏州市"))
    assert errors == () and elder.location.precision == "city" and elder.region_path == "江苏省/苏州市"


def test_an_id_twice_rejects_both_rows_naming_each_other():
    data = "编号,姓名,住址\nE1,甲,苏州市姑苏区\nE2,乙,苏州市姑苏区\nE1,丙,苏州市姑苏区\n"
    result = parse_elders(table(data))
    assert [r.elder_id for r in result.records] == ["E2"]
    assert [str(e) for e in result.errors] == [
        "line 2, column 编号: E1 is also on line 4: an id may appear once in a file",
        "line 4, column 编号: E1 is also on line 2: an id may appear once in a file",
    ]


def test_a_title_row_above_the_header_is_skipped_and_unknown_columns_are_listed():
    data = "姑苏区老人信息登记表,,\n序号,编号,姓名,住址\n1,E1,甲,苏州市姑苏区\n"
    result = parse_elders(table(data))
    assert result.records[0].line == 3 and result.ignored_columns == ("序号",)


def test_bilingual_and_oddly_spelled_headers_are_understood():
    data = "elder_id/编号,姓名 (name),ADDRESS\nE1,甲,苏州市姑苏区\n"
    assert parse_elders(table(data)).records[0].name == "甲"


def test_a_missing_required_column_refuses_the_file_in_both_languages():
    with pytest.raises(RegisterFileError, match=r"^r.csv, line 1: missing column\(s\) name/姓名"):
        parse_elders(table("编号,住址,性别\nE1,苏州市姑苏区,女\n"))
    with pytest.raises(RegisterFileError, match="no header row"):
        parse_elders(table("a,b\n1,2\n"))
    with pytest.raises(RegisterFileError, match="columns '联系电话' and 'phone' both mean phone"):
        parse_elders(table("编号,姓名,联系电话,phone\nE1,甲,1,2\n"))


CAREGIVERS = """工号,服务商编号,姓名,性别,联系电话,技能,语言,排班,出行方式,每日最多服务次数,住址,纬度,经度
C01,P01,刘芳,女,13912345678,助餐、助洁、助浴,苏州话 普通话,周一至周五 08:00-16:00；周六 09:00-12:00,电动车,8,苏州市姑苏区,31.31,120.62
C02,P01,陈强,男,13912345679,nurse medical_escort,普通话,mon-fri 08:00-12:00; leave 2026-12-24..2026-12-31,car,,苏州市姑苏区,,
C03,P01,赵敏,女,0512-65123456,理发,,周一 8点-16点,飞机,0,,,
"""


def test_caregivers_with_rotas_skills_and_travel_modes():
    result = parse_caregivers(table(CAREGIVERS, encoding="gbk"))
    first, second = result.records
    assert first.skills == ("meal", "cleaning", "bathing") and first.travel_mode is TravelMode.E_BIKE
    assert first.languages == ("苏州话", "普通话") and first.max_visits_per_day == 8
    assert str(first.rota) == "mon-fri 08:00-16:00; sat 09:00-12:00" and first.rota.tz == "Asia/Shanghai"
    assert second.rota.absences and second.home_location.provenance is Provenance.APPROXIMATE
    assert [str(e) for e in result.errors] == [
        "line 4, column 联系电话: a caregiver's phone must receive SMS offers; this is a landline number",
        "line 4, column 技能: unknown skill '理发': one of meal, cleaning, bathing, medical_escort, emergency, "
        "mobility, companionship, repair, 助餐, 助洁, 助浴, 助医, 助急, 助行, 陪伴, 维修, nurse, personal_care, housekeeping",
        "line 4, column 排班: column 4: expected a shift like 08:00-16:00, found '8点-16点'",
        "line 4, column 出行方式: unknown travel mode '飞机': one of walk/步行, e-bike/电动车, car/汽车",
        "line 4, column 每日最多服务次数: not a whole number above 0: '0'",
    ]


def test_providers_and_devices():
    providers = parse_providers(
        table(
            "服务商编号,名称,地址,纬度,经度,服务项目,所属区域,电话\n"
            "P01,姑苏区居家乐养老服务中心,苏州市姑苏区人民路100号,31.30,120.61,助餐、助洁、助浴、陪伴,,0512-65000001\n"
            "P02,平江护理站,苏州市姑苏区平江路50号,,,助医 助急,,\n"
        )
    )
    assert providers.errors == ()
    assert providers.records[0].service_types == ("meal", "cleaning", "bathing", "companionship")
    assert providers.records[1].location.approximate and providers.records[1].phone is None
    devices = parse_devices(
        read_table(
            codecs.BOM_UTF8
            + (
                "设备编号,老人编号,设备类型,设备号码\nD1,E001,一键通,13800138000\nD2,E002,手表,\nD3,E003,拐杖,\n"
            ).encode(),
            "d.csv",
        )
    )
    assert [(d.device_id, d.kind, d.phone) for d in devices.records] == [
        ("D1", DeviceKind.ONE_KEY_PHONE, "+8613800138000"),
        ("D2", DeviceKind.WATCH, None),
    ]
    assert [str(e) for e in devices.errors] == [
        "line 4, column 设备类型: unknown device kind '拐杖': one of one_key_phone/一键通, pendant/呼叫器, watch/手表"
    ]


def test_a_required_cell_left_blank_is_an_error():
    result = parse_devices(table("device_id,elder_id,kind\nD1,,pendant\n"))
    assert [str(e) for e in result.errors] == ["line 2, column elder_id: required"]
