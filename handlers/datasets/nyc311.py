"""Service calls read from a NYC 311 extract: when, where and through which channel a city's
residents asked for something, turned into elders' care requests by documented rules.

Source: NYC 311 service requests (city open data), two 1,000-row extracts in
``shared/data/nyc311/`` (see its README). Columns are read by name, however the export spells
them: ``Created Date``, ``created_date`` and ``CREATED_DATE`` are one column (lower case, runs
of spaces, ``-`` and ``.`` read as ``_``). Needed: ``created_date``, ``complaint_type``,
``open_data_channel_type``; read when present: ``unique_key``, ``latitude``, ``longitude``,
``borough``, ``community_board``.

``created_date`` is New York wall-clock time without a zone, as 311 publishes it (ISO
``2024-04-15T22:51:53.000`` in the API, ``04/15/2024 10:51:53 PM`` in the portal's CSV);
it is read in ``America/New_York`` and returned in UTC.

Channel (``CHANNELS``): ``PHONE`` -> ``hotline``; ``ONLINE`` and ``MOBILE`` -> ``app``; every
other value (311's ``UNKNOWN`` and ``OTHER``, which mark requests entered by city staff, and a
blank) -> ``operator``: a person at the center entered it.

Service type (``service_for``): the first rule of ``SERVICE_RULES`` whose words occur in the
complaint type (case-insensitive) decides; a complaint no rule names asks for
``companionship``. The rules read a complaint as what an elder living there would need from a
home-care programme, in the services the aging department's home-care and related contracts
offer (``handlers.datasets.providers``): noise of any kind -> ``companionship`` (first, so
``Noise - Street/Sidewalk`` is noise); food -> ``meal``; no heat or hot water -> ``bathing``
(help with a wash); an unsanitary, dirty or damaged home -> ``cleaning`` (the homecare
contracts' housekeeping and chore visit); a broken street, sidewalk, curb or light ->
``medical_escort`` (someone to get the elder out and back safely); parking, disorder and
everything else -> ``companionship`` (a visit to an elder who is disturbed or worried).

Coordinates: a row with both ``latitude`` and ``longitude`` is placed there; a row without them
is kept with ``point`` None (the city build places it approximately or counts it as unplaced,
``handlers.datasets.city``); a row with a coordinate that is not a number, only one of the two,
or a point outside the city's bounding box, is rejected naming line and column, as is a row
with a ``created_date`` that does not read.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Callable, Iterable, Iterator
from zoneinfo import ZoneInfo

NEW_YORK = ZoneInfo("America/New_York")
REQUIRED = ("created_date", "complaint_type", "open_data_channel_type")
CHANNELS = {"PHONE": "hotline", "ONLINE": "app", "MOBILE": "app"}
OTHER_CHANNEL = "operator"
SERVICE_RULES: tuple[tuple[str, str], ...] = (
    ("noise", "companionship"),
    ("food", "meal"),
    ("vendor", "meal"),
    ("heat", "bathing"),
    ("hot water", "bathing"),
    ("unsanitary", "cleaning"),
    ("dirty", "cleaning"),
    ("rodent", "cleaning"),
    ("dumping", "cleaning"),
    ("disposal", "cleaning"),
    ("litter", "cleaning"),
    ("collection", "cleaning"),
    ("paint", "cleaning"),
    ("plumbing", "cleaning"),
    ("water leak", "cleaning"),
    ("door", "cleaning"),
    ("flooring", "cleaning"),
    ("electric", "cleaning"),
    ("appliance", "cleaning"),
    ("air quality", "cleaning"),
    ("mold", "cleaning"),
    ("street condition", "medical_escort"),
    ("sidewalk", "medical_escort"),
    ("curb", "medical_escort"),
    ("highway", "medical_escort"),
    ("traffic", "medical_escort"),
    ("street light", "medical_escort"),
)
DEFAULT_SERVICE = "companionship"
#: the five boroughs' bounding box with a margin (degrees): a point outside is not in the city
CITY_BOX = (40.45, 41.0, -74.3, -73.65)
_SEPARATORS = re.compile(r"[\s\-.]+")
_FORMATS = ("%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M")
Cell = Callable[[str], str]


@dataclass(frozen=True)
class ServiceCall:
    """One 311 row: ``key`` (``unique_key``, else ``line-N``), ``created`` (UTC), the 311
    ``complaint_type`` and ``channel`` as given, careline's ``channel_kind`` and
    ``service_type``, ``point`` (latitude, longitude) or None, ``borough`` (upper case, "" when
    not one of the five), ``community_board`` as given (``12 MANHATTAN``), ``line`` in the file."""

    key: str
    created: datetime
    complaint_type: str
    channel: str
    channel_kind: str
    service_type: str
    point: tuple[float, float] | None
    borough: str
    community_board: str
    line: int


@dataclass(frozen=True)
class RejectedCall:
    """A row not read: 1-based file line (the header is line 1), column as the file spells it, why."""

    line: int
    column: str
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}, column {self.column}: {self.reason}"


class ExtractError(ValueError):
    """The file cannot be read as a 311 extract (a needed column is missing, or it is not CSV)."""


BOROUGHS = ("BRONX", "BROOKLYN", "MANHATTAN", "QUEENS", "STATEN ISLAND")


def column_key(name: str) -> str:
    """A column name as compared: ``"Created Date"`` -> ``"created_date"``."""
    return _SEPARATORS.sub("_", name.strip().removeprefix("\ufeff").strip()).lower()


def channel_kind(channel: str) -> str:
    """careline's channel for a 311 ``open_data_channel_type`` (rule in the module docstring)."""
    return CHANNELS.get(channel.strip().upper(), OTHER_CHANNEL)


def service_for(complaint_type: str) -> str:
    """The service type an elder with this 311 complaint asks for (``SERVICE_RULES``)."""
    text = complaint_type.lower()
    return next((service for word, service in SERVICE_RULES if word in text), DEFAULT_SERVICE)


def parse_created(text: str) -> datetime:
    """A 311 ``created_date`` (New York wall-clock time) in UTC; raises ValueError."""
    text = text.strip()
    try:
        local = datetime.fromisoformat(text)
    except ValueError:
        for fmt in _FORMATS:
            try:
                local = datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
        else:
            raise ValueError(f"not a date and time: {text!r}") from None
    if local.tzinfo is None:
        local = local.replace(tzinfo=NEW_YORK)
    return local.astimezone(UTC)


def read_calls(lines: Iterable[str]) -> tuple[list[ServiceCall], list[RejectedCall]]:
    """Read a 311 extract from CSV text lines (with or without a byte-order mark): the calls in
    file order and the rejected rows. Raises ``ExtractError`` naming what is missing."""
    reader = csv.reader(lines)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise ExtractError(f"line 1: not CSV ({exc})") from None
    if not header:
        raise ExtractError("empty file: no header")
    index = {column_key(name): i for i, name in reversed(list(enumerate(header)))}
    missing = [c for c in REQUIRED if c not in index]
    if missing:
        raise ExtractError(f"311 extract lacks columns: {', '.join(missing)} (header: {', '.join(header[:8])} …)")
    calls: list[ServiceCall] = []
    rejected: list[RejectedCall] = []
    for line, row in _rows(reader, reader.line_num):

        def cell(key: str, row: list[str] = row) -> str:
            i = index.get(key)
            return row[i].strip() if i is not None and i < len(row) else ""

        try:
            calls.append(_call(cell, line))
        except _CellError as exc:
            rejected.append(RejectedCall(line, header[index[exc.key]], exc.reason))
    return calls, rejected


class _CellError(ValueError):
    def __init__(self, key: str, reason: str) -> None:
        super().__init__(reason)
        self.key, self.reason = key, reason


def _rows(reader: Any, line: int) -> Iterator[tuple[int, list[str]]]:
    """(first line of the row, row) for every row with a value, ``line`` the header's last line."""
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ExtractError(f"line {line + 1}: not CSV ({exc})") from None
        start, line = line + 1, reader.line_num
        if any(v.strip() for v in row):
            yield start, row


def _call(cell: Cell, line: int) -> ServiceCall:
    try:
        created = parse_created(cell("created_date"))
    except ValueError as exc:
        raise _CellError("created_date", str(exc)) from None
    complaint, channel = cell("complaint_type"), cell("open_data_channel_type")
    borough = cell("borough").upper()
    return ServiceCall(
        key=cell("unique_key") or f"line-{line}",
        created=created,
        complaint_type=complaint,
        channel=channel,
        channel_kind=channel_kind(channel),
        service_type=service_for(complaint),
        point=_point(cell),
        borough=borough if borough in BOROUGHS else "",
        community_board=cell("community_board"),
        line=line,
    )


def _point(cell: Cell) -> tuple[float, float] | None:
    texts = {key: cell(key) for key in ("latitude", "longitude")}
    if not any(texts.values()):
        return None
    values: dict[str, float] = {}
    for key, text in texts.items():
        if not text:
            raise _CellError(key, "blank while the other coordinate is given")
        try:
            values[key] = float(text)
        except ValueError:
            raise _CellError(key, f"not a number: {text!r}") from None
    lat, lon = values["latitude"], values["longitude"]
    south, north, west, east = CITY_BOX
    if not south <= lat <= north:
        raise _CellError("latitude", f"{lat} is outside New York City ({south}..{north})")
    if not west <= lon <= east:
        raise _CellError("longitude", f"{lon} is outside New York City ({west}..{east})")
    return (lat, lon)
