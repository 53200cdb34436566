"""Why a request went where it went: its history as a read model, and in plain words.

Input: the request's events in log order, each a CloudEvents dict as stored in
``event_log.payload`` (``type``, ``time``, ``data``), and the notices sent about it (rows of
``db.notices.for_requests``: ``created_at``, ``kind``, ``recipient_role``, ``channel``,
``to_phone``, ``status``, ``delivery``). ``history`` turns them into ``Entry`` items in time
order: dispatch decisions (candidates with their costs, exclusions with dispatch's reason,
policy version), status changes with their reason, offers made and answered, ladder steps,
visits, operator actions and notices with their delivery status.

``describe`` puts one entry in words through a ``Words`` (the sentences, the domain terms and
the clock of one language and time zone), so ``careline explain`` and the dashboard's history
page say the same thing from the same code (``careline.history`` gives the center's words).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable, Mapping, Protocol

#: event types that are an operator's action (``handlers.operations``), by the word for it
OPERATOR_ACTIONS = {
    "care.request.reassigned": "reassigned",
    "care.request.cancelled_by_operator": "cancelled",
    "care.emergency.acknowledged": "acknowledged",
    "care.request.outcome_recorded": "outcome",
    "care.emergency.outcome_recorded": "outcome",
}
#: the candidates a decision shows by name; the rest are counted
SHOWN_CANDIDATES = 5

OFFER_ANSWERS = ("accepted", "rejected", "timeout", "rescinded", "canceled", "accept_refused")
VISIT_STEPS = (
    "on_the_way", "checked_in", "completed", "late", "no_show", "called_off", "cancelled", "evv_flagged", "evv_reviewed",
)  # fmt: skip
RECIPIENTS = ("caregiver", "elder", "family")
CHANNELS = ("sms", "app", "voice")
#: a notice's own status (``db.tables.notices``) and Twilio's message statuses
DELIVERIES = (
    "sending", "sent", "failed", "opted_out", "queued", "delivered", "undelivered", "accepted", "scheduled",
    "read", "canceled", "receiving", "received",
)  # fmt: skip
#: what a notice said (``handlers.channels.notices`` kinds, without ``elder.``/``family.``)
NOTICE_KINDS = (
    "offer", "confirmed", "how_to_report", "withdrawn", "refused", "cancelled", "reassigned", "no_show_taken",
    "late_taken", "plan_changed", "on_the_way", "late", "late_replaced", "rescheduled", "no_show", "called_off", "unserved",
    "emergency_handled", "emergency", "arrived", "completed", "alarm_ack", "complaint", "rating_request", "thanks",
)  # fmt: skip


def _keys(*names: str) -> frozenset[str]:
    return frozenset(names)


#: the catalogs' ``history.*`` keys with the fields each may use (``handlers.channels.texts.KEYS`` holds them)
HISTORY_KEYS: dict[str, frozenset[str]] = {
    "history.status": _keys("status"),
    "history.status_reason": _keys("status", "reason"),
    "history.decided": _keys("policy"),
    "history.candidate": _keys("rank", "caregiver", "start", "travel", "extra", "cost"),
    "history.late": _keys("minutes"),
    "history.off_sync": _keys("minutes"),
    "history.separator": _keys(),
    "history.more": _keys("count"),
    "history.nobody": _keys(),
    "history.not": _keys("caregiver", "reason"),
    "history.offer": _keys("caregiver", "start", "end", "deadline"),
    "history.answer": _keys("offer", "caregiver", "answer"),
    "history.escalated": _keys("step", "reason"),
    "history.visit": _keys("step", "caregiver"),
    "history.operator.reassigned": _keys("operator", "caregiver"),
    "history.operator.cancelled": _keys("operator"),
    "history.operator.acknowledged": _keys("operator"),
    "history.operator.outcome": _keys("operator", "outcome"),
    "history.notice": _keys("notice", "recipient", "phone", "channel", "delivery"),
    "history.repaired": _keys("caregivers", "seconds", "before", "after"),
    "history.repaired.move": _keys("request", "caregiver_before", "caregiver_after", "start_before", "start_after"),
    "history.repair_fallback": _keys("reason", "seconds"),
    "history.repair_held": _keys("reason"),
    "history.repair_solving": _keys("reason"),
    "history.round": _keys("caregivers", "seconds"),
    # the page
    "history.title": _keys("request"),
    "history.link": _keys(),
    "history.zone": _keys("zone"),
    "history.none": _keys(),
    "history.candidates": _keys(),
    "history.excluded": _keys(),
    "history.back_board": _keys(),
    "history.back_elder": _keys(),
    "history.facts": _keys("service", "status", "priority", "area", "window"),
    **{f"history.answer.{a}": _keys() for a in OFFER_ANSWERS},
    **{f"history.visit.{v}": _keys() for v in VISIT_STEPS},
    **{f"history.role.{r}": _keys() for r in RECIPIENTS},
    **{f"history.channel.{c}": _keys() for c in CHANNELS},
    **{f"history.delivery.{d}": _keys() for d in DELIVERIES},
    **{f"history.notice.{k}": _keys() for k in NOTICE_KINDS},
}


@dataclass(frozen=True)
class Entry:
    """One decision or state change: ``kind`` is ``status``, ``decision``, ``offer``,
    ``offer_answer``, ``escalation``, ``visit``, ``operator``, ``repair`` (a planned day
    repaired, or given way to insertion) or ``notice``; ``data`` is the
    event's (or notice's) fields; ``at`` is when it happened (aware), ``None`` if unknown."""

    at: datetime | None
    kind: str
    data: Mapping[str, Any] = field(default_factory=dict)
    what: str = ""  # the offer's answer, the visit's step, the operator's action


def _when(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def _entry(event: Mapping[str, Any]) -> Entry | None:
    t, data, at = event.get("type", ""), event.get("data") or {}, _when(event.get("time"))
    if t == "care.request.status_changed":
        return Entry(at, "status", data)
    if t == "dispatch.decided":
        return Entry(at, "decision", data)
    if t == "dispatch.offer.created":
        return Entry(at, "offer", data)
    if t.startswith("dispatch.offer."):
        return Entry(at, "offer_answer", data, t.rsplit(".", 1)[-1])
    if t == "care.request.escalated":
        return Entry(at, "escalation", data)
    if t.startswith("care.visit."):
        return Entry(at, "visit", data, t.rsplit(".", 1)[-1])
    if t in OPERATOR_ACTIONS:
        return Entry(at, "operator", data, OPERATOR_ACTIONS[t])
    if t == "care.dispatch.repaired":
        return Entry(at, "repair", data, str(data.get("outcome") or ""))
    return None


def history(events: Iterable[Mapping[str, Any]], notices: Iterable[Mapping[str, Any]] = ()) -> list[Entry]:
    """Every entry of one request (see the module docstring), oldest first; events keep their
    log order, and a notice comes after the event of the same instant that caused it."""
    entries = [e for e in map(_entry, events) if e is not None]
    entries += [Entry(_when(n.get("created_at")), "notice", dict(n), str(n.get("kind") or "")) for n in notices]
    return sorted(entries, key=lambda e: (e.at is None, e.at.timestamp() if e.at else 0.0))


class Words(Protocol):
    """The words of one language and time zone: ``text`` a sentence of the catalogs
    (``history.*`` keys), ``term`` a domain word (``status``, ``step``, ``reason``, ``service``,
    ``role``, ``channel``, ``delivery``, ``outcome``), ``time`` a clock time (``HH:MM``)."""

    def text(self, key: str, **values: Any) -> str:
        """The catalog sentence ``key`` with its fields filled; raises
        ``handlers.channels.texts.MissingText`` for a key no catalog has."""

    def term(self, kind: str, value: str) -> str:
        """``value`` of the domain word ``kind`` in this language; a value without a translation
        comes back as it is, not as an error (an old log may hold a retired value). ``phone``
        values come back masked (no personal data in an explanation)."""

    def time(self, at: datetime | None) -> str:
        """``at`` (aware) as ``HH:MM`` in this time zone; a placeholder (``?``) for None."""


@dataclass(frozen=True)
class Told:
    """One entry in words: when, the headline, and detail lines (candidates, exclusions)."""

    at: str
    head: str
    details: tuple[str, ...] = ()
    excluded: tuple[tuple[str, str], ...] = ()  # (caregiver id, reason in words)


def _minutes(value: Any) -> str:
    return f"{float(value or 0):g}"


def _candidate(rank: int, c: Mapping[str, Any], w: Words) -> str:
    extra = []
    if c.get("lateness_minutes"):
        extra.append(w.text("history.late", minutes=_minutes(c["lateness_minutes"])))
    if c.get("sync_deviation_minutes"):
        extra.append(w.text("history.off_sync", minutes=_minutes(c["sync_deviation_minutes"])))
    return w.text(
        "history.candidate",
        rank=rank,
        caregiver=c.get("caregiver_id", "?"),
        start=w.time(_when(c.get("start"))),
        travel=_minutes(c.get("travel_added_minutes")),
        extra="".join(w.text("history.separator") + e for e in extra),
        cost=_minutes(c.get("cost")),
    )


def _decision(data: Mapping[str, Any], w: Words) -> tuple[str, tuple[str, ...], tuple[tuple[str, str], ...]]:
    candidates = data.get("candidates") or []
    lines = [_candidate(rank, c, w) for rank, c in enumerate(candidates[:SHOWN_CANDIDATES], 1)]
    if len(candidates) > SHOWN_CANDIDATES:
        lines.append(w.text("history.more", count=len(candidates) - SHOWN_CANDIDATES))
    if not candidates:
        lines.append(w.text("history.nobody"))
    excluded = tuple((cid, w.term("reason", why)) for cid, why in sorted((data.get("excluded") or {}).items()))
    return w.text("history.decided", policy=data.get("policy_version", "?")), tuple(lines), excluded


def _head(entry: Entry, w: Words) -> str:
    d = entry.data
    if entry.kind == "status":
        status = w.term("status", str(d.get("status")))
        if d.get("reason"):
            return w.text("history.status_reason", status=status, reason=w.term("reason", str(d["reason"])))
        return w.text("history.status", status=status)
    if entry.kind == "offer":
        return w.text(
            "history.offer",
            caregiver=d.get("caregiver_id", "?"),
            start=w.time(_when(d.get("planned_start"))),
            end=w.time(_when(d.get("planned_end"))),
            deadline=w.time(_when(d.get("expires_at"))),
        )
    if entry.kind == "offer_answer":
        answer = w.term("answer", entry.what)
        return w.text(
            "history.answer", offer=d.get("offer_id", "?"), caregiver=d.get("caregiver_id", "?"), answer=answer
        )
    if entry.kind == "escalation":
        return w.text(
            "history.escalated", step=w.term("step", str(d.get("step"))), reason=w.term("reason", str(d.get("reason")))
        )
    if entry.kind == "visit":
        head = w.text("history.visit", step=w.term("visit", entry.what), caregiver=d.get("caregiver_id", "?"))
        if d.get("lateness_minutes"):
            head += w.text("history.separator") + w.text("history.late", minutes=_minutes(d["lateness_minutes"]))
        return head
    if entry.kind == "operator":
        return w.text(
            f"history.operator.{entry.what}",
            operator=d.get("operator_id", "?"),
            caregiver=d.get("caregiver_id", "?"),
            outcome=w.term("outcome", str(d.get("code"))),
        )
    # a notice: to whom, how, and how far it got
    delivery = d.get("delivery") or d.get("status") or "?"
    return w.text(
        "history.notice",
        recipient=w.term("role", str(d.get("recipient_role"))),
        channel=w.term("channel", str(d.get("channel"))),
        phone=w.term("phone", str(d.get("to_phone") or "")),
        notice=w.term("notice", entry.what),
        delivery=w.term("delivery", str(delivery)),
    )


def _repair(data: Mapping[str, Any], w: Words) -> tuple[str, tuple[str, ...]]:
    """A repair's headline (how many caregivers, solver seconds, objective before/after) and one
    line per request it moved; or the reason it gave way to insertion."""
    outcome = data.get("outcome")
    reason = w.term("reason", str(data.get("reason") or "?"))
    if outcome == "held":
        return w.text("history.repair_held", reason=reason), ()
    if outcome == "solving":
        return w.text("history.repair_solving", reason=reason), ()
    if outcome not in ("repaired", "round"):
        return w.text("history.repair_fallback", reason=reason, seconds=_minutes(data.get("solver_seconds"))), ()
    head = (
        w.text("history.round", caregivers=data.get("caregivers", "?"), seconds=_minutes(data.get("solver_seconds")))
        if outcome == "round"
        else w.text(
            "history.repaired",
            caregivers=data.get("caregivers", "?"),
            seconds=_minutes(data.get("solver_seconds")),
            before=_minutes(data.get("objective_before")),
            after=_minutes(data.get("objective_after")),
        )
    )
    moves = tuple(
        w.text(
            "history.repaired.move",
            request=m.get("request_id", "?"),
            caregiver_before=m.get("caregiver_before") or "-",
            caregiver_after=m.get("caregiver_after") or "-",
            start_before=w.time(_when(m.get("start_before"))),
            start_after=w.time(_when(m.get("start_after"))),
        )
        for m in data.get("moved") or []
    )
    return head, moves


def describe(entry: Entry, words: Words) -> Told:
    """``entry`` in ``words`` (see ``Told``)."""
    if entry.kind == "decision":
        head, details, excluded = _decision(entry.data, words)
        return Told(words.time(entry.at), head, details, excluded)
    if entry.kind == "repair":
        head, details = _repair(entry.data, words)
        return Told(words.time(entry.at), head, details)
    return Told(words.time(entry.at), _head(entry, words))


def explain(events: Iterable[Mapping[str, Any]], words: Words, notices: Iterable[Mapping[str, Any]] = ()) -> list[str]:
    """Readable lines for one request's history, one per decision or state change with the
    decision's candidates and exclusions indented under it (``careline explain`` prints them)."""
    lines: list[str] = []
    for told in (describe(e, words) for e in history(events, notices)):
        lines.append(f"{told.at} {told.head}")
        lines += [f"  {line}" for line in told.details]
        lines += [f"  {words.text('history.not', caregiver=cid, reason=why)}" for cid, why in told.excluded]
    return lines
