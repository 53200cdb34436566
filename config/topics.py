"""Every Kafka topic of careline, in one place: name, partitions, configs,
what the key is and what the value is.

Names are dotted, lower case and versioned. The dispatch inputs (requests,
caregiver events, timer firings) are keyed by service area and have the same
partition count, so one area's events meet on one partition of each and one
worker sees a consistent view of that area's caregivers. A request's history
(lifecycle, offers) is keyed by request id so it stays in order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DAY_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class TopicSpec:
    name: str
    key: str
    value: str
    partitions: int | None = None  # None: the configured default
    configs: dict[str, str] = field(default_factory=dict)


INTAKE = TopicSpec("care.intake.v1", "intake id", "raw intake record (handlers.channels.intake)")
INTAKE_DLQ = TopicSpec(
    "care.intake.dlq.v1", "intake id", "dead letter: record + reason", configs={"retention.ms": str(30 * DAY_MS)}
)
REQUESTS = TopicSpec("care.requests.v1", "service area", "validated care request")
CAREGIVER_EVENTS = TopicSpec(
    "caregiver.events.v1", "service area", "caregiver reply or visit event (accept, decline, check-in, check-out)"
)
TIMERS = TopicSpec(
    "care.timers.v1",
    "service area",
    "a deadline that fired (offer expiry …), or a search's answer (dispatch.repair.solved, dispatch.round.solved)",
)
DISPATCH_DLQ = TopicSpec(
    "dispatch.dlq.v1", "service area", "dead letter: event + reason", configs={"retention.ms": str(30 * DAY_MS)}
)
REPAIRS = TopicSpec(
    "dispatch.repairs.v1",
    "service area",
    "a planned day's repair to search beside the worker (handlers.dispatch.repair)",
)
ROUNDS = TopicSpec(
    "dispatch.rounds.v1",
    "service area",
    "a confirmation round's re-plan to search beside the worker (handlers.dispatch.rounds); apart from "
    "the repairs, so that a day-of repair never waits behind the evening's rounds",
)
OFFERS = TopicSpec("dispatch.offers.v1", "request id", "offer created / accepted / closed")
LIFECYCLE = TopicSpec("care.lifecycle.v1", "request id", "request status, decisions, visit events")
FEEDBACK = TopicSpec("care.feedback.v1", "request id", "rating or complaint")
SCORES = TopicSpec("provider.scores.v1", "provider id", "latest provider score", configs={"cleanup.policy": "compact"})

REGISTER = TopicSpec(
    "care.register.v1",
    "elder, caregiver, provider or device id",
    "a register change: which fields changed (names only), by whom, through what (handlers.register.changes)",
)
KPI_TALLIES = TopicSpec(
    "kpi.tallies.v1",
    "provider:<id> or caregiver:<id>",
    "what one event adds to a subject's KPI counters (handlers.evaluation.live_kpis)",
)
#: Faust's leader election (``on_leader`` timers), named by Faust after the app id. Created with
#: the others: Apache Kafka here does not auto-create it and Tansu auto-creates it with 4
#: partitions, and a worker met it missing at every metadata refresh (every 5 minutes).
FAUST_LEADER = TopicSpec("careline-__assignor-__leader", "none", "Faust leader election (internal)", partitions=1)

ALL = (
    INTAKE,
    INTAKE_DLQ,
    REQUESTS,
    CAREGIVER_EVENTS,
    TIMERS,
    DISPATCH_DLQ,
    REPAIRS,
    ROUNDS,
    OFFERS,
    LIFECYCLE,
    FEEDBACK,
    SCORES,
    KPI_TALLIES,
    REGISTER,
    FAUST_LEADER,
)

#: Where an event emitted by a handler goes, by its ``topic_role``.
BY_ROLE = {
    "lifecycle": LIFECYCLE,
    "offers": OFFERS,
    "requests": REQUESTS,
    "timers": TIMERS,
    "repairs": REPAIRS,
    "rounds": ROUNDS,
    "caregiver": CAREGIVER_EVENTS,
    "feedback": FEEDBACK,
    "register": REGISTER,
}

#: Outbox rows with this topic are deadlines for the scheduler, not Kafka records.
SCHEDULER = "scheduler"


@dataclass(frozen=True)
class ResolvedTopic:
    name: str
    partitions: int
    configs: dict[str, str]


def resolved(default_partitions: int) -> list[ResolvedTopic]:
    """Topic specs with the partition default filled in (for the admin client)."""
    return [ResolvedTopic(t.name, t.partitions or default_partitions, dict(t.configs)) for t in ALL]
