"""An in-memory operator unit of work: ``InMemoryUnitOfWork`` plus emergency acknowledgements, EVV reviews and outcomes."""

from __future__ import annotations

from handlers.simulation.memory import InMemoryUnitOfWork


class _Acks(dict):
    def get(self, request_id):  # type: ignore[override]  # same signature as the repository
        return super().get(request_id)

    def add(self, ack) -> None:
        self[ack.request_id] = ack


class _EvvReviews(list):
    def for_visit(self, visit_id):
        return [r for r in self if r.visit_id == visit_id]

    def add(self, review) -> None:
        self.append(review)


class _Outcomes(dict):
    def get(self, request_id):  # type: ignore[override]  # same signature as the repository
        return super().get(request_id)

    def add(self, outcome) -> None:
        self[outcome.request_id] = outcome


class InMemoryOperatorUnitOfWork(InMemoryUnitOfWork):
    def __init__(self) -> None:
        super().__init__()
        self.acknowledgements = _Acks()
        self.evv_reviews = _EvvReviews()
        self.outcomes = _Outcomes()
