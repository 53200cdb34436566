"""The app channel's use cases at the edge: one transaction each, through the
same writes as the Twilio webhooks (``channels.context``, ``db.channels``).

- An elder's (or family's) request becomes an intake record on the outbox
  (``care.intake.v1``, channel ``app``), plus an operator alert for ``stat``,
  exactly as a hotline call's; a request from the app and one from the phone
  are the same care request once the stream worker has validated it.
- A caregiver's accept, decline, check-in and check-out become caregiver
  events (``caregiver.events.v1``, keyed by service area) of the shape SMS
  replies have, with ``channel: app`` and, for visits, the phone's position.
- Cancel and rate change state here, through the handlers every channel uses.
- A provider organisation's office rates the center for a visit its caregiver
  did (``handlers.evaluation.center_ratings``), stored in ``center_ratings``.

Rules that say no raise ``handlers.operations.operator_actions.Refused``; bad input raises
``handlers.channels.intake.InvalidIntake`` naming the field. Logs carry ids only.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import uuid
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Mapping

from channels.context import ChannelContext, join_open_emergency, record_request, short_id
from config.evaluation import get_evaluation_config
from config.policy import load_policy
from db import app_api, center_ratings, channels, emergencies
from db.center_ratings import CenterRatingSqlUnitOfWork
from db.operator_uow import OperatorSqlUnitOfWork, region_of_area
from db.session import Row
from db.uow import ConcurrencyConflict, SqlUnitOfWork
from handlers.channels import app_requests as rules
from handlers.channels import channel_events
from handlers.channels.intake import InvalidIntake
from handlers.channels.ivr import ServiceChoice
from handlers.channels.sms import ReplyKind
from handlers.dispatch import promise
from handlers.dispatch.scheduling import DispatchPolicy
from handlers.evaluation.center_ratings import CenterAnswers, CenterRatingRecord
from handlers.evaluation.center_ratings import rate_center as rate_center_rule
from handlers.evaluation.feedback import record_feedback
from handlers.model import OfferStatus, Priority, RequestStatus, offer_id_of
from handlers.operations.operator_actions import Refused

log = logging.getLogger("careline.app")

_REPLIES = {
    "accept": ReplyKind.ACCEPT,
    "decline": ReplyKind.DECLINE,
    "check-in": ReplyKind.CHECK_IN,
    "check-out": ReplyKind.CHECK_OUT,
}


@dataclass(frozen=True)
class Submission:
    """What the elder asks for: window bounds the visit start (aware), duration in minutes."""

    service_type: str
    window_start: datetime
    window_end: datetime
    duration_minutes: float
    priority: Priority = Priority.ROUTINE
    notes: str | None = None

    def digest(self) -> str:
        """SHA-256 of the submission, to tell a retry from a different request under one key."""
        return hashlib.sha256(json.dumps(asdict(self), default=str, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class RequestView:
    """What the elder's app shows; ``caregiver_name`` once assigned; the arrival window promised
    (``handlers.dispatch.promise``) once a visit or a planned slot holds a start."""

    request_id: str
    status: str
    service_type: str
    priority: str
    window_start: datetime
    window_end: datetime
    duration_minutes: float
    caregiver_name: str | None = None
    arrival_start: datetime | None = None
    arrival_end: datetime | None = None
    #: where the arrival window comes from (``handlers.dispatch.promise``): ``visit`` (accepted)
    #: or ``plan`` (a planned area's slot before a caregiver accepted); None: no time known yet
    arrival_source: str | None = None


def has_open_emergency(ctx: ChannelContext, elder_id: str) -> bool:
    """True when a new emergency of the elder would join an open one (``db.emergencies.has_open``)."""
    with ctx.sessions() as session:
        return emergencies.has_open(session, elder_id, ctx.clock(), ctx.settings.emergency_merge_minutes)


def submit_request(
    ctx: ChannelContext, elder_id: str, sub: Submission, idempotency_key: str | None
) -> tuple[str, bool, bool]:
    """(request id, duplicate, joined). The same ``idempotency_key`` from the same elder
    gives the same request id and writes nothing more; reused for a different
    request it raises ``InvalidIntake("Idempotency-Key")`` (IETF idempotency-key draft);
    ``Refused("unknown_elder")`` when ``elder_id`` is not in the register (nothing is written).
    A ``stat`` request of an elder with an open emergency joins it
    (``channels.context.join_open_emergency``): its id comes back with ``joined`` true."""
    now = ctx.clock()
    seed = f"{elder_id}:{idempotency_key}" if idempotency_key else uuid.uuid4().hex
    request_id = short_id("AP", seed)
    with SqlUnitOfWork(ctx.sessions) as uow:
        session = uow.session
        earlier = app_api.submission(session, request_id)
        if earlier is not None:
            if earlier.elder_id != elder_id or earlier.body_sha256 != sub.digest():
                raise InvalidIntake("Idempotency-Key", "this key was already used for a different request")
            return request_id, True, False
        rules.check_booking_window(sub.window_start, sub.window_end, now, ctx.settings.app_booking_horizon_days)
        rules.check_service_offered(sub.service_type, app_api.offered_service_types(session))
        elder = channels.elder(session, elder_id)
        if elder is None:
            raise Refused("unknown_elder", "no registered elder with this id")
        if sub.priority == Priority.STAT and ctx.settings.emergency_merge_minutes > 0:
            joined = join_open_emergency(session, request_id, elder, "app", now, ctx.settings.emergency_merge_minutes)
            if joined is not None:
                uow.commit()
                return joined, False, True
        if not app_api.add_submission(
            session,
            request_id=request_id,
            elder_id=elder_id,
            idempotency_key=idempotency_key,
            body_sha256=sub.digest(),
            service_type=sub.service_type,
            priority=sub.priority.value,
            duration_minutes=sub.duration_minutes,
            window_start=sub.window_start,
            window_end=sub.window_end,
            notes=sub.notes,
            submitted_at=now,
        ):
            return request_id, True, False
        choice = ServiceChoice(
            sub.service_type, sub.priority, sub.window_start, sub.window_end, sub.duration_minutes, elder.language or ""
        )
        record_request(session, request_id, elder, "app", choice, now)  # a stat one is already the latest
        uow.commit()
    log.info("app request %s submitted (%s, %s)", request_id, sub.service_type, sub.priority.value)
    return request_id, False, False


def request_status(ctx: ChannelContext, elder_id: str, request_id: str) -> RequestView:
    """The request as the elder sees it; ``Refused("unknown_request")`` for another elder's."""
    with SqlUnitOfWork(ctx.sessions) as uow:
        request = uow.requests.get(request_id)
        if request is None:
            sub = _own_submission(uow.session, elder_id, request_id)
            return RequestView(
                request_id,
                RequestStatus.REQUESTED.value,
                sub.service_type,
                sub.priority,
                sub.window_start,
                sub.window_end,
                sub.duration_minutes,
            )
        rules.own_request(request, elder_id)
        view = RequestView(
            request_id,
            request.status.value,
            request.service_type,
            request.priority.value,
            request.window_start,
            request.window_end,
            request.duration_minutes,
        )
        if request.status == RequestStatus.CANCELLED:
            return view
        policy = _policy(ctx.settings.policy_file)
        widths = (policy.promise_before_minutes, policy.promise_after_minutes)
        visit = uow.visits.for_request(request_id)
        told = promise.told(request)
        if told is None:  # nothing told yet: the window the plan (or a visit a round may still move) holds
            slot = uow.planned_visits([request_id]).get(request_id) if visit is None else None
            held = visit.planned_start if visit is not None else slot.start if slot else None
            told = promise.promised_window(request, held, promise.PLAN, *widths)
        if told is None or (visit is None and request.status.is_final):
            return view
        if visit is None:
            return replace(view, arrival_start=told.start, arrival_end=told.end, arrival_source=told.source)
        name = rules.caregiver_label(app_api.caregiver_display_name(uow.session, visit.caregiver_id))
        return replace(
            view, caregiver_name=name, arrival_start=told.start, arrival_end=told.end, arrival_source=told.source
        )


@functools.lru_cache(maxsize=4)
def _policy(path: Path) -> DispatchPolicy:
    """The dispatch policy of ``path``, read once per process (the promise widths, ``[promise]``)."""
    return load_policy(path)


def cancel(ctx: ChannelContext, elder_id: str, request_id: str) -> str:
    """Cancel the elder's request (``handlers.channels.app_requests.cancel_by_elder``); returns
    the new status. ``Refused``: ``not_received_yet`` while the worker has not
    stored it, ``closed``, ``in_progress``, ``conflict`` (changed at the same moment)."""
    now = ctx.clock()
    try:
        with OperatorSqlUnitOfWork(ctx.sessions) as uow:
            if uow.requests.get(request_id) is None:
                _own_submission(uow.session, elder_id, request_id)
                raise Refused("not_received_yet", "the request is still being received; try again in a minute")
            rules.cancel_by_elder(request_id, elder_id, uow, now)
            uow.audit(
                rules.APP_ACTOR,
                "request.cancel",
                request_id,
                now,
                detail={"channel": "app"},
                region=region_of_area(uow.session, uow.requests.get(request_id).service_area),
            )
            uow.commit()
    except ConcurrencyConflict:
        raise Refused("conflict", "the request changed at the same moment; try again") from None
    log.info("app request %s cancelled by the elder", request_id)
    return RequestStatus.CANCELLED.value


def rate(ctx: ChannelContext, elder_id: str, request_id: str, stars: int, comment: str | None) -> tuple[int, bool]:
    """(stars stored, duplicate): one rating per request from the app; a second
    keeps the first. ``Refused``: ``unknown_request``, ``not_completed``."""
    feedback_id = f"app:{request_id}"
    with SqlUnitOfWork(ctx.sessions) as uow:
        request = uow.requests.get(request_id)
        if request is None:
            _own_submission(uow.session, elder_id, request_id)
            raise Refused("not_completed", "only a completed visit can be rated")
        rules.check_ratable(rules.own_request(request, elder_id))
        if not record_feedback(feedback_id, request_id, uow, ctx.clock(), stars=stars, comment=comment):
            earlier = uow.feedback.get(f"{feedback_id}.rating")
            return (earlier.rating if earlier else stars), True
        uow.commit()
    return stars, False


def rate_center(ctx: ChannelContext, provider_id: str, request_id: str, answers: CenterAnswers) -> CenterRatingRecord:
    """Store the provider's rating of the center for the visit of ``request_id``
    (``handlers.evaluation.center_ratings.rate_center``). ``Refused``: ``unknown_visit``,
    ``not_completed``, ``already_rated``."""
    with CenterRatingSqlUnitOfWork(ctx.sessions) as uow:
        record = rate_center_rule(request_id, provider_id, answers, uow, ctx.clock())
        uow.commit()
    log.info("provider %s rated the center for visit %s", provider_id, record.visit_id)
    return record


def provider_visits(ctx: ChannelContext, provider_id: str) -> list[Row]:
    """The provider's latest completed visits and whether each is rated (``db.center_ratings``)."""
    with ctx.sessions() as session:
        return center_ratings.provider_visits(session, provider_id)


def offers(ctx: ChannelContext, caregiver_id: str) -> list[Row]:
    """The caregiver's pending offers (``db.app_api.pending_offers``)."""
    with ctx.sessions() as session:
        return app_api.pending_offers(session, caregiver_id, ctx.clock())


def visits(ctx: ChannelContext, caregiver_id: str) -> list[Row]:
    """The caregiver's booked visits with addresses (``db.app_api.booked_visits``)."""
    with ctx.sessions() as session:
        return app_api.booked_visits(session, caregiver_id)


def answer_offer(ctx: ChannelContext, caregiver_id: str, offer_id: str, answer: str) -> tuple[str, bool]:
    """(request id, duplicate) for ``answer`` accept | decline: a caregiver event for
    dispatch. The same answer again is a duplicate; a different one after it is
    ``Refused("answered")``, as are offers no longer pending (``handlers.channels.app_requests``)."""
    now = ctx.clock()
    with SqlUnitOfWork(ctx.sessions) as uow:
        offer = uow.offers.get(offer_id)
        if offer is None or offer.caregiver_id != caregiver_id:
            raise Refused("unknown_offer", "no such offer")
        if not uow.claim(f"app:offer:{offer_id}:{answer}"):
            return offer.request_id, True
        if not uow.claim(f"app:offer:{offer_id}"):
            raise Refused("answered", "this offer was already answered")
        rules.check_offer_reply(offer, caregiver_id, now)
        request = uow.requests.get(offer.request_id)
        event = channel_events.caregiver_event(
            _REPLIES[answer], offer.request_id, caregiver_id, offer_id, request.service_area, now
        )
        channels.publish(
            uow.session, replace(event, payload={**event.payload, "channel": "app"}), source="careline/app"
        )
        uow.commit()
    log.info("app: caregiver %s answered offer %s: %s", caregiver_id, offer_id, answer)
    return offer.request_id, False


def report_visit(
    ctx: ChannelContext,
    caregiver_id: str,
    request_id: str,
    action: str,
    position: tuple[float, float],
    accuracy_metres: float | None,
    tasks: Mapping[str, str],
) -> tuple[str, list[dict], bool]:
    """(visit id, EVV flags, duplicate) for ``action`` check-in | check-out: a caregiver
    event whose ``data`` carries the position and task outcomes
    (``handlers.channels.app_requests.visit_report``). ``Refused("no_visit")`` when the
    caregiver holds no such visit; a repeated report is a duplicate."""
    now = ctx.clock()
    with SqlUnitOfWork(ctx.sessions) as uow:
        visit = rules.own_visit(uow.visits.for_request(request_id), caregiver_id)
        if not uow.claim(f"app:{action}:{visit.visit_id}"):
            return visit.visit_id, [], True
        rules.held_visit(visit, caregiver_id, action)
        request = uow.requests.get(request_id)
        elder = uow.elders.get(visit.elder_id)
        home = (
            (elder.latitude, elder.longitude)
            if elder and elder.latitude is not None and elder.longitude is not None
            else None
        )
        report = rules.visit_report(
            action, visit, now, position, accuracy_metres, tasks, home, get_evaluation_config().evv
        )
        offer_id = next(
            (
                o.offer_id
                for o in uow.offers.for_request(request_id)
                if o.caregiver_id == caregiver_id and o.status == OfferStatus.ACCEPTED
            ),
            offer_id_of(visit.visit_id),
        )
        event = channel_events.caregiver_event(
            _REPLIES[action], request_id, caregiver_id, offer_id, request.service_area, now
        )
        channels.publish(
            uow.session, replace(event, payload={**event.payload, **report, "channel": "app"}), source="careline/app"
        )
        uow.commit()
    log.info(
        "app: caregiver %s %s visit %s (%d EVV flags)", caregiver_id, action, visit.visit_id, len(report["evv_flags"])
    )
    return visit.visit_id, report["evv_flags"], False


def _own_submission(session, elder_id: str, request_id: str) -> Row:  # noqa: ANN001 - Session
    sub = app_api.submission(session, request_id)
    if sub is None or sub.elder_id != elder_id:
        raise Refused("unknown_request", "no such request")
    return sub
