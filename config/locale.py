"""The text catalogs (``config/locale/<lang>/LC_MESSAGES/careline.po``): every SMS,
notice and hotline prompt in Chinese and English, as Babel gettext catalogs.

The ``.po`` files are the source, kept in git; ``scripts/setup`` (and the image
build) compiles them to ``.mo`` with ``pybabel compile -d config/locale -D careline``,
which is what is loaded. ``load_texts`` checks both before anything starts: every
key of ``handlers.channels.texts.KEYS`` present and translated in each language,
each text naming only fields its key has (a language may leave one out), and a compiled catalog no older
than its source. A bad catalog raises ``LocaleError`` naming the file, the line
and the key (``careline.po:41: sms.offer: names {cod}, not one of {brand} {code} …``).

``scripts/i18n`` extracts the keys the code marks into ``config/locale/careline.pot``
and updates the catalogs from it.
"""

from __future__ import annotations

import string
from functools import lru_cache
from pathlib import Path

from babel.messages.pofile import read_po
from babel.support import Translations

from config.files import ConfigFileError
from handlers.channels.texts import DOMAIN, KEYS, LANGUAGES, Texts

DEFAULT_DIR = Path(__file__).resolve().parent / "locale"
COMPILE = "pybabel compile -d config/locale -D careline"


class LocaleError(ConfigFileError):
    """A catalog that is missing, not compiled, incomplete or names the wrong fields."""


def fields_of(text: str) -> set[str]:
    """The ``str.format`` field names ``text`` uses (``{month:02d}`` -> ``month``)."""
    return {name.split(".")[0].split("[")[0] for _, name, _, _ in string.Formatter().parse(text) if name}


def check_catalog(po_path: Path) -> None:
    """Raise ``LocaleError`` for a key missing or untranslated in ``po_path``, a text
    naming a field its key does not have, or a text that does not format."""
    try:
        with po_path.open("rb") as f:
            catalog = read_po(f)
    except (OSError, ValueError) as exc:
        raise LocaleError(po_path, f"cannot read: {exc}") from None
    seen = {}
    for message in catalog:
        if message.id and isinstance(message.id, str):
            seen[message.id] = message
    missing = sorted(set(KEYS) - set(seen))
    if missing:
        raise LocaleError(po_path, f"missing keys: {', '.join(missing)}")
    for key, wanted in KEYS.items():
        message = seen[key]
        text = message.string if isinstance(message.string, str) else ""
        if not text:
            raise LocaleError(po_path, "not translated", message.lineno, key)
        try:
            names = fields_of(text)
        except ValueError as exc:
            raise LocaleError(po_path, f"not a format string: {exc}", message.lineno, key) from None
        if not names <= wanted:
            raise LocaleError(
                po_path,
                f"names {{{'} {'.join(sorted(names - wanted))}}}, not one of {{{'} {'.join(sorted(wanted))}}}",
                message.lineno,
                key,
            )


def load_texts(directory: Path = DEFAULT_DIR) -> Texts:
    """The catalogs of every language in ``directory``, checked (``check_catalog``)
    and loaded from their compiled ``.mo``. Raises ``LocaleError``."""
    catalogs = {}
    for lang in LANGUAGES:
        folder = directory / lang / "LC_MESSAGES"
        po, mo = folder / f"{DOMAIN}.po", folder / f"{DOMAIN}.mo"
        if not po.exists():
            raise LocaleError(po, "missing: every language needs its catalog")
        check_catalog(po)
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            raise LocaleError(mo, f"not compiled from {po.name} (or older than it): run {COMPILE}")
        catalogs[lang] = Translations.load(str(directory), [lang], DOMAIN)
    return Texts(catalogs)


@lru_cache
def get_texts() -> Texts:
    """The shipped catalogs, loaded once (tests call ``cache_clear()`` to reload)."""
    return load_texts()
