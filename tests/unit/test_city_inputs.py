"""The city day's inputs: 311 calls read by column name, channels and services mapped, calls
without coordinates placed approximately or counted, and the city built from real files."""

from __future__ import annotations

import io
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from handlers.datasets.city import (
    CITY_PROVIDER_TYPES,
    HOMECARE_FACTOR,
    area_id,
    build_city,
    slice_calls,
    weekly_rota,
)
from handlers.datasets.nyc311 import ExtractError, channel_kind, read_calls, service_for
from handlers.datasets.providers import ProviderListing, read_providers
from handlers.dispatch.shifts import on_shift
from handlers.model import Caregiver


def calls_csv(header: list[str], rows: list[list[str]]) -> io.StringIO:
    lines = [",".join(header)] + [",".join(f'"{v}"' if "," in v else v for v in row) for row in rows]
    return io.StringIO("\n".join(lines) + "\n")


@pytest.mark.parametrize(
    "header",
    [
        ["Unique Key", "Created Date", "Complaint Type", "Open Data Channel Type", "Latitude", "Longitude", "Borough"],
        ["unique_key", "created_date", "complaint_type", "open_data_channel_type", "latitude", "longitude", "borough"],
        ["UNIQUE_KEY", "CREATED_DATE", "COMPLAINT_TYPE", "OPEN_DATA_CHANNEL_TYPE", "LATITUDE", "LONGITUDE", "BOROUGH"],
        [
            "\ufeffunique key",
            "Created-Date",
            "complaint type",
            "open data channel type",
            "Latitude",
            "Longitude",
            "Borough",
        ],
    ],
)
def test_columns_are_found_however_the_export_spells_them(header):
    calls, rejected = read_calls(
        calls_csv(header, [["7", "2024-04-15T22:51:53.000", "HEAT/HOT WATER", "PHONE", "40.7", "-73.9", "BRONX"]])
    )
    assert rejected == []
    (call,) = calls
    assert (call.key, call.complaint_type, call.channel_kind, call.service_type) == (
        "7",
        "HEAT/HOT WATER",
        "hotline",
        "bathing",
    )
    assert call.point == (40.7, -73.9) and call.borough == "BRONX"
    # New York was on daylight time (UTC-4) that night
    assert call.created == datetime(2024, 4, 16, 2, 51, 53, tzinfo=UTC)


def test_the_portals_twelve_hour_dates_are_read_in_new_york_time():
    header = ["Created Date", "Complaint Type", "Open Data Channel Type"]
    calls, _ = read_calls(calls_csv(header, [["01/15/2024 10:51:53 PM", "Noise", "ONLINE"]]))
    assert calls[0].created == datetime(2024, 1, 16, 3, 51, 53, tzinfo=UTC)  # standard time, UTC-5


def test_a_missing_needed_column_is_named():
    with pytest.raises(ExtractError, match="open_data_channel_type"):
        read_calls(calls_csv(["Created Date", "Complaint Type"], [["2024-04-15T22:00:00", "Noise"]]))


def test_rows_without_coordinates_are_kept_and_bad_ones_rejected_with_line_and_column():
    header = ["Created Date", "Complaint Type", "Open Data Channel Type", "Latitude", "Longitude", "Community Board"]
    rows = [
        ["2024-04-15T22:00:00", "Noise", "PHONE", "", "", "12 MANHATTAN"],
        ["2024-04-15T22:01:00", "Noise", "PHONE", "north", "-73.9", ""],
        ["2024-04-15T22:02:00", "Noise", "PHONE", "40.7", "", ""],
        ["2024-04-15T22:03:00", "Noise", "PHONE", "48.85", "2.35", ""],
        ["yesterday", "Noise", "PHONE", "40.7", "-73.9", ""],
    ]
    calls, rejected = read_calls(calls_csv(header, rows))
    assert [(c.line, c.point) for c in calls] == [(2, None)]
    assert [(r.line, r.column) for r in rejected] == [
        (3, "Latitude"),
        (4, "Longitude"),
        (5, "Latitude"),
        (6, "Created Date"),
    ]
    assert "outside New York City" in rejected[2].reason
    assert str(rejected[3]).startswith("line 6, column Created Date: ")


@pytest.mark.parametrize(
    ("channel", "kind"),
    [
        ("PHONE", "hotline"),
        ("ONLINE", "app"),
        ("MOBILE", "app"),
        ("mobile", "app"),
        ("UNKNOWN", "operator"),
        ("OTHER", "operator"),
        ("", "operator"),
    ],
)
def test_channels_map_phone_to_the_hotline_online_and_mobile_to_the_app_and_the_rest_to_an_operator(channel, kind):
    assert channel_kind(channel) == kind


@pytest.mark.parametrize(
    ("complaint", "service"),
    [
        ("Noise - Street/Sidewalk", "companionship"),
        ("Noise - Residential", "companionship"),
        ("HEAT/HOT WATER", "bathing"),
        ("UNSANITARY CONDITION", "cleaning"),
        ("PLUMBING", "cleaning"),
        ("Rodent", "cleaning"),
        ("Street Condition", "medical_escort"),
        ("Sidewalk Condition", "medical_escort"),
        ("Food Establishment", "meal"),
        ("Illegal Parking", "companionship"),
        ("Something new", "companionship"),
    ],
)
def test_complaint_types_map_to_the_services_the_documented_rules_give(complaint, service):
    assert service_for(complaint) == service


def listing(pid: str, kind: str, borough: str, point: tuple[float, float] | None, services=("companionship",)):
    lat, lon = point if point else (None, None)
    return ProviderListing(
        pid, f"Program {pid}", "Sponsor", kind, services, "1 Main St", borough, None, lat, lon, (), borough.lower()
    )


def night_calls(rows: list[list[str]]):
    header = [
        "Unique Key",
        "Created Date",
        "Complaint Type",
        "Open Data Channel Type",
        "Latitude",
        "Longitude",
        "Borough",
        "Community Board",
    ]
    calls, rejected = read_calls(calls_csv(header, rows))
    assert rejected == []
    return calls


def test_the_city_keeps_home_care_and_related_programs_with_caregivers_on_rotas_and_elders_at_the_calls():
    listings = [
        listing(
            "H1", "HOMECARE SERVICES CONTRACTS", "QUEENS", (40.72, -73.80), ("cleaning", "bathing", "companionship")
        ),
        listing("M1", "HOME DELIVERED MEAL SERVICE CONTRACTS", "BRONX", (40.84, -73.88), ("meal",)),
        listing("C1", "OLDER ADULT CENTER CONTRACTS", "BRONX", (40.84, -73.88)),
        listing("X1", "CASE MANAGEMENT SERVICES CONTRACTS", "BRONX", None),
    ]
    calls = night_calls(
        [
            ["1", "2024-04-15T23:10:00", "HEAT/HOT WATER", "PHONE", "40.75", "-73.85", "QUEENS", "04 QUEENS"],
            ["2", "2024-04-15T22:55:00", "Noise", "MOBILE", "", "", "QUEENS", "04 QUEENS"],
            ["3", "2024-04-15T23:20:00", "Noise", "UNKNOWN", "", "", "BRONX", "09 BRONX"],
            ["4", "2024-04-15T23:30:00", "Noise", "ONLINE", "", "", "", ""],
            ["5", "2024-04-15T23:40:00", "Noise", "ONLINE", "40.83", "-73.87", "Unspecified", ""],
        ]
    )
    day = build_city(listings, calls, "run", caregivers_per_provider=2, asap_minutes=90)

    assert [p.provider_id for p in day.providers] == ["run.H1", "run.M1"]
    assert [p.provider_id for p in day.skipped_providers] == ["X1"]
    assert Counter(c.provider_id for c in day.caregivers) == {"run.H1": 2 * HOMECARE_FACTOR, "run.M1": 2}
    assert all(c.time_zone == "America/New_York" and c.rota for c in day.caregivers)
    assert {c.travel_mode for c in day.caregivers} == {"e-bike"}

    # the calls in time order; call 2 at its district's located calls, call 3 nowhere to place
    assert [s.record["request_id"] for s in day.submissions] == ["run.r2", "run.r1", "run.r5"]
    assert day.placement.given == 2 and day.placement.approximate == {"community_board": 1}
    assert [c.key for c in day.placement.unplaced] == ["3", "4"]
    first = day.submissions[0]
    elder = next(e for e in day.elders if e.elder_id == first.record["elder_id"])
    assert (elder.latitude, elder.longitude) == (40.75, -73.85)
    assert elder.location_provenance == "approximate" and elder.location_precision == "community_board"
    assert day.points[elder.location_index].latitude == 40.75
    assert first.at == datetime(2024, 4, 16, 2, 55, tzinfo=UTC)
    assert first.record["channel"] == "app" and first.record["service_type"] == "companionship"
    # an app request at 22:55 is booked for the next day's daytime, 08:00-17:00 New York time
    assert first.record["priority"] == "routine"
    assert first.record["window"] == {"start": "2024-04-16T12:00:00+00:00", "end": "2024-04-16T21:00:00+00:00"}
    # a hotline caller asks for as soon as possible
    phoned = day.submissions[1].record
    assert (phoned["channel"], phoned["priority"]) == ("hotline", "asap")
    assert phoned["window"] == {"start": "2024-04-16T03:10:00+00:00", "end": "2024-04-16T04:40:00+00:00"}
    # a call with coordinates and no borough belongs to the nearest program's borough
    last = next(e for e in day.elders if e.elder_id == "run.e5")
    assert last.service_area == area_id("run", "BRONX") == "run.bronx"
    assert set(day.areas) == {"run.queens", "run.bronx"}
    homes = {day.points[c.home_base_index] for c in day.caregivers if c.provider_id == "run.H1"}
    assert {(p.latitude, p.longitude) for p in homes} == {(40.72, -73.80)}


def test_six_caregivers_of_a_program_cover_every_hour_of_every_day():
    caregivers = [
        Caregiver(f"c{k}", "p", "a", "meal", 0, None, None, rota=weekly_rota(k), time_zone="America/New_York")
        for k in range(6)
    ]
    monday = datetime(2024, 4, 15, 4, 30, tzinfo=UTC)  # 00:30 in New York
    for hour in range(7 * 24):
        at = monday + timedelta(hours=hour)
        assert any(on_shift(c, at) for c in caregivers), at


def test_a_call_before_eight_in_the_morning_is_booked_for_the_same_day():
    from handlers.datasets.city import daytime_window

    start, end = daytime_window(datetime(2024, 4, 16, 5, 30, tzinfo=UTC))  # 01:30 in New York
    assert (start, end) == (datetime(2024, 4, 16, 12, 0, tzinfo=UTC), datetime(2024, 4, 16, 21, 0, tzinfo=UTC))
    start, _ = daytime_window(datetime(2024, 4, 16, 12, 0, tzinfo=UTC))  # 08:00: the day's window has begun
    assert start == datetime(2024, 4, 17, 12, 0, tzinfo=UTC)


def test_a_slice_takes_the_first_calls_in_time_order():
    calls = night_calls(
        [[str(i), f"2024-04-15T2{i}:00:00", "Noise", "PHONE", "40.7", "-73.9", "BRONX", ""] for i in (3, 1, 2)]
    )
    assert [c.key for c in slice_calls(calls, limit=2)] == ["1", "2"]
    assert [c.key for c in slice_calls(calls, hours=1)] == ["1", "2"]


def test_the_shared_files_make_a_city_of_five_boroughs(shared_data):
    with open(shared_data / "nyc311" / "service_requests_2024-04-15.csv", encoding="utf-8-sig", newline="") as f:
        calls, rejected = read_calls(f)
    with open(shared_data / "nyc-aging" / "contracted_providers.csv", encoding="utf-8-sig", newline="") as f:
        listings, _ = read_providers(f)
    assert len(calls) + len(rejected) == 1000
    assert sum(1 for c in calls if c.point is None) == 23  # rows without coordinates: placed or counted
    day = build_city(listings, calls, "run")
    assert {p.provider_type for p in day.providers} == set(CITY_PROVIDER_TYPES)
    assert len(day.submissions) + len(day.placement.unplaced) == len(calls)
    assert day.placement.given == 977
    assert set(day.areas.values()) == {"BRONX", "BROOKLYN", "MANHATTAN", "QUEENS", "STATEN ISLAND"}
    channels = Counter(s.record["channel"] for s in day.submissions)
    assert channels["hotline"] > 300 and channels["app"] > 500 and channels["operator"] > 0


def test_the_city_summary_measures_travel_from_coordinates_tardiness_and_visits_per_caregiver():
    from handlers.evaluation.city_summary import summarise_city
    from handlers.model import CareRequest, Offer, OfferStatus, RequestStatus, Visit
    from handlers.register.geo import CoordinateTravelTimes, travel_minutes

    points = {1: (40.70, -73.90), 2: (40.72, -73.90), 3: (40.75, -73.95)}
    at = datetime(2024, 4, 16, 3, 0, tzinfo=UTC)
    roster = {
        cid: Caregiver(cid, "p", "run.queens", "companionship", 1, None, None, travel_mode="e-bike")
        for cid in ("a", "b")
    }
    travel = CoordinateTravelTimes(points)
    modes = {cid: travel.for_mode("e-bike") for cid in roster}

    def request(rid: str, status: RequestStatus) -> CareRequest:
        r = CareRequest(rid, "e", "cleaning", 60, at, at + timedelta(hours=1), "run.bronx", at, status=status)
        r.received_at, r.assigned_at = at, at + timedelta(minutes=2)
        return r

    requests = [request("r1", RequestStatus.COMPLETED), request("r2", RequestStatus.COMPLETED)]
    failed = request("r3", RequestStatus.FAILED)
    failed.assigned_at, failed.status_reason = None, "no eligible caregiver"
    visits = [
        Visit("v2", "r2", "a", "p", "e", "cleaning", 3, at, at, check_in_at=at + timedelta(minutes=150)),
        Visit("v1", "r1", "a", "p", "e", "cleaning", 2, at, at, check_in_at=at + timedelta(minutes=10)),
    ]
    offers = [Offer("o1", "r1", "a", at, at, at, at, 5.0, 0.0, "0001", status=OfferStatus.ACCEPTED)]
    s = summarise_city([*requests, failed], offers, visits, roster, modes)

    legs = [travel_minutes(points[1], points[2], "e-bike"), travel_minutes(points[2], points[3], "e-bike")]
    legs.append(travel_minutes(points[3], points[1], "e-bike"))
    assert s.travel_total_minutes == pytest.approx(sum(legs))
    assert 5 < legs[0] < 15  # 2.2 km by e-bike, with circuity
    assert [leg.to_request for leg in s.legs] == ["r1", "r2", None]
    assert s.visits_late == 1 and s.tardiness_max_minutes == pytest.approx(90)
    assert s.caregivers_by_visits == {0: 1, 2: 1} and s.busiest_caregiver_visits == 2
    assert s.by_status == {"completed": 2, "failed": 1} and s.all_final
    assert s.failed_by_area_service == {("run.bronx", "cleaning"): 1}
    assert s.time_to_assign_p50_minutes == pytest.approx(2)
    assert s.offers_by_status == {"accepted": 1}


def test_the_city_commands_exist_and_a_file_that_cannot_be_read_is_named(tmp_path):
    from typer.testing import CliRunner

    from careline.cli import app

    runner = CliRunner()
    assert "--city" in runner.invoke(app, ["demo", "--help"], env={"COLUMNS": "200"}).output
    bad = tmp_path / "calls.csv"
    bad.write_text("Created Date,Complaint Type\n2024-04-15T22:00:00,Noise\n", encoding="utf-8")
    result = runner.invoke(app, ["replay", "city", "--calls", str(bad)], env={"COLUMNS": "200"})
    assert result.exit_code == 2
    assert "calls.csv" in result.output and "open_data_channel_type" in result.output
