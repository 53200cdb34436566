"""The register's vocabularies: service types and skills, travel modes, gender, status,
family relations and alarm-device kinds, each in English and in the words Chinese centers use.

Service types are the policy's English names (``config/policy.toml``, ``config/ivr.toml``):
``meal cleaning bathing medical_escort emergency companionship repair`` plus ``mobility``
(助行) from the 六助 of Chinese home-care programmes (助餐 助洁 助浴 助医 助急 助行). Skills
are service types or the abilities of the policy's ``skill_hierarchy`` (``nurse``,
``personal_care``, ``housekeeping``). A list may be separated by spaces, ``,``, ``，``,
``、``, ``/`` or ``;``; a word that is not known is refused with the words that are.

Travel modes and their speeds (km/h, door-to-door running speed, waits at signals not added):

* ``walk`` 4.7 — the normal gait speed of healthy adults aged 40-69 is 1.3-1.4 m/s
  (Bohannon & Andrews 2011, "Normal walking speed: a descriptive meta-analysis",
  Physiotherapy 97(3):182-189); 1.3 m/s = 4.7 km/h, the lower end.
* ``e-bike`` 17.0 — mean field speed of electric bicycles in Hangzhou, 17.09 km/h
  ("Speed distribution for mixed bicycle traffic", Advances in Mechanical Engineering 2015,
  doi:10.1177/1687814015616918); below the 25 km/h design limit of GB 17761-2018.
* ``car`` 25.0 — peak-hour commute speeds in large Chinese cities, 24-34 km/h (Baidu Maps,
  2020 China urban transport report: Shanghai 24.9, Beijing 26.9, Nanjing 27.1 km/h).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, Iterable, Mapping, TypeVar

SERVICE_TYPES = ("meal", "cleaning", "bathing", "medical_escort", "emergency", "mobility", "companionship", "repair")
ABILITIES = ("nurse", "personal_care", "housekeeping")  # config/policy.toml [eligibility.skill_hierarchy]

SERVICE_WORDS: dict[str, str] = {
    "助餐": "meal",
    "送餐": "meal",
    "配餐": "meal",
    "餐饮": "meal",
    "助洁": "cleaning",
    "保洁": "cleaning",
    "清洁": "cleaning",
    "打扫": "cleaning",
    "助浴": "bathing",
    "洗浴": "bathing",
    "洗澡": "bathing",
    "助医": "medical_escort",
    "陪同就医": "medical_escort",
    "陪诊": "medical_escort",
    "就医陪同": "medical_escort",
    "medical escort": "medical_escort",
    "medical-escort": "medical_escort",
    "助急": "emergency",
    "紧急求助": "emergency",
    "应急": "emergency",
    "助行": "mobility",
    "出行陪同": "mobility",
    "助行陪护": "mobility",
    "陪伴": "companionship",
    "陪伴聊天": "companionship",
    "精神慰藉": "companionship",
    "聊天": "companionship",
    "维修": "repair",
    "家电维修": "repair",
    "助修": "repair",
    "修理": "repair",
}
ABILITY_WORDS: dict[str, str] = {
    "护士": "nurse",
    "医护": "nurse",
    "personal care": "personal_care",
    "personal-care": "personal_care",
    "生活护理": "personal_care",
    "护理员": "personal_care",
    "护理": "personal_care",
    "家政": "housekeeping",
}

_SEPARATORS = re.compile(r"[\s,，、/;；|]+")


class VocabularyError(ValueError):
    """A word that is not in a vocabulary; the message lists the accepted words."""


class TravelMode(StrEnum):
    """How a caregiver travels; sets the speed of ``TRAVEL_SPEED_KMH`` (sources in the module docstring)."""

    WALK = "walk"
    E_BIKE = "e-bike"
    CAR = "car"


#: km/h, sources in the module docstring
TRAVEL_SPEED_KMH: Mapping[TravelMode, float] = {TravelMode.WALK: 4.7, TravelMode.E_BIKE: 17.0, TravelMode.CAR: 25.0}
_TRAVEL_WORDS = {
    "walk": TravelMode.WALK,
    "walking": TravelMode.WALK,
    "foot": TravelMode.WALK,
    "步行": TravelMode.WALK,
    "走路": TravelMode.WALK,
    "e-bike": TravelMode.E_BIKE,
    "ebike": TravelMode.E_BIKE,
    "e bike": TravelMode.E_BIKE,
    "electric bike": TravelMode.E_BIKE,
    "电动车": TravelMode.E_BIKE,
    "电瓶车": TravelMode.E_BIKE,
    "电动自行车": TravelMode.E_BIKE,
    "car": TravelMode.CAR,
    "汽车": TravelMode.CAR,
    "开车": TravelMode.CAR,
    "轿车": TravelMode.CAR,
}


class Gender(StrEnum):
    """A person's recorded gender, and an elder's preferred caregiver gender (ranking excludes
    only caregivers with a different recorded gender, ``handlers.dispatch.scheduling``)."""

    FEMALE = "female"
    MALE = "male"


_GENDER_WORDS = {
    "f": Gender.FEMALE,
    "female": Gender.FEMALE,
    "woman": Gender.FEMALE,
    "女": Gender.FEMALE,
    "女性": Gender.FEMALE,
    "m": Gender.MALE,
    "male": Gender.MALE,
    "man": Gender.MALE,
    "男": Gender.MALE,
    "男性": Gender.MALE,
}


class ElderStatus(StrEnum):
    """Only ``active`` elders are dispatched to and called for welfare checks."""

    ACTIVE = "active"
    IN_HOSPITAL = "in_hospital"
    MOVED = "moved"
    DECEASED = "deceased"


_STATUS_WORDS = {
    "active": ElderStatus.ACTIVE,
    "在册": ElderStatus.ACTIVE,
    "正常": ElderStatus.ACTIVE,
    "在家": ElderStatus.ACTIVE,
    "in hospital": ElderStatus.IN_HOSPITAL,
    "in_hospital": ElderStatus.IN_HOSPITAL,
    "hospital": ElderStatus.IN_HOSPITAL,
    "hospitalised": ElderStatus.IN_HOSPITAL,
    "hospitalized": ElderStatus.IN_HOSPITAL,
    "住院": ElderStatus.IN_HOSPITAL,
    "moved": ElderStatus.MOVED,
    "moved away": ElderStatus.MOVED,
    "迁出": ElderStatus.MOVED,
    "搬走": ElderStatus.MOVED,
    "已迁出": ElderStatus.MOVED,
    "deceased": ElderStatus.DECEASED,
    "died": ElderStatus.DECEASED,
    "去世": ElderStatus.DECEASED,
    "已故": ElderStatus.DECEASED,
    "死亡": ElderStatus.DECEASED,
    "过世": ElderStatus.DECEASED,
}

RELATIONS: dict[str, str] = {
    "son": "儿子",
    "daughter": "女儿",
    "spouse": "配偶",
    "grandson": "孙子",
    "granddaughter": "孙女",
    "daughter_in_law": "儿媳",
    "son_in_law": "女婿",
    "sibling": "兄弟姐妹",
    "nephew": "侄子",
    "niece": "侄女",
    "relative": "亲属",
    "neighbour": "邻居",
    "friend": "朋友",
    "guardian": "监护人",
    "other": "其他",
}
_RELATION_WORDS = {zh: en for en, zh in RELATIONS.items()} | {
    "儿": "son",
    "长子": "son",
    "次子": "son",
    "女": "daughter",
    "长女": "daughter",
    "次女": "daughter",
    "老伴": "spouse",
    "妻子": "spouse",
    "丈夫": "spouse",
    "老婆": "spouse",
    "老公": "spouse",
    "爱人": "spouse",
    "wife": "spouse",
    "husband": "spouse",
    "外孙": "grandson",
    "外孙女": "granddaughter",
    "儿媳妇": "daughter_in_law",
    "媳妇": "daughter_in_law",
    "daughter-in-law": "daughter_in_law",
    "son-in-law": "son_in_law",
    "哥哥": "sibling",
    "弟弟": "sibling",
    "姐姐": "sibling",
    "妹妹": "sibling",
    "brother": "sibling",
    "sister": "sibling",
    "外甥": "nephew",
    "外甥女": "niece",
    "neighbor": "neighbour",
    "亲戚": "relative",
}


class DeviceKind(StrEnum):
    """The one-key alarm devices Chinese programmes hand out: a one-key phone (一键通), a pendant
    (呼叫器) or a watch (手表)."""

    ONE_KEY_PHONE = "one_key_phone"
    PENDANT = "pendant"
    WATCH = "watch"


_DEVICE_WORDS = {
    "one-key phone": DeviceKind.ONE_KEY_PHONE,
    "one key phone": DeviceKind.ONE_KEY_PHONE,
    "one_key_phone": DeviceKind.ONE_KEY_PHONE,
    "一键通": DeviceKind.ONE_KEY_PHONE,
    "一键呼叫": DeviceKind.ONE_KEY_PHONE,
    "一键通电话": DeviceKind.ONE_KEY_PHONE,
    "呼叫电话": DeviceKind.ONE_KEY_PHONE,
    "pendant": DeviceKind.PENDANT,
    "挂件": DeviceKind.PENDANT,
    "紧急呼叫器": DeviceKind.PENDANT,
    "呼叫器": DeviceKind.PENDANT,
    "胸卡": DeviceKind.PENDANT,
    "watch": DeviceKind.WATCH,
    "手表": DeviceKind.WATCH,
    "智能手表": DeviceKind.WATCH,
    "手环": DeviceKind.WATCH,
}


_Word = TypeVar("_Word")


@dataclass(frozen=True)
class _Vocabulary(Generic[_Word]):
    name: str
    words: Mapping[str, _Word]
    canonical: tuple[str, ...]

    def read(self, text: str) -> _Word:
        key = _key(text)
        if key in self.words:
            return self.words[key]
        raise VocabularyError(f"unknown {self.name} {text.strip()!r}: one of {', '.join(self.canonical)}")


def _key(text: str) -> str:
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).strip().lower()


def _words(canonical: Iterable[str], extra: Mapping[str, object]) -> dict[str, object]:
    return {c: c for c in canonical} | {_key(k): v for k, v in extra.items()}


_SERVICES = _Vocabulary(
    "service type",
    _words(SERVICE_TYPES, SERVICE_WORDS),
    SERVICE_TYPES + ("助餐", "助洁", "助浴", "助医", "助急", "助行", "陪伴", "维修"),
)
_TRAVEL = _Vocabulary("travel mode", _TRAVEL_WORDS, ("walk/步行", "e-bike/电动车", "car/汽车"))
_GENDER = _Vocabulary("gender", _GENDER_WORDS, ("F/女", "M/男"))
_STATUS = _Vocabulary("status", _STATUS_WORDS, ("active/在册", "in_hospital/住院", "moved/迁出", "deceased/去世"))
_RELATION = _Vocabulary("relation", _words(RELATIONS, _RELATION_WORDS), tuple(f"{e}/{z}" for e, z in RELATIONS.items()))
_DEVICE = _Vocabulary("device kind", _DEVICE_WORDS, ("one_key_phone/一键通", "pendant/呼叫器", "watch/手表"))


def split_list(text: str) -> list[str]:
    """The items of a list cell separated by spaces, ``,``, ``，``, ``、``, ``/``, ``;`` or ``|``."""
    return [item for item in _SEPARATORS.split(unicodedata.normalize("NFKC", text)) if item]


def parse_service_types(text: str) -> tuple[str, ...]:
    """Service types named in ``text`` (English or Chinese), canonical, de-duplicated, in the
    order of ``SERVICE_TYPES``. Raises ``VocabularyError`` naming the unknown word(s)."""
    found = _read_all(text, _SERVICES)
    return tuple(s for s in SERVICE_TYPES if s in found)


def parse_skills(text: str, abilities: Iterable[str] = ABILITIES) -> tuple[str, ...]:
    """Skills named in ``text``: service types and the given ``abilities`` (the policy's
    ``skill_hierarchy`` keys), canonical and de-duplicated; raises ``VocabularyError``."""
    abilities = tuple(abilities)
    ability_words = {_key(k): v for k, v in ABILITY_WORDS.items() if v in abilities} | {a: a for a in abilities}
    vocabulary = _Vocabulary("skill", dict(_SERVICES.words) | ability_words, _SERVICES.canonical + abilities)
    found = _read_all(text, vocabulary)
    return tuple(s for s in SERVICE_TYPES + abilities if s in found)


def parse_travel_mode(text: str) -> TravelMode:
    """``walk``/步行, ``e-bike``/电动车 or ``car``/汽车; raises ``VocabularyError``."""
    return _TRAVEL.read(text)


def parse_gender(text: str) -> Gender:
    """``F``/``female``/女 or ``M``/``male``/男; raises ``VocabularyError``."""
    return _GENDER.read(text)


def parse_status(text: str) -> ElderStatus:
    """An elder's status (blank is ``active``); raises ``VocabularyError``."""
    return ElderStatus.ACTIVE if not text.strip() else _STATUS.read(text)


def parse_relation(text: str) -> str:
    """A family relation's English key (``son``, ``daughter``, ``spouse``, ...; ``RELATIONS``)."""
    return str(_RELATION.read(text))


def parse_device_kind(text: str) -> DeviceKind:
    """``one_key_phone``/一键通, ``pendant``/呼叫器 or ``watch``/手表; raises ``VocabularyError``."""
    return _DEVICE.read(text)


def _read_all(text: str, vocabulary: _Vocabulary[object]) -> set[object]:
    items = split_list(text)
    if not items:
        raise VocabularyError(f"no {vocabulary.name} given: one or more of {', '.join(vocabulary.canonical)}")
    found, unknown = set(), []
    for item in items:
        key = _key(item)
        if key in vocabulary.words:
            found.add(vocabulary.words[key])
        else:
            unknown.append(item)
    if unknown:
        raise VocabularyError(
            f"unknown {vocabulary.name} {', '.join(repr(u) for u in unknown)}: one of {', '.join(vocabulary.canonical)}"
        )
    return found
