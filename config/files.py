"""Reading careline's TOML files so that a bad one is refused with a message a
person can act on: the file, the line and the dotted key, and what is wrong
(``policy.toml:14: offers.timeout_seconds: Input should be greater than 0``).

TOML syntax errors carry their own line (``tomllib``); for a value that parses
but fails validation, ``line_of`` finds the line that sets the key (or, for a
missing key, the line of its table) by reading the text as TOML is written:
``[table]`` and ``[[array]]`` headers, then ``key = value`` lines, with dotted
and quoted keys.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any, Sequence, TypeVar

from pydantic import BaseModel, ValidationError

_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?$")
_KEY = re.compile(r"""^\s*((?:"[^"]*"|'[^']*'|[A-Za-z0-9_-]+)(?:\s*\.\s*(?:"[^"]*"|'[^']*'|[A-Za-z0-9_-]+))*)\s*=""")


M = TypeVar("M", bound=BaseModel)


class ConfigFileError(ValueError):
    """A configuration file that cannot be used: ``path``, ``line`` (1-based, or
    ``None`` when unknown), ``field`` (dotted key, or ``None``) and ``reason``."""

    def __init__(self, path: Path | str, reason: str, line: int | None = None, field: str | None = None) -> None:
        self.path, self.reason, self.line, self.field = Path(path), reason, line, field
        where = f"{self.path.name}:{line}" if line else self.path.name
        super().__init__(f"{where}: {field}: {reason}" if field else f"{where}: {reason}")


def _parts(key: str) -> list[str]:
    return [p.strip().strip("\"'") for p in re.findall(r"\"[^\"]*\"|'[^']*'|[^.]+", key)]


def line_of(text: str, loc: Sequence[str | int]) -> int | None:
    """The 1-based line of ``text`` that sets the key at ``loc`` (a path of keys,
    list indexes ignored); for a key that is absent, the line of the deepest
    table on its path that is present; ``None`` when nothing matches."""
    want = [str(p) for p in loc if not isinstance(p, int)]
    table: list[str] = []
    best: tuple[int, int] | None = None  # (matched depth, line)
    for number, raw in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(raw)
        if header:
            table = _parts(header.group(1))
            path = table
        else:
            key = _KEY.match(raw)
            if not key:
                continue
            path = table + _parts(key.group(1))
        depth = 0
        while depth < min(len(path), len(want)) and path[depth] == want[depth]:
            depth += 1
        if depth == len(path) and (best is None or depth > best[0]):
            best = (depth, number)
            if depth == len(want):
                return number
    return best[1] if best and best[0] > 0 else None


def read_toml(path: Path) -> tuple[dict[str, Any], str]:
    """The parsed file and its text; ``ConfigFileError`` for an unreadable file
    or invalid TOML (with the line ``tomllib`` reports)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigFileError(path, f"cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    return parse_toml(text, path), text


def parse_toml(text: str, path: Path | str) -> dict[str, Any]:
    """``text`` parsed as TOML; ``ConfigFileError`` naming the line otherwise."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"line (\d+)", str(exc))
        raise ConfigFileError(path, f"not valid TOML: {exc}", int(found.group(1)) if found else None) from None


def validated(model: type[M], raw: dict[str, Any], text: str, path: Path | str) -> M:
    """``raw`` validated as ``model``; the first error becomes a ``ConfigFileError``
    with the line that sets (or should set) the offending key."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise error_from(exc, text, path) from None


def _message(err: Any) -> str:
    return str(err.get("ctx", {}).get("error", err["msg"])) if err["type"] == "value_error" else str(err["msg"])


def error_from(exc: ValidationError, text: str, path: Path | str) -> ConfigFileError:
    """``exc`` as a ``ConfigFileError`` for the file ``path`` holding ``text``: line
    and key of an unknown key first (a misspelling also makes the right key
    missing; the unknown one is where the file must change), else of the first
    error; the others follow in the reason."""
    errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
    first, rest = errors[0], errors[1:]
    reason = _message(first) + "".join(f"; also {'.'.join(map(str, e['loc']))}: {_message(e)}" for e in rest)
    return ConfigFileError(path, reason, line_of(text, first["loc"]), ".".join(str(p) for p in first["loc"]) or None)
