"""An in-memory operator unit of work: ``InMemoryUnitOfWork`` plus emergency acknowledgements."""
from __future__ import annotations

from handlers.memory import InMemoryUnitOfWork


class _Acks(dict):
    def get(self, request_id):  # type: ignore[override]  # same signature as the repository
        return super().get(request_id)

    def add(self, ack) -> None:  # noqa: ANN001
        self[ack.request_id] = ack


class InMemoryOperatorUnitOfWork(InMemoryUnitOfWork):
    def __init__(self) -> None:
        super().__init__()
        self.acknowledgements = _Acks()
