"""What the replay driver, the benchmarks and the fault lab read back about a
run: its requests, offers and visits (ids start with the run's id), provider
scores, and how far the outbox has come. Test rigs live in ``tools/``; their
SQL lives here like everyone's."""

from __future__ import annotations

from sqlalchemy import func, select, text
from sqlalchemy.engine import Row
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from config import topics
from db import tables
from db.session import engine_for
from handlers.model import CareRequest, Offer, RequestStatus, Visit, visit_id_for


def _like(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def run_records(session: Session, prefix: str) -> tuple[list[CareRequest], list[Offer], list[Visit]]:
    """The requests, offers and visits whose request id starts with ``prefix``."""
    like = _like(prefix)
    requests = list(
        session.scalars(select(CareRequest).where(tables.care_requests.c.request_id.like(like, escape="\\")))
    )
    offers = list(session.scalars(select(Offer).where(tables.offers.c.request_id.like(like, escape="\\"))))
    visits = list(session.scalars(select(Visit).where(tables.visits.c.request_id.like(like, escape="\\"))))
    return requests, offers, visits


def records_of(session: Session, request_ids: list[str]) -> tuple[list[CareRequest], list[Offer], list[Visit]]:
    """The requests ``request_ids``, with their offers and visits."""
    requests = list(session.scalars(select(CareRequest).where(tables.care_requests.c.request_id.in_(request_ids))))
    offers = list(session.scalars(select(Offer).where(tables.offers.c.request_id.in_(request_ids))))
    visits = list(session.scalars(select(Visit).where(tables.visits.c.request_id.in_(request_ids))))
    return requests, offers, visits


def provider_scores(session: Session, prefix: str) -> dict[str, float | None]:
    """provider id -> its current score (0..100, or None) for providers whose id starts with ``prefix``."""
    p = tables.provider_organisations.c
    rows = session.execute(select(p.provider_id, p.score).where(p.provider_id.like(_like(prefix), escape="\\")))
    return {provider_id: score for provider_id, score in rows}


def outbox_last_seq(database_url: str) -> int:
    """The outbox's highest sequence number (0 when empty)."""
    with engine_for(database_url).connect() as conn:
        return int(conn.execute(select(func.coalesce(func.max(tables.outbox.c.seq), 0))).scalar_one())


def outbox_after(session: Session, seq: int) -> list[Row]:
    """Outbox rows after ``seq``, in order (``seq``, ``topic``, ``key``, ``value``, ``sent_at``)."""
    return list(
        session.execute(select(tables.outbox).where(tables.outbox.c.seq > seq).order_by(tables.outbox.c.seq)).all()
    )


def short_code(
    session: Session, offer_id: str | None, request_id: str | None = None, caregiver_id: str | None = None
) -> str | None:
    """The code an SMS reply quotes: of offer ``offer_id``, or of the caregiver's accepted
    offer for ``request_id`` when no offer id is given."""
    o = tables.offers.c
    if offer_id:
        return session.scalar(select(o.short_code).where(o.offer_id == offer_id))
    return session.scalar(
        select(o.short_code).where(o.request_id == request_id, o.caregiver_id == caregiver_id, o.status == "accepted")
    )


def message_statuses(session: Session, sids: list[str]) -> dict[str, str]:
    """Twilio message SID -> the delivery status careline stored for it."""
    m = tables.message_status.c
    return {sid: status for sid, status in session.execute(select(m.sid, m.status).where(m.sid.in_(sids)))}


def unsent_outbox(session: Session, for_kafka_only: bool = False) -> int:
    """How many outbox rows are not yet marked sent (all, or only those for Kafka, not the timer service's)."""
    o = tables.outbox.c
    query = select(func.count()).select_from(tables.outbox).where(o.sent_at.is_(None))
    if for_kafka_only:
        query = query.where(o.topic != topics.SCHEDULER)
    return int(session.scalar(query) or 0)


def set_caregiver_phone(session: Session, caregiver_id: str, phone: str, language: str) -> None:
    """Give a caregiver a phone number and language (not committed)."""
    c = tables.caregivers.c
    session.execute(
        tables.caregivers.update().where(c.caregiver_id == caregiver_id).values(phone=phone, language=language)
    )


def set_family_phones(session: Session, elder_id: str, phones: list[str]) -> None:
    """The elder's family contacts' numbers (E.164), replacing any (not committed)."""
    e = tables.elders.c
    session.execute(tables.elders.update().where(e.elder_id == elder_id).values(family_phones=phones))


def run_and_extra_records(
    session: Session, prefix: str, extra: list[str], ids: list[str]
) -> tuple[list[CareRequest], list[Offer], list[Visit]]:
    """Requests whose id starts with ``prefix`` or is in ``extra``; offers and visits of ``ids``."""
    r = tables.care_requests.c
    requests = list(
        session.scalars(
            select(CareRequest).where(r.request_id.like(_like(prefix), escape="\\") | r.request_id.in_(extra))
        )
    )
    offers = list(session.scalars(select(Offer).where(tables.offers.c.request_id.in_(ids))))
    visits = list(session.scalars(select(Visit).where(tables.visits.c.request_id.in_(ids))))
    return requests, offers, visits


def statuses_reached(session: Session, request_ids: list[str]) -> dict[str, set[str]]:
    """request id -> every status its ``care.request.status_changed`` events name."""
    e = tables.event_log.c
    found: dict[str, set[str]] = {}
    for subject, payload in session.execute(
        select(e.subject, e.payload).where(e.type == "care.request.status_changed", e.subject.in_(request_ids))
    ):
        status = (payload.get("data") or {}).get("status")
        if isinstance(status, str):
            found.setdefault(subject, set()).add(status)
    return found


def intake_trail(session: Session, request_id: str) -> tuple[list[Row], bool]:
    """Where an intake's request got to in the database: its outbox rows (``topic``,
    ``sent_at``) and whether its validated event was claimed."""
    o, pe = tables.outbox.c, tables.processed_events.c
    rows = list(
        session.execute(select(o.topic, o.sent_at).where(o.event_id.in_([request_id, f"validated:{request_id}"]))).all()
    )
    claimed = session.scalar(select(pe.event_id).where(pe.event_id == f"validated:{request_id}")) is not None
    return rows, claimed


def enable_statement_counts(database_url: str) -> None:
    """``CREATE EXTENSION pg_stat_statements`` (the server must preload it; benches start theirs so)."""
    with engine_for(database_url).begin() as conn:
        conn.execute(text("create extension if not exists pg_stat_statements"))


def statement_counts(database_url: str) -> tuple[int, int] | None:
    """(statements executed, transactions committed) in the database so far, from
    ``pg_stat_statements`` and ``pg_stat_database``; None where they are not available."""
    if not database_url.startswith("postgresql"):
        return None
    try:
        with engine_for(database_url).connect() as conn:
            calls = conn.execute(text("select coalesce(sum(calls), 0) from pg_stat_statements")).scalar_one()
            commits = conn.execute(
                text("select xact_commit from pg_stat_database where datname = current_database()")
            ).scalar_one()
    except DBAPIError:
        return None
    return int(calls), int(commits)


def process_role_url(database_url: str, process: str) -> str:
    """``database_url`` logging in as a role of its own for ``process`` (``worker-1`` ->
    ``bench_worker_1``, created as a superuser if missing), so that ``pg_stat_statements``, which
    counts per role, tells the processes apart (``statements_by_role``). For a bench's own
    throwaway cluster only: it creates roles."""
    role = "bench_" + "".join(c if c.isalnum() else "_" for c in process.lower())
    with engine_for(database_url).begin() as conn:
        if conn.execute(text("select 1 from pg_roles where rolname = :r"), {"r": role}).first() is None:
            conn.execute(text(f'create role "{role}" login superuser'))
    head, _, tail = database_url.partition("://")
    _, at, host = tail.rpartition("@")
    return f"{head}://{role}@{host}" if at else f"{head}://{role}@{tail}"


def reset_statement_counts(database_url: str) -> None:
    """Forget what ``pg_stat_statements`` counted so far (``pg_stat_database`` keeps its counts)."""
    with engine_for(database_url).begin() as conn:
        conn.execute(text("select pg_stat_statements_reset()"))


def statements_by_role(database_url: str, top: int = 12) -> dict[str, dict]:
    """Role -> ``{"statements", "commits", "rollbacks", "exec_ms", "top": [(calls, ms, query)]}`` from
    ``pg_stat_statements`` since its last reset: every statement each role ran (BEGIN, COMMIT
    and ROLLBACK count as statements, as they do in ``statement_counts``), its transactions
    (COMMIT and ROLLBACK calls) and its ``top`` statements by calls; {} where not available."""
    if not database_url.startswith("postgresql"):
        return {}
    try:
        with engine_for(database_url).connect() as conn:
            rows = conn.execute(
                text(
                    "select r.rolname, s.query, s.calls, s.total_exec_time from pg_stat_statements s "
                    "join pg_roles r on r.oid = s.userid"
                )
            ).all()
    except DBAPIError:
        return {}
    out: dict[str, dict] = {}
    for role, query, calls, ms in rows:
        entry = out.setdefault(role, {"statements": 0, "commits": 0, "rollbacks": 0, "exec_ms": 0.0, "top": []})
        entry["statements"] += int(calls)
        entry["exec_ms"] += float(ms)
        word = query.strip().upper()
        if word == "COMMIT":
            entry["commits"] += int(calls)
        elif word == "ROLLBACK":
            entry["rollbacks"] += int(calls)
        entry["top"].append((int(calls), round(float(ms), 1), " ".join(query.split())[:160]))
    for entry in out.values():
        entry["exec_ms"] = round(entry["exec_ms"], 1)
        entry["top"] = sorted(entry["top"], reverse=True)[:top]
    return out


def booking_order(session: Session, prefix: str) -> tuple[dict[str, int], dict[str, int]]:
    """For the visits of requests whose id starts with ``prefix``: (visit id -> outbox sequence
    number of its offer's creation, visit id -> that of the event that freed its planned slot: a
    check-in before the planned start, or the completion), the order the workers did things in
    (event times can disagree with it when a record waits behind others)."""
    o = tables.outbox.c
    booked: dict[str, int] = {}
    freed: dict[str, int] = {}
    rows = session.execute(
        select(o.seq, o.value).where(
            o.key.like(_like(prefix), escape="\\"), o.topic.in_([topics.OFFERS.name, topics.LIFECYCLE.name])
        )
    )
    for seq, value in rows:
        kind, data = value.get("type"), value.get("data") or {}
        if kind == "dispatch.offer.created" and data.get("offer_id"):
            booked.setdefault(visit_id_for(data["offer_id"]), seq)
        elif kind == "care.visit.checked_in" and data.get("visit_id") and _early(data):
            freed.setdefault(data["visit_id"], seq)
        elif kind == "care.visit.completed" and data.get("visit_id"):
            freed.setdefault(data["visit_id"], seq)
    return booked, freed


def _early(data: dict) -> bool:
    """A check-in before the visit's planned start: from then on the visit holds its caregiver
    from the check-in for its duration (``Visit.expected_end``), not in its planned slot."""
    return str(data.get("check_in_at") or "") < str(data.get("planned_start") or "")


def request_traces(session: Session, request_ids: list[str]) -> dict[str, str]:
    """request id -> one line saying how far it came: whether intake accepted it (its claim),
    whether the validated request left the outbox and dispatch took it (its claim), its stored
    status and reason, and its events in order, each marked ``(unsent)`` while the outbox still
    holds it. For a benchmark to explain a request it saw no decision for."""
    r, e, o, p = tables.care_requests.c, tables.event_log.c, tables.outbox.c, tables.processed_events.c
    keys = [f"{kind}:{rid}" for rid in request_ids for kind in ("intake", "validated")]
    claimed = set(session.scalars(select(p.event_id).where(p.event_id.in_(keys))))
    relayed = {
        event_id: sent_at
        for event_id, sent_at in session.execute(
            select(o.event_id, o.sent_at).where(o.event_id.in_([f"validated:{rid}" for rid in request_ids]))
        )
    }
    stored = {
        row.request_id: row
        for row in session.execute(select(r.request_id, r.status, r.status_reason).where(r.request_id.in_(request_ids)))
    }
    events: dict[str, list[str]] = {rid: [] for rid in request_ids}
    rows = session.execute(
        select(e.subject, e.type, o.sent_at, o.seq)
        .select_from(tables.event_log.outerjoin(tables.outbox, o.event_id == e.event_id))
        .where(e.subject.in_(request_ids))
        .order_by(e.seq)
    )
    for subject, kind, sent_at, seq in rows:
        events[subject].append(kind + (" (unsent)" if seq is not None and sent_at is None else ""))
    lines = {}
    for rid in request_ids:
        validated = f"validated:{rid}"
        steps = [
            "intake claimed" if f"intake:{rid}" in claimed else "no intake claim",
            "not in the outbox"
            if validated not in relayed
            else ("validated sent" if relayed[validated] else "validated unsent"),
            "dispatch claimed" if validated in claimed else "no dispatch claim",
        ]
        row = stored.get(rid)
        if row is None:
            steps.append("not stored")
        else:
            steps.append(f"status {row.status.value}" + (f" ({row.status_reason})" if row.status_reason else ""))
        lines[rid] = f"{'; '.join(steps)}; events: {', '.join(events[rid]) or 'none'}"
    return lines


#: statuses that decide a request without an offer (a benchmark's "first decision"): held for an
#: operator or final. The bench reads them from the topics (``tools.bench.stack.Watcher``) and
#: from the database (``decisions_of``) by this one list.
DECIDED_WITHOUT_OFFER = frozenset(s.value for s in RequestStatus if s.is_final or s == RequestStatus.ON_HOLD)


def decisions_of(session: Session, request_ids: list[str]) -> dict[str, str]:
    """request id -> its first decision as the database holds it: ``offer`` when it has an
    offer, else its status when held or final (``on-hold``, ``failed`` …); requests without
    either are left out. A benchmark's check on what the topics told it."""
    held = [RequestStatus(s) for s in DECIDED_WITHOUT_OFFER]
    offered = set(
        session.scalars(select(tables.offers.c.request_id).where(tables.offers.c.request_id.in_(request_ids)))
    )
    r = tables.care_requests.c
    decided = {rid: "offer" for rid in offered}
    for rid, status in session.execute(
        select(r.request_id, r.status).where(r.request_id.in_(request_ids), r.status.in_(held))
    ):
        decided.setdefault(rid, status.value)
    return decided
