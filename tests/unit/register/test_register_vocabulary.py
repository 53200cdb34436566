"""Service types, skills, travel modes, gender, status, relations, devices and family contacts."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handlers.register.contacts import ContactError, format_contacts, parse_contacts
from handlers.register.records import FamilyContact
from handlers.register.services import (
    RELATIONS,
    TRAVEL_SPEED_KMH,
    DeviceKind,
    ElderStatus,
    Gender,
    TravelMode,
    VocabularyError,
    parse_device_kind,
    parse_gender,
    parse_relation,
    parse_service_types,
    parse_skills,
    parse_status,
    parse_travel_mode,
)


@pytest.mark.parametrize(
    "cell",
    [
        "meal cleaning bathing",
        "meal,cleaning,bathing",
        "助餐、助洁、助浴",
        "助餐，助洁，助浴",
        "送餐/保洁/洗澡",
        "Meal; CLEANING; bathing",
        "助餐 meal 助洁 bathing",
    ],
)
def test_service_lists_in_any_separator_and_either_language_read_the_same(cell):
    assert parse_service_types(cell) == ("meal", "cleaning", "bathing")


def test_the_six_helps_and_other_chinese_service_names_map_to_policy_names():
    assert parse_service_types("助餐 助洁 助浴 助医 助急 助行 陪伴 维修") == (
        "meal",
        "cleaning",
        "bathing",
        "medical_escort",
        "emergency",
        "mobility",
        "companionship",
        "repair",
    )
    assert parse_service_types("陪同就医、家电维修、陪伴聊天") == ("medical_escort", "companionship", "repair")


def test_an_unknown_service_is_named_with_the_accepted_words():
    with pytest.raises(VocabularyError) as err:
        parse_service_types("助餐、理发、按摩")
    assert "'理发', '按摩'" in str(err.value) and "meal" in str(err.value) and "助餐" in str(err.value)
    with pytest.raises(VocabularyError, match="no service type given"):
        parse_service_types(" 、 ")


def test_skills_include_the_policys_abilities():
    assert parse_skills("护士、助浴、家政") == ("bathing", "nurse", "housekeeping")
    assert parse_skills("nurse personal_care") == ("nurse", "personal_care")
    with pytest.raises(VocabularyError, match="'nurse'"):
        parse_skills("nurse meal", abilities=("housekeeping",))


@pytest.mark.parametrize(
    ("cell", "mode"),
    [
        ("walk", TravelMode.WALK),
        ("步行", TravelMode.WALK),
        ("e-bike", TravelMode.E_BIKE),
        ("电动车", TravelMode.E_BIKE),
        ("E-Bike", TravelMode.E_BIKE),
        ("电瓶车", TravelMode.E_BIKE),
        ("car", TravelMode.CAR),
        ("汽车", TravelMode.CAR),
    ],
)
def test_travel_modes_in_both_languages(cell, mode):
    assert parse_travel_mode(cell) is mode


def test_every_travel_mode_has_a_speed_and_walking_is_slowest():
    assert set(TRAVEL_SPEED_KMH) == set(TravelMode)
    assert TRAVEL_SPEED_KMH[TravelMode.WALK] < TRAVEL_SPEED_KMH[TravelMode.E_BIKE] < TRAVEL_SPEED_KMH[TravelMode.CAR]
    with pytest.raises(VocabularyError, match="walk/步行"):
        parse_travel_mode("horse")


def test_gender_status_and_device_kinds():
    assert [parse_gender(g) for g in ("女", "F", "female", "男", "m")] == [Gender.FEMALE] * 3 + [Gender.MALE] * 2
    assert parse_status("") is ElderStatus.ACTIVE
    assert [parse_status(s) for s in ("住院", "迁出", "去世", "in hospital")] == [
        ElderStatus.IN_HOSPITAL,
        ElderStatus.MOVED,
        ElderStatus.DECEASED,
        ElderStatus.IN_HOSPITAL,
    ]
    assert [parse_device_kind(k) for k in ("一键通", "pendant", "手表")] == [
        DeviceKind.ONE_KEY_PHONE,
        DeviceKind.PENDANT,
        DeviceKind.WATCH,
    ]
    with pytest.raises(VocabularyError, match="unknown gender"):
        parse_gender("x")


def test_relations_in_chinese_map_to_english_keys():
    assert [parse_relation(r) for r in ("儿子", "老伴", "儿媳", "邻居", "daughter")] == [
        "son",
        "spouse",
        "daughter_in_law",
        "neighbour",
        "daughter",
    ]


def test_family_contacts_in_one_cell():
    contacts = parse_contacts("张伟(儿子) 13800138000 短信; 李娜（女儿） 0512-65123456\n王芳(邻居) 139 0013 9000")
    assert contacts == (
        FamilyContact("张伟", "son", "+8613800138000", True),
        FamilyContact("李娜", "daughter", "+8651265123456", False),
        FamilyContact("王芳", "neighbour", "+8613900139000", False),
    )
    assert parse_contacts("") == ()


def test_sms_needs_explicit_consent_and_a_mobile():
    assert not parse_contacts("张伟(son) 13800138000 不发短信")[0].sms_opt_in
    assert parse_contacts("张伟(son) 13800138000 SMS")[0].sms_opt_in
    with pytest.raises(ContactError, match="contact 1: a landline number cannot receive SMS"):
        parse_contacts("李娜(女儿) 0512-65123456 短信")


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("张伟 13800138000", "contact 1: expected NAME(RELATION) PHONE"),
        ("张伟(儿子) 13800138000; 李娜(女儿)", "contact 2: no phone number after the relation"),
        ("张伟(表舅) 13800138000", "contact 1: unknown relation '表舅'"),
        ("张伟(儿子) 1380013800", "contact 1: a mobile number has 11 digits"),
    ],
)
def test_a_bad_contact_is_named_by_its_position(cell, message):
    with pytest.raises(ContactError) as err:
        parse_contacts(cell)
    assert str(err.value).startswith(message)


_names = st.text(
    st.one_of(st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF), st.sampled_from("ABCabcxyz")),
    min_size=1,
    max_size=6,
)
_mobiles = st.integers(10**9, 10**10 - 1).map(lambda n: f"+86139{n:010d}"[:14])


@given(
    st.lists(
        st.builds(
            lambda n, r, p, s: FamilyContact(n, r, p, s),
            _names,
            st.sampled_from(sorted(RELATIONS)),
            _mobiles,
            st.booleans(),
        ),
        max_size=4,
    )
)
def test_formatted_contacts_read_back_the_same(contacts):
    assert parse_contacts(format_contacts(contacts)) == tuple(contacts)
