"""The app API (``/api/v1``): the elder/family app, the caregiver app and providers.

Elders (or their families) submit a request, see its status with the
assigned caregiver's name and arrival window, cancel it and rate the visit;
caregivers list their offers, accept or decline, list their visits and check
in and out with the phone's position; a provider organisation's office lists
its caregivers' completed visits and rates the center for each (the two-way
evaluation). Each user has their own bearer tokens (``channels.app_tokens``):
401 without a valid one (``WWW-Authenticate: Bearer``), 403 on another app's
endpoints. Invalid input is a 422 whose ``detail`` names each field
(``window.start``); types are strict (``app_api_schemas``); refusals carry a
stable ``code``. Calls are limited per token, new requests per elder
(``careline.web.rate_limits``): 429 with ``Retry-After`` and code
``rate_limited``. A ``stat`` request of an elder with an open emergency joins
it (``joined: true``). The OpenAPI document is the application's ``/openapi.json``.
Handlers are sync and run in FastAPI's thread pool; writes go through
``channels.app`` like the webhooks' do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import Enum
from typing import Any, Callable, Coroutine, Literal

from fastapi import APIRouter, Depends, Header, Path, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException

from careline.web import app_api_schemas as s
from careline.web.twilio_routes import channel_context
from channels import app as app_channel
from channels import register as register_channel
from channels.context import ChannelContext
from db import app_api
from handlers.channels.intake import InvalidIntake
from handlers.dispatch.shifts import absence_on, current_or_next_shift, on_shift, rota_of
from handlers.evaluation.center_ratings import CenterAnswers
from handlers.model import Priority, RequestStatus
from handlers.operations.operator_actions import Refused
from handlers.register import commands as rc
from handlers.register.changes import RegisterRefused

_SOURCES = ("body", "query", "path", "header", "cookie")
_NOT_FOUND = ("unknown_request", "unknown_offer", "unknown_visit")


class AppProblem(Exception):
    """An error answer of the app API: HTTP ``status``, stable ``code``, ``detail`` for people."""

    def __init__(self, status: int, code: str, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail, self.headers = status, code, detail, headers

    def response(self) -> JSONResponse:
        return JSONResponse({"code": self.code, "detail": self.detail}, self.status, headers=self.headers)


def field_errors(errors: Any) -> list[dict]:
    """FastAPI's validation errors with ``field`` (dotted, without body/query/path/header)
    and ``message`` added; the input is left out so nothing personal is echoed."""
    out = []
    for error in errors:
        loc = [p if isinstance(p, (str, int)) else str(p) for p in error.get("loc", ())]
        path = loc[1:] if loc and loc[0] in _SOURCES else loc
        if error.get("type") == "json_invalid":  # its loc ends in a character offset: the field is the body
            path = []
        msg = str(error.get("msg", "invalid"))
        out.append(
            {
                "field": ".".join(str(p) for p in path) or (str(loc[0]) if loc else "request"),
                "message": msg,
                "loc": loc,
                "msg": msg,
                "type": str(error.get("type", "value_error")),
            }
        )
    return out


class AppRoute(APIRoute):
    """Answers this router's validation errors with named fields and its refusals
    as ``Problem``s, without touching the rest of the application's error handling."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handle(request)
            except RequestValidationError as exc:
                return JSONResponse({"detail": field_errors(exc.errors())}, 422)
            except InvalidIntake as exc:
                source = ["header"] if exc.field == "Idempotency-Key" else ["body"]
                loc = [*source, *exc.field.split(".")]
                return JSONResponse({"detail": field_errors([{"loc": loc, "msg": exc.reason}])}, 422)
            except Refused as exc:
                return AppProblem(404 if exc.code in _NOT_FOUND else 409, exc.code, str(exc)).response()
            except AppProblem as exc:
                return exc.response()
            except HTTPException as exc:
                if exc.status_code != 400:  # FastAPI's "error parsing the body": bytes that are not UTF-8 JSON
                    raise
                return JSONResponse(
                    {
                        "detail": field_errors(
                            [{"loc": ["body"], "msg": "not a UTF-8 JSON body", "type": "json_invalid"}]
                        )
                    },
                    422,
                )

        return route


#: FastAPI's type of a route's extra ``responses``: status code -> OpenAPI response fields
Responses = dict[int | str, dict[str, Any]]


def _problem(description: str) -> dict[str, Any]:
    return {"model": s.Problem, "description": description}


router = APIRouter(
    prefix="/api/v1",
    route_class=AppRoute,
    responses={
        401: _problem("no bearer token, or an unknown or revoked one"),
        403: _problem("the token is another app's (elder, caregiver or provider)"),
        429: _problem(
            "`rate_limited`: too many calls for this token (or new requests for this elder); "
            "retry after `Retry-After` seconds"
        ),
        422: {"model": s.ValidationProblem, "description": "invalid input; each error names its field"},
    },
)
_bearer = HTTPBearer(
    auto_error=False, scheme_name="appToken", description="a per-user token from channels.app_tokens.issue_token"
)
_404: Responses = {404: _problem("no such request of yours")}
_409: Responses = {409: _problem("the request's state does not allow this now; `code` says why")}
RequestId = Path(pattern=s.ID_PATTERN, examples=[s.EXAMPLE_REQUEST_ID])
VisitRequestId = Path(pattern=s.ID_PATTERN, examples=[s.EXAMPLE_VISIT_REQUEST_ID])
DoneRequestId = Path(pattern=s.ID_PATTERN, examples=[s.EXAMPLE_DONE_REQUEST_ID])
OfferId = Path(pattern=s.ID_PATTERN, examples=[s.EXAMPLE_OFFER_ID])


@dataclass(frozen=True)
class AppUser:
    kind: str
    subject_id: str


def _limited(wait: int, what: str) -> AppProblem:
    return AppProblem(429, "rate_limited", f"too many {what}; retry in {wait} s", {"Retry-After": str(wait)})


def app_user(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
    ctx: ChannelContext = Depends(channel_context),
) -> AppUser:
    """The token's elder, caregiver or provider; 401 (``WWW-Authenticate: Bearer``) otherwise,
    429 over the token's rate (``CARELINE_APP_RATE_LIMIT``)."""
    challenge = {"WWW-Authenticate": "Bearer"}
    if credentials is None:
        raise AppProblem(401, "unauthenticated", "send Authorization: Bearer <token>", challenge)
    with ctx.sessions() as session:
        row = app_api.token_subject(session, credentials.credentials)
    if row is None:
        raise AppProblem(
            401, "invalid_token", "unknown or revoked token", {"WWW-Authenticate": 'Bearer error="invalid_token"'}
        )
    wait = request.app.state.rate_limits.wait("app", credentials.credentials)
    if wait:
        raise _limited(wait, "calls with this token")
    return AppUser(row.subject_kind, row.subject_id)


def _role(kind: str) -> Callable[[AppUser], str]:
    def subject(user: AppUser = Depends(app_user)) -> str:
        if user.kind != kind:
            raise AppProblem(403, "forbidden", f"this endpoint is for the {kind} app")
        return user.subject_id

    return subject


elder_id_of, caregiver_id_of, provider_id_of = _role("elder"), _role("caregiver"), _role("provider")
ELDER: list[str | Enum] = ["app: elder"]  # OpenAPI tags, typed as FastAPI's parameters are
CAREGIVER: list[str | Enum] = ["app: caregiver"]
PROVIDER: list[str | Enum] = ["app: provider"]


def _window(start, end) -> s.Window:  # noqa: ANN001 - datetimes
    return s.Window(start=start, end=end)


@router.post(
    "/requests",
    status_code=202,
    response_model=s.RequestAccepted,
    tags=ELDER,
    summary="Ask for care: a service in a time window",
)
def submit_request(
    request: Request,
    body: s.NewRequest,
    elder_id: str = Depends(elder_id_of),
    idempotency_key: str | None = Header(default=None, alias="Idempotency-Key", pattern=s.KEY_PATTERN),
    ctx: ChannelContext = Depends(channel_context),
) -> s.RequestAccepted:
    """Writes the intake record every channel writes (channel ``app``); dispatch takes it
    from there. The same ``Idempotency-Key`` again returns the same ``request_id``; a ``stat``
    request of an elder with an open emergency joins it. 429 over the elder's rate of new
    requests (``CARELINE_APP_INTAKE_RATE_LIMIT``), except an emergency while none is open."""
    wait = request.app.state.rate_limits.wait("intake", elder_id)
    if wait and not (body.priority == Priority.STAT and not app_channel.has_open_emergency(ctx, elder_id)):
        raise _limited(wait, "new requests for this elder")
    sub = app_channel.Submission(
        body.service_type, body.window.start, body.window.end, body.duration_minutes, body.priority, body.notes
    )
    request_id, duplicate, joined = app_channel.submit_request(ctx, elder_id, sub, idempotency_key)
    return s.RequestAccepted(request_id=request_id, duplicate=duplicate, joined=joined)


@router.get(
    "/requests/{request_id}",
    response_model=s.RequestState,
    tags=ELDER,
    responses=_404,
    summary="Status, caregiver and arrival window of one of my requests",
)
def request_status(
    request_id: str = RequestId, elder_id: str = Depends(elder_id_of), ctx: ChannelContext = Depends(channel_context)
) -> s.RequestState:
    view = app_channel.request_status(ctx, elder_id, request_id)
    arrival = _window(view.arrival_start, view.arrival_end) if view.arrival_start else None
    return s.RequestState(
        request_id=view.request_id,
        status=RequestStatus(view.status),
        service_type=view.service_type,
        priority=Priority(view.priority),
        window=_window(view.window_start, view.window_end),
        duration_minutes=view.duration_minutes,
        caregiver_name=view.caregiver_name,
        arrival_window=arrival,
        arrival_source=None if arrival is None else ("plan" if view.arrival_source == "plan" else "visit"),
    )


@router.post(
    "/requests/{request_id}/cancel",
    response_model=s.Cancelled,
    tags=ELDER,
    responses={**_404, **_409},
    summary="Cancel one of my requests before the visit starts",
)
def cancel_request(
    request_id: str = RequestId, elder_id: str = Depends(elder_id_of), ctx: ChannelContext = Depends(channel_context)
) -> s.Cancelled:
    return s.Cancelled(request_id=request_id, status=RequestStatus(app_channel.cancel(ctx, elder_id, request_id)))


@router.post(
    "/requests/{request_id}/rating",
    response_model=s.RatingStored,
    tags=ELDER,
    responses={**_404, **_409},
    summary="Rate a completed visit (1–5 stars)",
)
def rate_visit(
    body: s.NewRating,
    request_id: str = RequestId,
    elder_id: str = Depends(elder_id_of),
    ctx: ChannelContext = Depends(channel_context),
) -> s.RatingStored:
    stars, duplicate = app_channel.rate(ctx, elder_id, request_id, body.stars, body.comment)
    return s.RatingStored(request_id=request_id, stars=stars, duplicate=duplicate)


@router.get("/offers", response_model=s.OfferList, tags=CAREGIVER, summary="My pending offers (no address yet)")
def list_offers(
    caregiver_id: str = Depends(caregiver_id_of), ctx: ChannelContext = Depends(channel_context)
) -> s.OfferList:
    return s.OfferList(
        offers=[
            s.OfferView(
                offer_id=o.offer_id,
                short_code=o.short_code,
                service_type=o.service_type,
                service_area=o.service_area,
                priority=o.priority,
                duration_minutes=o.duration_minutes,
                window=_window(o.planned_start, o.planned_end),
                expires_at=o.expires_at,
            )
            for o in app_channel.offers(ctx, caregiver_id)
        ]
    )


Answer = Literal["accept", "decline"]


def _answer(answer: Answer) -> Callable[..., s.OfferAnswered]:
    def endpoint(
        offer_id: str = OfferId,
        caregiver_id: str = Depends(caregiver_id_of),
        ctx: ChannelContext = Depends(channel_context),
    ) -> s.OfferAnswered:
        request_id, duplicate = app_channel.answer_offer(ctx, caregiver_id, offer_id, answer)
        return s.OfferAnswered(offer_id=offer_id, request_id=request_id, answer=answer, duplicate=duplicate)

    endpoint.__doc__ = f"Sends the caregiver's {answer} to dispatch (``caregiver.events.v1``)."
    return endpoint


_VERBS: tuple[Answer, ...] = ("accept", "decline")
for _verb in _VERBS:
    router.add_api_route(
        f"/offers/{{offer_id}}/{_verb}",
        _answer(_verb),
        methods=["POST"],
        status_code=202,
        response_model=s.OfferAnswered,
        tags=CAREGIVER,
        responses={**_404, **_409},
        summary=f"{_verb.capitalize()} an offer",
        operation_id=f"{_verb}_offer",
    )


@router.get("/visits", response_model=s.VisitList, tags=CAREGIVER, summary="My booked visits, with addresses")
def list_visits(
    caregiver_id: str = Depends(caregiver_id_of), ctx: ChannelContext = Depends(channel_context)
) -> s.VisitList:
    return s.VisitList(
        visits=[
            s.VisitView(
                request_id=v.request_id,
                visit_id=v.visit_id,
                service_type=v.service_type,
                status=v.status,
                planned=_window(v.planned_start, v.planned_end),
                address=v.address,
                neighbourhood=v.neighbourhood,
            )
            for v in app_channel.visits(ctx, caregiver_id)
        ]
    )


def _report(
    ctx: ChannelContext,
    caregiver_id: str,
    request_id: str,
    action: Literal["check-in", "check-out"],
    body: s.CheckIn,
    tasks: dict[str, str],
) -> s.VisitReported:
    visit_id, flags, duplicate = app_channel.report_visit(
        ctx, caregiver_id, request_id, action, (body.latitude, body.longitude), body.accuracy_metres, tasks
    )
    return s.VisitReported(
        request_id=request_id,
        visit_id=visit_id,
        action=action,
        duplicate=duplicate,
        evv_flags=[s.EvvFlagView(**f) for f in flags],
    )


_VISIT_409: Responses = {409: _problem("you hold no such visit, or it is past this step")}


@router.post(
    "/visits/{request_id}/check-in",
    status_code=202,
    response_model=s.VisitReported,
    tags=CAREGIVER,
    responses=_VISIT_409,
    summary="Check in at the elder's home with the phone's position",
)
def check_in(
    body: s.CheckIn,
    request_id: str = VisitRequestId,
    caregiver_id: str = Depends(caregiver_id_of),
    ctx: ChannelContext = Depends(channel_context),
) -> s.VisitReported:
    return _report(ctx, caregiver_id, request_id, "check-in", body, {})


@router.post(
    "/visits/{request_id}/check-out",
    status_code=202,
    response_model=s.VisitReported,
    tags=CAREGIVER,
    responses=_VISIT_409,
    summary="Check out with the position and each task's outcome",
)
def check_out(
    body: s.CheckOut,
    request_id: str = VisitRequestId,
    caregiver_id: str = Depends(caregiver_id_of),
    ctx: ChannelContext = Depends(channel_context),
) -> s.VisitReported:
    return _report(ctx, caregiver_id, request_id, "check-out", body, dict(body.tasks))


@router.get(
    "/provider/visits",
    response_model=s.ProviderVisitList,
    tags=PROVIDER,
    summary="My caregivers' latest completed visits (100), and which I rated the center for",
)
def list_provider_visits(
    provider_id: str = Depends(provider_id_of), ctx: ChannelContext = Depends(channel_context)
) -> s.ProviderVisitList:
    return s.ProviderVisitList(
        visits=[
            s.ProviderVisitView(
                request_id=v.request_id,
                visit_id=v.visit_id,
                caregiver_id=v.caregiver_id,
                service_type=v.service_type,
                planned_start=v.planned_start,
                checked_out_at=v.check_out_at,
                center_rated=bool(v.rated),
            )
            for v in app_channel.provider_visits(ctx, provider_id)
        ]
    )


@router.post(
    "/provider/visits/{request_id}/center-rating",
    status_code=201,
    response_model=s.CenterRatingStored,
    tags=PROVIDER,
    summary="Rate the center for a visit my caregiver did: information, notice, stars",
    responses={
        404: _problem("no visit of your caregivers for this request"),
        409: _problem("`not_completed` (not checked out yet) or `already_rated` (once per visit)"),
    },
)
def rate_center(
    body: s.NewCenterRating,
    request_id: str = DoneRequestId,
    provider_id: str = Depends(provider_id_of),
    ctx: ChannelContext = Depends(channel_context),
) -> s.CenterRatingStored:
    """Feeds the center's score from providers (``handlers.evaluation.kpis.center_score``) in the monthly report."""
    answers = CenterAnswers(body.information_correct, body.notice_sufficient, body.stars, body.comment)
    record = app_channel.rate_center(ctx, provider_id, request_id, answers)
    return s.CenterRatingStored(
        request_id=record.request_id,
        visit_id=record.visit_id,
        provider_id=record.provider_id,
        information_correct=answers.information_correct,
        notice_sufficient=answers.notice_sufficient,
        stars=answers.stars,
        rated_at=record.rated_at,
    )


_CAREGIVER_404: Responses = {404: _problem("`unknown_caregiver`: no caregiver of yours with this id")}


def _caregiver_view(caregiver: Any, now: Any) -> s.ProviderCaregiverView:
    rota = rota_of(caregiver)
    shift = current_or_next_shift(caregiver, now) if caregiver.active else None
    absence = absence_on(caregiver, now)
    return s.ProviderCaregiverView(
        caregiver_id=caregiver.caregiver_id,
        name=caregiver.display_name,
        active=caregiver.active,
        rota=caregiver.rota,
        absences=[s.AbsenceView(first=a.first, last=a.last, kind=a.kind) for a in (rota.absences if rota else ())],
        on_shift=caregiver.active and on_shift(caregiver, now),
        on_leave=absence.kind if absence else None,
        current_or_next_shift=s.ShiftView(start=shift.start, end=shift.end, extra=shift.extra) if shift else None,
    )


def _own(ctx: ChannelContext, provider_id: str, caregiver_id: str) -> s.ProviderCaregiverView:
    for caregiver in register_channel.caregivers_of(ctx.sessions, provider_id):
        if caregiver.caregiver_id == caregiver_id:
            return _caregiver_view(caregiver, ctx.clock())
    raise AppProblem(404, "unknown_caregiver", f"no caregiver {caregiver_id!r} of yours")


def _register(ctx: ChannelContext, provider_id: str, caregiver_id: str, command: Any) -> s.ProviderCaregiverView:
    """Run a register command for the provider (``handlers.register.changes``): 404 for a
    caregiver not its own, 422 naming the field for a rota or date the rota rules refuse."""
    try:
        register_channel.apply(ctx.sessions, command)
    except RegisterRefused as exc:
        if exc.field == "caregiver_id":
            raise AppProblem(404, "unknown_caregiver", exc.reason) from None
        raise AppProblem(422, f"invalid_{exc.field}", exc.reason) from None
    return _own(ctx, provider_id, caregiver_id)


def _by(provider_id: str) -> dict[str, Any]:
    return {"actor": f"provider:{provider_id}", "source": "app", "provider_id": provider_id}


CaregiverId = Path(pattern=s.ID_PATTERN, examples=["C01"])


@router.get(
    "/provider/caregivers",
    response_model=s.ProviderCaregiverList,
    tags=PROVIDER,
    summary="My caregivers, their rotas and leave, who is on shift now and who is on leave",
)
def list_provider_caregivers(
    provider_id: str = Depends(provider_id_of), ctx: ChannelContext = Depends(channel_context)
) -> s.ProviderCaregiverList:
    now = ctx.clock()
    return s.ProviderCaregiverList(
        caregivers=[_caregiver_view(c, now) for c in register_channel.caregivers_of(ctx.sessions, provider_id)]
    )


@router.put(
    "/provider/caregivers/{caregiver_id}/rota",
    response_model=s.ProviderCaregiverView,
    tags=PROVIDER,
    summary="Replace my caregiver's weekly rota (dispatch offers only inside it)",
    responses={**_CAREGIVER_404},
)
def set_caregiver_rota(
    body: s.NewRota,
    caregiver_id: str = CaregiverId,
    provider_id: str = Depends(provider_id_of),
    ctx: ChannelContext = Depends(channel_context),
) -> s.ProviderCaregiverView:
    command = rc.SetRota(
        register_channel.command_id(), ctx.clock(), caregiver_id=caregiver_id, rota=body.rota, **_by(provider_id)
    )
    return _register(ctx, provider_id, caregiver_id, command)


@router.post(
    "/provider/caregivers/{caregiver_id}/leave",
    status_code=201,
    response_model=s.ProviderCaregiverView,
    tags=PROVIDER,
    summary="Record leave or a sick day of my caregiver (no offers on those days)",
    responses={**_CAREGIVER_404},
)
def add_caregiver_leave(
    body: s.NewAbsence,
    caregiver_id: str = CaregiverId,
    provider_id: str = Depends(provider_id_of),
    ctx: ChannelContext = Depends(channel_context),
) -> s.ProviderCaregiverView:
    command = rc.AddAbsence(
        register_channel.command_id(),
        ctx.clock(),
        caregiver_id=caregiver_id,
        first=body.first,
        last=body.last or body.first,
        kind=body.kind,
        **_by(provider_id),
    )
    return _register(ctx, provider_id, caregiver_id, command)


@router.delete(
    "/provider/caregivers/{caregiver_id}/leave/{first}",
    response_model=s.ProviderCaregiverView,
    tags=PROVIDER,
    summary="Take back the leave or sick day of my caregiver that starts on this date",
    responses={**_CAREGIVER_404},
)
def remove_caregiver_leave(
    first: date,
    caregiver_id: str = CaregiverId,
    provider_id: str = Depends(provider_id_of),
    ctx: ChannelContext = Depends(channel_context),
) -> s.ProviderCaregiverView:
    command = rc.RemoveAbsence(
        register_channel.command_id(), ctx.clock(), caregiver_id=caregiver_id, first=first, **_by(provider_id)
    )
    return _register(ctx, provider_id, caregiver_id, command)
