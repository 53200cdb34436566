"""The domain's own speed on the bench's requests: the offline runner
(``handlers.simulation.offline.run_day``: the same message bus and use cases, the in-memory
unit of work, no broker, no database) playing whole days of the same service areas with the
same caregiver model, in this process, on one core.

``domain_ceiling_per_second`` is requests per wall second over the days it played. Every area
of a scale run is a copy of one UHHC day, so a sample of areas measures the same work as all
of them; the sample is at least ``min_requests`` requests (and at most every area).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from handlers.dispatch.scheduling import DispatchPolicy, MatrixTravelTimes
from handlers.simulation.caregiver_model import CaregiverModel
from handlers.simulation.offline import run_day
from tools.bench.workload import Workload


@dataclass(frozen=True)
class Ceiling:
    requests: int
    final: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def measure(workload: Workload, policy: DispatchPolicy, model: CaregiverModel, min_requests: int = 5000) -> Ceiling:
    """Play enough of the workload's days offline (whole days, each area's own run) and time it."""
    travel = MatrixTravelTimes(workload.instance.distances)
    known = {n.service_id for n in workload.instance.needs}
    requests = final = 0
    seconds = 0.0
    for day in workload.days:
        started = time.perf_counter()
        result = run_day(day, travel, policy, model, known)
        seconds += time.perf_counter() - started
        requests += len(day.submissions)
        final += sum(1 for r in result.uow.requests.values() if r.status.is_final)
        if requests >= min_requests:
            break
    return Ceiling(requests, final, seconds)
