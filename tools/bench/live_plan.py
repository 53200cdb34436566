"""``careline bench live-plan``: a live day plan on a synthetic register of the size issue 18
names (200 visits, 40 caregivers), through the same path as ``careline plan --date``
(``careline.day_plan.plan_area_day``: read from the database, build, solve, check, store).

The register is made up, seeded: caregivers and elders at points within about 3 km of
central Suzhou, rotas of three kinds (08:00-16:00; 08:00-12:00 and 13:00-17:00; 12:00-20:00),
four service types with the policy's skill hierarchy, windows of 60 to 120 minutes opening
between 08:00 and 17:30, visits of 30 to 60 minutes. It is written to a new SQLite file.
"""

from __future__ import annotations

import random
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Callable
from zoneinfo import ZoneInfo

from careline.day_plan import plan_area_day
from config.bootstrap import bootstrap
from config.settings import Settings
from db import tables
from db.locations import add_location
from db.migrate import upgrade
from db.session import session_factory
from handlers.model import Caregiver, CareRequest, Elder, Priority, ProviderOrganisation, RequestStatus
from handlers.register.records import Location

AREA = "bench-gusu"
ZONE = "Asia/Shanghai"
ROTAS = ("daily 08:00-16:00", "daily 08:00-12:00, 13:00-17:00", "daily 12:00-20:00")
SKILLS = ("housekeeping", "personal_care meal", "nurse", "housekeeping personal_care")
SERVICES = ("meal", "cleaning", "bathing", "companionship", "medical_escort")


def _point(rng: random.Random) -> Location:
    return Location(31.31 + rng.uniform(-0.03, 0.03), 120.62 + rng.uniform(-0.03, 0.03))


def build_register(url: str, visits: int, caregivers: int, day: date, seed: int) -> None:
    """The synthetic area, provider, caregivers and booked requests of ``day`` at ``url``."""
    rng = random.Random(seed)
    zone = ZoneInfo(ZONE)
    upgrade(url)
    with session_factory(url)() as s:
        s.execute(
            tables.service_areas.insert().values(
                service_area=AREA, name=AREA, travel_matrix=None, shift_end_hard=True, dispatch_mode="planned"
            )
        )
        s.add(ProviderOrganisation("bench.p", "P", AREA, " ".join(SERVICES)))
        s.flush()
        for i in range(caregivers):
            s.add(
                Caregiver(
                    f"bench.c{i:03d}", "bench.p", AREA, SKILLS[i % len(SKILLS)], add_location(s, _point(rng)),
                    None, None, rota=ROTAS[i % len(ROTAS)], time_zone=ZONE, travel_mode="e-bike",
                )
            )  # fmt: skip
        for i in range(visits):
            elder = f"bench.e{i:03d}"
            place = add_location(s, _point(rng))
            s.add(Elder(elder, AREA, place))
            s.flush()
            opens = datetime.combine(day, datetime.min.time(), tzinfo=zone) + timedelta(
                minutes=8 * 60 + 30 * rng.randrange(20)
            )
            s.add(
                CareRequest(
                    f"bench.r{i:03d}", elder, rng.choice(SERVICES), float(rng.choice((30, 45, 60))), opens,
                    opens + timedelta(minutes=rng.choice((60, 90, 120))), AREA, datetime.now(UTC),
                    Priority.ROUTINE, "operator", place, status=RequestStatus.REQUESTED,
                )
            )  # fmt: skip
        s.commit()


def main(visits: int, caregivers: int, time_limit: float, seed: int, print_line: Callable[[str], None] = print) -> int:
    """Build the register, plan it as ``careline plan --date`` does, print the result; exit status."""
    day = date(2027, 1, 4)
    with tempfile.TemporaryDirectory(prefix="careline-live-plan-") as folder:
        url = f"sqlite:///{Path(folder) / 'register.db'}"
        build_register(url, visits, caregivers, day, seed)
        runtime = bootstrap(Settings(database_url=url, programme_timezone=ZONE))
        began = time.monotonic()
        done = plan_area_day(runtime, AREA, day, time_limit, progress=print_line)
        wall = time.monotonic() - began
    planned_by = {v.caregiver_id for v in done.plan.values()}
    print_line(
        f"live plan, {visits} visits, {caregivers} caregivers ({len(done.day.instance.roster)} shifts), seed {seed}: "
        f"{len(done.plan)} planned for {len(planned_by)} caregivers, {len(done.unplanned)} left to online dispatch, "
        f"{len(done.day.left_out)} left out; travel {done.travel_minutes:.0f} min; "
        f"promises broken {len(done.problems)}; solver {done.solve_seconds:.1f} s of {time_limit:g}, "
        f"whole command {wall:.1f} s (read, build, solve, check, store)"
    )
    return 1 if done.problems else 0
