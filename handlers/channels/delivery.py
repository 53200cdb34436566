"""Order of Twilio delivery statuses, so a late callback never rewinds a final one.

Twilio sends status callbacks as separate HTTP requests that may arrive out of
order (Twilio docs, "Outbound Message Status in Status Callbacks": "the order
in which your application receives the status callbacks may not match the
order of the status changes"). Each status gets a rank along its lifecycle;
final states share the top rank, so once one is stored nothing replaces it.

Messages: accepted/scheduled -> queued -> sending -> sent -> delivered |
undelivered | failed | canceled | read (final). Calls: queued -> initiated ->
ringing -> in-progress -> completed | busy | no-answer | failed | canceled (final).
"""

from __future__ import annotations

FINAL = 100
_MESSAGE = {
    "accepted": 10,
    "scheduled": 10,
    "queued": 20,
    "sending": 30,
    "sent": 40,
    "receiving": 30,
    "received": FINAL,
    "delivered": FINAL,
    "undelivered": FINAL,
    "failed": FINAL,
    "canceled": FINAL,
    "read": FINAL,
    "partially_delivered": FINAL,
}
_CALL = {
    "queued": 10,
    "initiated": 20,
    "ringing": 30,
    "in-progress": 40,
    "completed": FINAL,
    "busy": FINAL,
    "no-answer": FINAL,
    "failed": FINAL,
    "canceled": FINAL,
}

#: Twilio error 21610: "Attempt to send to unsubscribed recipient" (the number replied STOP).
UNSUBSCRIBED_ERROR = "21610"


def status_rank(kind: str, status: str) -> int:
    """Rank of ``status`` for ``kind`` ``sms`` or ``call``; unknown statuses rank 0
    (stored only when nothing is known yet)."""
    return (_CALL if kind == "call" else _MESSAGE).get((status or "").lower(), 0)


def is_final(kind: str, status: str) -> bool:
    """True for a status that ends a message's or call's lifecycle (``kind`` ``sms`` or ``call``)."""
    return status_rank(kind, status) == FINAL


def unanswered(call_status: str) -> bool:
    """A call that ended without anyone picking up (busy, no-answer, failed, canceled)."""
    return (call_status or "").lower() in {"busy", "no-answer", "failed", "canceled"}
