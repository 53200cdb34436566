"""Hostile and malformed input on the parsers that need no web app: caregivers' and
elders' SMS texts, phone numbers, intake records, the UHHC replay file and the
provider CSV. Each either reads the input or refuses it naming what is wrong;
none raises anything else."""

from __future__ import annotations

import copy
import csv
import io
import json
import re
from datetime import UTC

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from rich.console import Console

from careline.importing import import_provider_file
from config.locale import get_texts
from handlers.channels import sms
from handlers.channels.intake import InvalidIntake, validate_intake
from handlers.channels.phone import InvalidPhoneNumber, mask, to_e164, try_e164
from handlers.datasets.providers import REQUIRED_COLUMNS, TEXT_LIMITS, read_providers
from handlers.datasets.uhhc import InstanceError, load_instance, parse_instance
from handlers.model import Elder
from tests.hostile_support import NASTY, PATHS, RECORD, bogus_phone, hostile_text, json_values, mangled_records

pytestmark = pytest.mark.hostile
TEXTS = get_texts()

FULL_WIDTH = {ord(c): ord(c) + 0xFEE0 for c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"}
#: the digits 0-9 in scripts a caregiver's phone may type: ASCII, full-width, Arabic-Indic, Devanagari, Bengali
DIGIT_ZEROS = (0x30, 0xFF10, 0x660, 0x966, 0x9E6)


def in_script(code: str, zero: int) -> str:
    return "".join(chr(zero + int(d)) for d in code)


# --- SMS replies ------------------------------------------------------------------------------


@given(text=hostile_text())
@example(text="⓵")  # isdigit() but not int(): was a ValueError, a 500 on the elder's SMS webhook
def test_every_sms_text_gets_an_answer_and_a_code_is_four_plain_digits(text, hostile_cases):
    reply = sms.parse_reply(text)
    assert reply.code is None or re.fullmatch(r"[0-9]{4}", reply.code)
    for language in ("zh-CN", "en"):
        assert sms.reply_text(TEXTS, reply.kind, reply.code, language, "careline")
        assert sms.unknown_code_text(TEXTS, reply.code, ["4821"], language, "careline")
    rating = sms.parse_rating(text)
    assert rating is None or 1 <= rating <= 5
    assert isinstance(sms.is_alarm_text(text, frozenset({"SOS", "救命"})), bool)
    hostile_cases.record("sms reply text", "accepted")


@given(
    word=st.sampled_from(["1", "y", "Yes", "YES", "接", "接单"]),
    code=st.text("0123456789", min_size=4, max_size=4),
    zero=st.sampled_from(DIGIT_ZEROS),
    wide=st.booleans(),
    space=st.sampled_from(["", " ", "\u3000", "\t", "  "]),
    tail=st.sampled_from(["", ".", "!", "。", "！"]),
    pad=st.sampled_from(["", " ", "\u3000", "\n"]),
)
def test_an_accept_in_full_width_or_another_scripts_digits_reads_like_a_plain_one(
    word, code, zero, wide, space, tail, pad, hostile_cases
):
    text = pad + (word.translate(FULL_WIDTH) if wide else word) + space + in_script(code, zero) + tail + pad
    assert sms.parse_reply(text) == sms.Reply(sms.ReplyKind.ACCEPT, code), text
    hostile_cases.record("sms reply text", "accepted")


@pytest.mark.parametrize(
    "text,kind,code",
    [
        ("ＹＥＳ", "accept", None),
        ("１２３４", "help", None),
        ("ｄｏｎｅ　４８２１", "check_out", "4821"),
        ("到٤٨٢١", "check_in", "4821"),
        ("拒 ४८२१", "decline", "4821"),
        ("👍", "help", None),
        ("1👍", "help", None),
        ("Y 4821 <script>", "help", None),
        ("'; DROP TABLE offers; --", "help", None),
        ("ＳＴＯＰ", "opt_out", None),
    ],
)
def test_mixed_scripts_emoji_and_markup_in_replies(text, kind, code, hostile_cases):
    assert sms.parse_reply(text) == sms.Reply(sms.ReplyKind(kind), code)
    hostile_cases.record("sms reply text", "accepted")


@pytest.mark.parametrize(
    "text,rating",
    [
        ("４", 4),
        ("四", 4),
        ("4分", 4),
        ("⓸", 4),
        ("፬", 4),
        ("٤", 4),
        ("²", 2),
        ("6", None),
        ("0", None),
        ("44", None),
        ("Ⅳ", None),
        ("", None),
    ],
)
def test_an_elders_rating_in_any_digit_form_is_read_or_ignored_never_an_error(text, rating, hostile_cases):
    assert sms.parse_rating(text) == rating
    hostile_cases.record("sms reply text", "accepted")


# --- phone numbers --------------------------------------------------------------------------


@given(
    raw=st.one_of(
        bogus_phone(),
        st.sampled_from(
            [
                "+8613800138000",
                "13800138000",
                "138 0013 8000",
                "347-938-8453",
                "+1 (347) 938-8453",
                "008613800138000",
                "＋８６１３８００１３８０００",
            ]
        ),
    ),
    region=st.sampled_from(["CN", "US", "cn", "ZZ", "", "中国"]),
)
def test_a_bogus_phone_number_is_refused_with_a_reason_or_normalised_to_e164(raw, region, hostile_cases):
    try:
        number = to_e164(raw, region)
    except InvalidPhoneNumber as exc:
        assert str(exc)
        assert try_e164(raw, region) is None
        hostile_cases.record("phone number", "refused")
    else:
        assert re.fullmatch(r"\+[1-9][0-9]{6,14}", number)
        assert try_e164(raw, region) == number
        hostile_cases.record("phone number", "accepted")
    masked = mask(raw)
    assert len(re.findall(r"[0-9]", masked)) <= 4 + 3  # the country code and the last four digits at most


# --- intake records (the pure handler; the stream step is in tests/integration) ---------------

ELDERS = {"e1": Elder("e1", "gulou", 3)}


@given(record=mangled_records())
@example(record=dict(RECORD, submitted_at="0001-01-01T00:00:00+14:00"))  # no UTC form: was an OverflowError
@example(record=dict(RECORD, window={"start": "2026-11-30T11:00:00+08:00", "end": "9999-12-31T23:59:59-14:00"}))
def test_a_mangled_intake_record_is_a_request_or_refused_naming_a_field(record, hostile_cases):
    try:
        request = validate_intake(record, ELDERS.get, {"meal"})
    except InvalidIntake as exc:
        assert exc.field.split(".")[0] in {p[0] for p in PATHS} | {"record"}, exc.field
        assert exc.reason
        hostile_cases.record("intake record", "dead-lettered")
    else:
        assert request.window_start < request.window_end
        assert request.window_start.tzinfo == UTC and request.submitted_at.tzinfo == UTC
        hostile_cases.record("intake record", "accepted")


# --- the UHHC replay file ---------------------------------------------------------------------

INSTANCE = {
    "metadata": {
        "name": "tiny",
        "origin": "test",
        "time_window_met": "at_service_end",
        "horizon": 600,
        "cost_components": {"travel_time": 1, "total_tardiness": "HARD"},
    },
    "distances": [[0, 10, 12], [10, 0, 5], [12, 5, 0]],
    "terminal_points": [{"id": "d1", "distance_matrix_index": 0}],
    "caregivers": [
        {
            "id": "c1",
            "abilities": ["s1", "s2"],
            "departing_point": "d1",
            "arrival_point": "d1",
            "working_shift": {"start": 0, "end": 480},
        }
    ],
    "patients": [
        {
            "id": "p1",
            "distance_matrix_index": 1,
            "time_windows": [{"start": 60, "end": 180}],
            "required_services": [{"service": "s1", "duration": 30}],
        },
        {
            "id": "p2",
            "distance_matrix_index": 2,
            "time_windows": [{"start": 90, "end": 240}],
            "required_services": [{"service": "s1", "duration": 20}, {"service": "s2", "duration": 15}],
            "synchronization": {"type": "sequential", "distance": {"min": 0, "max": 30}},
        },
    ],
}


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, prefix + (key,))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from _paths(child, prefix + (i,))


INSTANCE_PATHS = [p for p in _paths(INSTANCE) if p]


@st.composite
def mangled_instances(draw) -> dict:
    data = copy.deepcopy(INSTANCE)
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(INSTANCE_PATHS))
        parent = data
        try:
            for key in path[:-1]:
                parent = parent[key]
            if draw(st.booleans()):
                del parent[path[-1]]
            else:
                parent[path[-1]] = draw(json_values())
        except (KeyError, IndexError, TypeError):
            continue
    return data


def _check_instance(instance) -> None:
    size = len(instance.distances)
    assert instance.needs and all(len(row) == size for row in instance.distances)
    for need in instance.needs:
        assert 0 <= need.location_index < size and need.duration >= 0 and need.window_start <= need.window_end
    for entry in instance.roster:
        assert 0 <= entry.home_index < size


@given(data=mangled_instances())
# the check for features careline does not plan iterated 'patients' before its shape was checked
@example(data={**INSTANCE, "patients": True})
@example(data={**INSTANCE, "caregivers": 7})
def test_a_mangled_replay_file_is_read_whole_or_refused_naming_the_field(data, hostile_cases):
    try:
        instance = parse_instance(data, "fuzz")
    except InstanceError as exc:
        assert str(exc)
        hostile_cases.record("uhhc replay file", "refused")
    else:
        _check_instance(instance)
        hostile_cases.record("uhhc replay file", "accepted")


RAW_FILES = [
    b"",
    b"\xff\xfe\x00{",
    b"[" * 100_000,
    b'{"metadata": ' * 50_000,
    b"null",
    b"[]",
    b"NaN",
    json.dumps(INSTANCE).encode()[:-7],
    json.dumps(INSTANCE).encode().replace(b'"p1"', b'"p\xc3"'),
    json.dumps(INSTANCE).replace("60", "1e999").encode(),
    json.dumps(INSTANCE).replace("60", "NaN").encode(),
]


@given(
    raw=st.one_of(
        st.sampled_from(RAW_FILES),
        st.binary(max_size=300),
        st.builds(lambda cut: json.dumps(INSTANCE).encode()[:cut], st.integers(0, 900)),
    )
)
def test_replay_file_bytes_that_are_not_an_instance_are_refused_with_a_reason(raw, hostile_cases):
    try:
        instance = load_instance(raw, "fuzz")
    except InstanceError as exc:
        assert str(exc)
        hostile_cases.record("uhhc replay file", "refused")
    else:
        _check_instance(instance)
        hostile_cases.record("uhhc replay file", "accepted")


def test_the_untouched_small_instance_reads(hostile_cases):
    instance = load_instance(json.dumps(INSTANCE).encode(), "tiny")
    assert [(n.patient_id, n.service_id, n.sync_partner) for n in instance.needs] == [
        ("p1", "s1", None),
        ("p2", "s1", None),
        ("p2", "s2", "s1"),
    ]
    hostile_cases.record("uhhc replay file", "accepted")


@pytest.mark.parametrize("raw", [b"[" * 100_000, b"\xff\xfe{}", b'{"metadata": {}}'])
def test_the_cli_refuses_a_replay_file_it_cannot_read_with_the_reason_and_status_2(tmp_path, raw, hostile_cases):
    from typer.testing import CliRunner

    from careline.cli import app

    path = tmp_path / "instance.json"
    path.write_bytes(raw)
    result = CliRunner().invoke(app, ["plan", str(path)])
    assert result.exit_code == 2 and "cannot read" in result.output, result.output
    hostile_cases.record("uhhc replay file", "refused")


# --- the provider CSV ---------------------------------------------------------------------------

VALID_ROW = {
    "ProviderType": "HOMECARE SERVICES CONTRACTS",
    "DFTA ID": "C9002",
    "ProgramName": "WAYSIDE",
    "SponsorName": "WAYSIDE OUT-REACH",
    "ProgramAddress": "528 Mother Gaston Blvd",
    "Borough": "BROOKLYN",
    "ProgramPhone": "347-938-8453",
    "Latitude": "40.665956",
    "Longitude": "-73.905923",
    **{c: "" for c in REQUIRED_COLUMNS if "Hour" in c},
    "MonHourOpen": "9:00",
    "MonHourClose": "5:00",
}
COLUMNS = list(REQUIRED_COLUMNS) + ["Postcode"]


ODD_CELLS = [
    "9 :00",
    "25:00",
    "12:60",
    "１２:３０",
    "٠٩:٠٠",
    ":",
    "nan",
    "inf",
    "-91",
    "1e400",
    "BRONX",
    "staten island",
]


@st.composite
def provider_rows(draw) -> list[str]:
    row = dict(VALID_ROW, **{"DFTA ID": draw(st.text("ABC0123456789", min_size=1, max_size=6))})
    for column in draw(st.lists(st.sampled_from(COLUMNS), max_size=4)):
        row[column] = draw(
            st.one_of(hostile_text(60), bogus_phone(), st.text(min_size=290, max_size=310), st.sampled_from(ODD_CELLS))
        )
    cells = [row.get(c, "") for c in COLUMNS]
    shape = draw(st.sampled_from(["same", "short", "long"]))
    if shape == "short":
        cells = cells[: draw(st.integers(1, len(cells) - 1))]
    elif shape == "long":
        cells += draw(st.lists(hostile_text(10), min_size=1, max_size=3))
    return cells


@given(rows=st.lists(provider_rows(), min_size=1, max_size=6))
def test_every_provider_row_is_loaded_or_rejected_naming_its_column_and_line(rows, hostile_cases):
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    providers, rejected = read_providers(io.StringIO(text.getvalue(), newline=""))
    assert len(providers) + len(rejected) == len(rows)  # no row vanishes
    for r in rejected:
        assert r.field in set(REQUIRED_COLUMNS) | {"row"} and r.reason and 2 <= r.line
    for p in providers:
        assert p.phone is None or re.fullmatch(r"\+1[0-9]{10}", p.phone)
        assert len(p.name) <= TEXT_LIMITS["ProgramName"] and "\x00" not in p.name + p.address + p.sponsor
        assert p.latitude is None or -90 <= p.latitude <= 90
    for _ in providers:
        hostile_cases.record("provider csv row", "accepted")
    for _ in rejected:
        hostile_cases.record("provider csv row", "dead-lettered")


def test_markup_and_sql_in_a_provider_name_are_kept_as_text(hostile_cases):
    text = io.StringIO()
    writer = csv.DictWriter(text, COLUMNS, extrasaction="ignore")
    writer.writeheader()
    writer.writerow(dict(VALID_ROW, ProgramName=NASTY[0] + NASTY[6]))
    (provider,), rejected = read_providers(io.StringIO(text.getvalue(), newline=""))
    assert provider.name == NASTY[0] + NASTY[6] and rejected == []
    hostile_cases.record("provider csv row", "accepted")


def _csv_bytes(*rows: dict[str, str]) -> bytes:
    text = io.StringIO()
    writer = csv.DictWriter(text, COLUMNS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return text.getvalue().encode()


@pytest.mark.parametrize(
    "raw,reason",
    [
        (b"", "lacks columns"),
        (b"\xff\xfe\x00D\x00F", "codec can't decode"),
        (_csv_bytes(VALID_ROW).replace(b"WAYSIDE", b"WAYS\xc3IDE"), "codec can't decode"),
        (_csv_bytes(dict(VALID_ROW, ProgramName="x" * 200_000)), "line 2: not CSV (field larger than field limit"),
        (b"ProviderType,DFTA ID\r\nHOMECARE SERVICES CONTRACTS,C1\r\n", "lacks columns: ProgramName"),
    ],
)
def test_a_provider_file_that_is_not_the_csv_is_refused_with_the_reason_and_exit_status_2(
    tmp_path, raw, reason, hostile_cases
):
    path = tmp_path / "providers.csv"
    path.write_bytes(raw)
    out = Console(file=io.StringIO(), width=300)
    assert import_provider_file(path, f"sqlite:///{tmp_path / 'p.db'}", out) == 2
    assert "cannot read" in out.file.getvalue() and reason in out.file.getvalue()
    hostile_cases.record("provider csv file", "refused")


def test_a_row_with_a_nul_or_an_overlong_name_is_rejected_and_the_rest_loaded(tmp_path, hostile_cases):
    path = tmp_path / "providers.csv"
    path.write_bytes(
        _csv_bytes(
            VALID_ROW,
            dict(VALID_ROW, **{"DFTA ID": "C2", "ProgramName": "A\x00B"}),
            dict(VALID_ROW, **{"DFTA ID": "C3", "SponsorName": "S" * 301}),
        )
    )
    out = Console(file=io.StringIO(), width=300)
    assert import_provider_file(path, f"sqlite:///{tmp_path / 'p.db'}", out) == 0
    printed = out.file.getvalue()
    assert "loaded 1 provider organisations" in printed and "2 rows rejected" in printed
    assert "contains control characters" in printed and "longer than 300 characters" in printed
    hostile_cases.record("provider csv file", "accepted")


# --- the atheris harness (scripts/fuzz) stays runnable --------------------------------------------


@pytest.mark.parametrize("name", ["sms", "intake", "uhhc", "providers"])
def test_each_fuzz_target_takes_its_seeds_and_hostile_bytes_without_a_crash(name):
    from tools.harness.fuzz import SEEDS, TARGETS

    target = TARGETS[name]()
    for data in [seed.encode() for seed in SEEDS[name]()] + RAW_FILES + [n.encode() for n in NASTY]:
        target(data)
