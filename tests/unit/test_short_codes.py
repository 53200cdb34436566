"""An offer's short code (the four digits a caregiver texts back, "YES 4821") never reads like
another code a reply of hers may name: her pending offers' and her booked visits'. Before, it was
``crc32(offer id) % 10000`` alone, and two of one caregiver's offers could share it (the fault lab
saw one caregiver get two identical texts); a reply then reached one of them only."""

from __future__ import annotations

import zlib

import pytest

from handlers.dispatch import offers
from handlers.dispatch.scheduling import DispatchPolicy
from handlers.model import OfferStatus
from handlers.visits import attendance
from tests.unit.factories import at, caregiver, line_travel, request, uow_with

TRAVEL = line_travel()
POLICY = DispatchPolicy()


def _colliding_request_ids() -> tuple[str, str]:
    """Two request ids whose first offers' crc32 codes are the same four digits."""
    seen: dict[int, str] = {}
    for n in range(100_000):
        rid = f"r{n}"
        code = zlib.crc32(f"{rid}.o1".encode()) % 10_000
        if code in seen:
            return seen[code], rid
        seen[code] = rid
    raise AssertionError("no two ids collide")


def test_a_caregivers_second_offer_does_not_read_like_her_first():
    first, second = _colliding_request_ids()
    uow = uow_with(caregiver("a", home=1))
    offers.receive_request(request(first, 1, start=60, end=120), uow, at(0), POLICY, TRAVEL)
    offers.receive_request(request(second, 2, start=300, end=360), uow, at(0), POLICY, TRAVEL)
    [one], [two] = uow.offers.for_request(first), uow.offers.for_request(second)
    assert one.caregiver_id == two.caregiver_id == "a"
    assert one.short_code != two.short_code
    assert uow.offers.codes_in_use("a") == {one.short_code, two.short_code}


def test_a_booked_visits_code_stays_hers_until_the_visit_ends():
    first, second = _colliding_request_ids()
    uow = uow_with(caregiver("a", home=1))
    offers.receive_request(request(first, 1, start=60, end=120), uow, at(0), POLICY, TRAVEL)
    assert offers.accept_offer(f"{first}.o1", "a", uow, at(1), POLICY, TRAVEL)
    booked = uow.offers.get(f"{first}.o1").short_code
    assert uow.offers.codes_in_use("a") == {booked}  # accepted: she checks in with it
    offers.receive_request(request(second, 2, start=300, end=360), uow, at(2), POLICY, TRAVEL)
    assert uow.offers.get(f"{second}.o1").short_code != booked

    assert attendance.check_in(first, "a", uow, at(60), TRAVEL)
    assert booked in uow.offers.codes_in_use("a")  # in progress: she checks out with it
    assert attendance.check_out(first, "a", uow, at(90))
    assert booked not in uow.offers.codes_in_use("a")  # the visit is over: the code is free again


def test_a_closed_offers_code_is_free_again():
    uow = uow_with(caregiver("a", home=1), caregiver("b", home=0))
    offers.receive_request(request("r", 1), uow, at(0), POLICY, TRAVEL)
    offers.close_offer("r.o1", OfferStatus.REJECTED, uow, at(1), POLICY, TRAVEL, "a")
    assert uow.offers.codes_in_use("a") == set()


def test_a_taken_code_gives_way_to_a_free_one_not_a_digit_away_and_every_code_can_be_reached():
    crc = zlib.crc32(b"x.o1") % 10_000
    assert offers.short_code_for("x.o1", set()) == f"{crc:04d}"
    for offer_id in ("x.o1", "r48.o1", "r115.o1", "R-20261207-0042.o3"):
        first = offers.short_code_for(offer_id, set())
        other = offers.short_code_for(offer_id, {first})
        assert other != first and abs(int(other) - int(first)) > 1  # not one digit off
    for free in (0, 3, 9_999):
        assert offers.short_code_for("x.o1", {f"{c:04d}" for c in range(10_000) if c != free}) == f"{free:04d}"
    with pytest.raises(ValueError, match="every short code"):
        offers.short_code_for("x.o1", {f"{c:04d}" for c in range(10_000)})
