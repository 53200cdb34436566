"""Family contacts written in one cell, e.g. ``张伟(儿子) 13800138000 短信; 李娜(女儿) 0512-65123456``.

Format: contacts separated by ``;``, ``；`` or a new line; each contact is

    NAME(RELATION) PHONE [SMS]

* ``NAME`` any text without brackets or ``;``;
* ``RELATION`` in brackets, ``()`` or ``（）``: an English key or a Chinese word of
  ``services.RELATIONS`` (儿子, 女儿, 老伴, 邻居, ...);
* ``PHONE`` in any form ``phones.parse_phone`` reads (``0512-65123456``, ``+86 138 ...``);
* ``SMS`` optional: ``短信``/``sms`` means the contact agreed to text messages, ``不发短信``/
  ``no-sms`` that they did not; without it, no SMS (consent must be explicit). A landline
  marked ``短信`` is an error: it cannot receive a text.

``format_contacts`` writes the canonical English form (``张伟(son) +8613800138000 sms``) that
``parse_contacts`` reads back to the same contacts.
"""

from __future__ import annotations

import re
import unicodedata

from handlers.register.phones import parse_phone
from handlers.register.records import FamilyContact
from handlers.register.services import VocabularyError, parse_relation

_CONTACT = re.compile(r"^(?P<name>[^()]+?)\s*\(\s*(?P<relation>[^()]+?)\s*\)\s*(?P<rest>.*)$")
_SMS = re.compile(r"\s*(?P<flag>不发短信|无短信|no-sms|nosms|no sms|短信|sms)\s*$", re.IGNORECASE)
_OPT_OUT = ("不发短信", "无短信", "no-sms", "nosms", "no sms")


class ContactError(ValueError):
    """A family-contacts cell that does not follow the format; the message names the contact."""


def parse_contacts(text: str, region: str = "CN", area_code: str | None = None) -> tuple[FamilyContact, ...]:
    """The contacts written in ``text`` (blank gives ``()``); phones read in ``region`` with
    ``area_code`` for landlines without one. Raises ``ContactError`` naming the contact's
    position (``contact 2: ...``) and what is wrong."""
    parts = [p.strip() for p in re.split(r"[;\n]", unicodedata.normalize("NFKC", text or ""))]
    contacts = []
    for number, part in enumerate((p for p in parts if p), start=1):
        try:
            contacts.append(_contact(part, region, area_code))
        except ValueError as exc:
            raise ContactError(f"contact {number}: {exc}") from None
    return tuple(contacts)


def _contact(part: str, region: str, area_code: str | None) -> FamilyContact:
    found = _CONTACT.match(part)
    if not found:
        raise ValueError("expected NAME(RELATION) PHONE [短信], e.g. 张伟(儿子) 13800138000 短信")
    rest = found["rest"]
    flag = _SMS.search(rest)
    phone_text = rest[: flag.start()] if flag else rest
    if not phone_text.strip():
        raise ValueError("no phone number after the relation")
    try:
        relation = parse_relation(found["relation"])
    except VocabularyError as exc:
        raise ValueError(str(exc)) from None
    phone = parse_phone(phone_text, region, area_code)
    sms = flag is not None and flag["flag"].lower() not in _OPT_OUT
    if sms and not phone.can_receive_sms:
        raise ValueError(f"a {phone.kind} number cannot receive SMS")
    return FamilyContact(found["name"].strip(), relation, phone.e164, sms)


def format_contacts(contacts: tuple[FamilyContact, ...] | list[FamilyContact]) -> str:
    """The canonical text of ``contacts``: ``NAME(relation) +E164[ sms]`` joined by ``; ``."""
    return "; ".join(f"{c.name}({c.relation}) {c.phone}{' sms' if c.sms_opt_in else ''}" for c in contacts)
