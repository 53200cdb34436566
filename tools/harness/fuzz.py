"""Coverage-guided fuzzing (atheris, libFuzzer) of the byte-level parsers, beside the
hypothesis suite (``pytest -m hostile``): raw bytes into the SMS reply reader, an
intake record off the wire, a UHHC replay file and a provider CSV. Each target
allows only the refusal its parser documents; anything else is a crash that
libFuzzer reports with the input that caused it.

    pip install -e ".[fuzz]"
    scripts/fuzz sms -max_total_time=60          # libFuzzer options after the target
    scripts/fuzz uhhc corpus/ -runs=200000       # a corpus folder is kept and grown
"""

from __future__ import annotations

import io
import json
import re
import sys
from pathlib import Path
from typing import Callable


def _sms() -> Callable[[bytes], None]:
    from config.locale import get_texts
    from handlers.channels import sms

    texts = get_texts()

    def target(data: bytes) -> None:
        text = data.decode("utf-8", "replace")
        reply = sms.parse_reply(text)
        assert reply.code is None or re.fullmatch(r"[0-9]{4}", reply.code), reply
        assert sms.reply_text(texts, reply.kind, reply.code, "zh", "careline")
        rating = sms.parse_rating(text)
        assert rating is None or 1 <= rating <= 5, rating
        sms.is_alarm_text(text, frozenset({"SOS", "救命"}))

    return target


def _intake() -> Callable[[bytes], None]:
    from handlers.channels.intake import InvalidIntake, validate_intake
    from handlers.model import Elder

    elders = {"e1": Elder("e1", "gulou", 3)}

    def target(data: bytes) -> None:
        try:
            value = json.loads(data)
        except (ValueError, RecursionError):
            return  # streams.steps.decode dead-letters these
        if not isinstance(value, dict):
            return
        try:
            request = validate_intake(value, elders.get, {"meal"})
        except InvalidIntake as exc:
            assert exc.field and exc.reason
            return
        assert request.window_start < request.window_end

    return target


def _uhhc() -> Callable[[bytes], None]:
    from handlers.datasets.uhhc import InstanceError, load_instance

    def target(data: bytes) -> None:
        try:
            instance = load_instance(data, "fuzz")
        except InstanceError as exc:
            assert str(exc)
            return
        size = len(instance.distances)
        assert all(0 <= n.location_index < size for n in instance.needs)
        assert all(0 <= c.home_index < size for c in instance.roster)

    return target


def _providers() -> Callable[[bytes], None]:
    from handlers.datasets.providers import read_providers

    def target(data: bytes) -> None:
        try:
            text = data.decode("utf-8")
            providers, rejected = read_providers(io.StringIO(text, newline=""))
        except ValueError:
            return  # not UTF-8, a header without the columns, or not CSV: the importer's exit status 2
        assert all(r.field and r.reason for r in rejected)
        assert all(len(p.name) <= 300 and "\x00" not in p.name for p in providers)

    return target


TARGETS: dict[str, Callable[[], Callable[[bytes], None]]] = {
    "sms": _sms,
    "intake": _intake,
    "uhhc": _uhhc,
    "providers": _providers,
}

_RECORD = {
    "intake_id": "i1",
    "channel": "hotline",
    "elder_id": "e1",
    "service_type": "meal",
    "duration_minutes": 30,
    "submitted_at": "2026-11-30T07:00:00+08:00",
    "priority": "urgent",
    "window": {"start": "2026-11-30T11:00:00+08:00", "end": "2026-11-30T12:00:00+08:00"},
    "sync": {"type": "sequential", "partner_request_id": "i0", "max_gap_minutes": 30},
}
_INSTANCE = {
    "metadata": {"name": "tiny", "horizon": 600, "time_window_met": "at_service_end"},
    "distances": [[0, 10], [10, 0]],
    "terminal_points": [{"id": "d1", "distance_matrix_index": 0}],
    "caregivers": [
        {"id": "c1", "abilities": ["s1"], "departing_point": "d1", "working_shift": {"start": 0, "end": 480}}
    ],
    "patients": [
        {
            "id": "p1",
            "distance_matrix_index": 1,
            "time_windows": [{"start": 60, "end": 180}],
            "required_services": [{"service": "s1", "duration": 30}, {"service": "s1", "duration": 9}],
            "synchronization": {"type": "simultaneous"},
        }
    ],
}


def _provider_csv() -> str:
    from handlers.datasets.providers import REQUIRED_COLUMNS

    row = {c: "" for c in REQUIRED_COLUMNS} | {
        "ProviderType": "HOMECARE SERVICES CONTRACTS",
        "DFTA ID": "C1",
        "ProgramName": "WAYSIDE",
        "Borough": "BRONX",
        "ProgramPhone": "347-938-8453",
        "Latitude": "40.6",
        "Longitude": "-73.9",
        "MonHourOpen": "9:00",
        "MonHourClose": "5:00",
    }
    return ",".join(REQUIRED_COLUMNS) + "\r\n" + ",".join(row.values()) + "\r\n"


#: valid inputs libFuzzer starts from: random bytes alone seldom become JSON or CSV
SEEDS: dict[str, Callable[[], list[str]]] = {
    "sms": lambda: ["1", "ＹＥＳ 4821", "到 ٤٨٢١", "DONE 4821", "退订", "4分", "SOS"],
    "intake": lambda: [json.dumps(_RECORD)],
    "uhhc": lambda: [json.dumps(_INSTANCE)],
    "providers": lambda: [_provider_csv()],
}


def main(argv: list[str]) -> None:
    """``fuzz TARGET [libFuzzer options] [corpus folders]``; without a folder the corpus is
    ``.cache/fuzz/TARGET``, seeded with ``SEEDS``. Exits with libFuzzer's status."""
    if len(argv) < 2 or argv[1] not in TARGETS:
        sys.exit(f"usage: scripts/fuzz {{{','.join(TARGETS)}}} [libFuzzer options] [corpus folder]")
    try:
        import atheris
    except ImportError:
        sys.exit('atheris is not installed: pip install -e ".[fuzz]"')
    name, options = argv[1], argv[2:]
    with atheris.instrument_imports(include=["handlers"]):  # before anything imports the parsers
        target = TARGETS[name]()
    if not [o for o in options if not o.startswith("-")]:
        corpus = Path(".cache") / "fuzz" / name
        corpus.mkdir(parents=True, exist_ok=True)
        for i, seed in enumerate(SEEDS[name]()):
            (corpus / f"seed-{i}").write_text(seed, encoding="utf-8")
        options.append(str(corpus))
    sys.setrecursionlimit(1000)  # a deep nesting is refused, as in the worker, not a libFuzzer stack overflow
    atheris.Setup([argv[0], *options], target)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
