"""Reading the NYC Department for the Aging contracted providers into careline providers."""

from __future__ import annotations

import csv
import io
from datetime import time
from pathlib import Path

import pytest

from handlers.datasets.providers import (
    PROVIDER_TYPE_SERVICES,
    SERVICE_TYPES,
    OpeningHours,
    RejectedRow,
    parse_closing_time,
    read_providers,
)

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
HEADER = [
    "ProviderType",
    "DFTA ID",
    "ProgramName",
    "SponsorName",
    "ProgramAddress",
    "ProgramCity",
    "ProgramState",
    "Postcode",
    "Borough",
    "ProgramPhone",
    "DFTA Funded",
    *(f"{d}Hour{k}" for d in DAYS for k in ("Open", "Close")),
    "Latitude",
    "Longitude",
]
# New York City's bounding box (WGS84 degrees), generous by a few hundred metres.
NYC_LATITUDE, NYC_LONGITUDE = (40.47, 40.93), (-74.27, -73.69)


def row(**fields: str) -> dict[str, str]:
    base = {
        "ProviderType": "HOMECARE SERVICES CONTRACTS",
        "DFTA ID": "C9002",
        "ProgramName": "WAYSIDE (C90)",
        "SponsorName": "WAYSIDE OUT-REACH",
        "ProgramAddress": "528 Mother Gaston Blvd",
        "ProgramCity": "BROOKLYN",
        "ProgramState": "NY",
        "Postcode": "11212",
        "Borough": "BROOKLYN",
        "ProgramPhone": "347-938-8453",
        "DFTA Funded": "Y",
        "Latitude": "40.665956",
        "Longitude": "-73.905923",
    }
    base.update({f"{d}HourOpen": "09:00" for d in DAYS[:5]} | {f"{d}HourClose": "05:00" for d in DAYS[:5]})
    base.update({f"{d}Hour{k}": "00:00" for d in DAYS[5:] for k in ("Open", "Close")})
    base.update({key.replace("_", " "): value for key, value in fields.items()})
    return base


def csv_lines(*rows: dict[str, str], bom: bool = False) -> list[str]:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=HEADER, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return (("\ufeff" if bom else "") + buffer.getvalue()).splitlines(keepends=True)


def test_closing_time_without_am_pm_is_read_as_afternoon():
    assert parse_closing_time("05:00") == time(17, 0)
    assert parse_closing_time("04:30") == time(16, 30)


def test_closing_time_at_twelve_stays_noon_and_24_hour_times_are_kept():
    assert parse_closing_time("12:30") == time(12, 30)
    assert parse_closing_time("18:00") == time(18, 0)


def test_a_file_starting_with_a_byte_order_mark_is_read_by_column_name():
    providers, rejected = read_providers(csv_lines(row(), bom=True))
    assert rejected == []
    assert providers[0].provider_id == "C9002"
    assert providers[0].service_types == ("cleaning", "bathing", "companionship")
    assert providers[0].service_area == "brooklyn"


def test_weekdays_open_at_nine_and_close_at_five_in_the_afternoon_while_weekend_is_closed():
    (provider,), _ = read_providers(csv_lines(row()))
    assert provider.opening_hours == tuple(OpeningHours(day, time(9), time(17)) for day in range(5))


def test_blank_hours_and_colon_only_hours_mean_the_day_is_left_out():
    blank = {f"{d}Hour{k}": "" for d in DAYS[1:] for k in ("Open", "Close")}
    (provider,), _ = read_providers(csv_lines(row(MonHourOpen=":", MonHourClose=":", **blank)))
    assert provider.opening_hours == ()


def test_spaces_inside_a_time_are_ignored():
    (provider,), _ = read_providers(csv_lines(row(MonHourOpen="8 :00", MonHourClose="3 :00")))
    assert provider.opening_hours[0] == OpeningHours(0, time(8), time(15))


def test_a_malformed_hour_rejects_the_row_naming_the_field_and_the_file_line():
    lines = csv_lines(row(), row(**{"DFTA_ID": "C9003", "WedHourClose": "25:99"}))
    providers, rejected = read_providers(lines)
    assert [p.provider_id for p in providers] == ["C9002"]
    assert rejected == [RejectedRow(3, "WedHourClose", "malformed time '25:99', expected HH:MM")]


def test_a_closing_time_not_after_the_opening_time_rejects_the_row():
    _, rejected = read_providers(csv_lines(row(TueHourOpen="13:00", TueHourClose="01:00")))
    assert (rejected[0].field, rejected[0].reason) == ("TueHourClose", "closes at 13:00, not after opening at 13:00")


def test_an_hour_given_without_its_pair_rejects_the_row():
    _, rejected = read_providers(csv_lines(row(FriHourOpen="")))
    assert rejected[0].field == "FriHourOpen"


def test_an_unknown_provider_type_is_rejected_with_the_type_named():
    _, rejected = read_providers(csv_lines(row(ProviderType="PET GROOMING CONTRACTS")))
    assert rejected == [RejectedRow(2, "ProviderType", "unknown provider type 'PET GROOMING CONTRACTS'")]


def test_a_provider_type_without_careline_service_is_rejected_as_such():
    _, rejected = read_providers(csv_lines(row(ProviderType="LEGAL SERVICES CONTRACTS")))
    assert rejected[0].field == "ProviderType" and "no careline service" in rejected[0].reason


def test_a_row_without_coordinates_is_kept_but_not_located():
    (provider,), rejected = read_providers(csv_lines(row(Latitude="", Longitude="")))
    assert rejected == []
    assert (provider.latitude, provider.longitude, provider.located) == (None, None, False)


@pytest.mark.parametrize("field, value", [("Latitude", "91.0"), ("Longitude", "-181"), ("Latitude", "north")])
def test_coordinates_out_of_range_or_not_numeric_reject_the_row(field, value):
    _, rejected = read_providers(csv_lines(row(**{field: value})))
    assert rejected[0].field == field


def test_a_missing_dfta_id_is_rejected():
    _, rejected = read_providers(csv_lines(row(DFTA_ID=" ")))
    assert rejected == [RejectedRow(2, "DFTA ID", "missing")]


def test_a_later_duplicate_dfta_id_is_rejected_even_under_another_provider_type_and_the_first_is_kept():
    providers, rejected = read_providers(csv_lines(row(), row(ProviderType="CAREGIVER SERVICES CONTRACTS")))
    assert [p.provider_type for p in providers] == ["HOMECARE SERVICES CONTRACTS"]
    assert rejected[0].line == 3 and "duplicate of line 2" in rejected[0].reason


def test_a_borough_outside_the_city_rejects_the_row_for_lack_of_service_area():
    _, rejected = read_providers(csv_lines(row(Borough="")))
    assert rejected[0].field == "Borough"


def test_phone_numbers_become_e164_and_unreadable_ones_none():
    lines = csv_lines(
        row(ProgramPhone="718547-8827"),
        row(DFTA_ID="C2", ProgramPhone="TBD"),
        row(DFTA_ID="C3", ProgramPhone="718-726--964"),
    )
    providers, _ = read_providers(lines)
    assert [p.phone for p in providers] == ["+17185478827", None, None]


def test_line_numbers_count_line_breaks_inside_quoted_fields():
    lines = csv_lines(row(ProgramAddress="528 Mother Gaston Blvd\nSuite 2"), row(DFTA_ID="", Borough="BRONX"))
    _, rejected = read_providers(lines)
    assert rejected[0].line == 4


def test_a_header_lacking_a_required_column_is_an_error_not_a_row_rejection():
    with pytest.raises(ValueError, match="DFTA ID"):
        read_providers(["ProviderType,ProgramName\n", "HOMECARE SERVICES CONTRACTS,X\n"])


def test_every_mapped_service_is_a_careline_service_type():
    assert {s for services in PROVIDER_TYPE_SERVICES.values() for s in services} <= set(SERVICE_TYPES)


@pytest.fixture(scope="module")
def dfta_file(shared_data: Path) -> Path:
    return shared_data / "nyc-aging" / "contracted_providers.csv"


def read_real(path: Path):
    with path.open(encoding="utf-8", newline="") as lines:
        return read_providers(lines)


def test_the_real_dfta_file_accounts_for_every_data_row(dfta_file):
    with dfta_file.open(encoding="utf-8-sig", newline="") as handle:
        data_rows = sum(1 for _ in csv.reader(handle)) - 1
    providers, rejected = read_real(dfta_file)
    assert data_rows == 474
    assert len(providers) + len(rejected) == data_rows
    assert (len(providers), len(rejected), sum(not p.located for p in providers)) == (441, 33, 1)
    assert RejectedRow(293, "MonHourOpen", "malformed time ':30', expected HH:MM") in rejected


def test_every_located_real_provider_lies_inside_new_york_city(dfta_file):
    providers, _ = read_real(dfta_file)
    outside = [
        p.provider_id
        for p in providers
        if p.located
        and not (
            NYC_LATITUDE[0] <= p.latitude <= NYC_LATITUDE[1] and NYC_LONGITUDE[0] <= p.longitude <= NYC_LONGITUDE[1]
        )
    ]
    assert outside == []


def test_no_real_provider_closes_before_it_opens(dfta_file):
    providers, _ = read_real(dfta_file)
    backwards = [(p.provider_id, h) for p in providers for h in p.opening_hours if h.closes <= h.opens]
    assert backwards == []
    assert any(h.closes == time(17) for p in providers for h in p.opening_hours)
